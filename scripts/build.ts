/**
 * Build the single `eddy` executable with `Bun.build({ compile })` (minified,
 * with bytecode). Through the API, not the `bun build` CLI: the mirror's Kafka
 * client needs bridges/mirror/build-plugin.ts, or the binary dies at start with
 * ENOENT /$bunfs/dist/native.wasm.
 *
 *   bun run build                       # dist/eddy (linux-x64) and dist/eddy-linux-arm64
 *   bun scripts/build.ts --target x64   # only one target (x64 | arm64 | all)
 *   bun scripts/build.ts --target x64 --outfile /tmp/eddy   # somewhere else (one target)
 *
 * The version comes from package.json (src/version.ts imports it; the bundle
 * inlines it). A target that is not this machine's needs Bun's runtime for
 * that platform: for a pinned build it is fetched with `npm pack
 * @oven/bun-linux-<arch>@<pinned version>` into node_modules/.cache and passed
 * as the compile executablePath (see ../shared/BUN-NOTES.md).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { embedPlatformaticWasm } from "../bridges/mirror/build-plugin.ts";

const root = path.join(import.meta.dir, "..");
const ENTRY = "src/main.ts";
/** Worker files must be extra entry points of the compiled binary (BUN-NOTES). None yet. */
const EXTRA_ENTRIES: string[] = [];

interface Target {
  name: "x64" | "arm64";
  bunTarget: string;
  nodeArch: string;
  /** npm package with Bun's runtime for this platform. */
  runtimePackage: string;
  outfile: string;
}

const TARGETS: Target[] = [
  {
    name: "x64",
    bunTarget: "bun-linux-x64",
    nodeArch: "x64",
    runtimePackage: "@oven/bun-linux-x64",
    outfile: "dist/eddy",
  },
  {
    name: "arm64",
    bunTarget: "bun-linux-arm64",
    nodeArch: "arm64",
    runtimePackage: "@oven/bun-linux-aarch64",
    outfile: "dist/eddy-linux-arm64",
  },
];

const { values } = parseArgs({
  options: { target: { type: "string", default: "all" }, outfile: { type: "string" } },
});
const wanted = values.target === "all" ? TARGETS : TARGETS.filter((t) => t.name === values.target);
if (wanted.length === 0) {
  console.error(`build: unknown --target '${values.target}' (x64, arm64 or all)`);
  process.exit(2);
}
if (values.outfile !== undefined) {
  if (wanted.length !== 1) {
    console.error("build: --outfile needs one --target (x64 or arm64)");
    process.exit(2);
  }
  wanted[0] = { ...wanted[0]!, outfile: path.resolve(values.outfile) };
}

const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  version: string;
  dependencies?: Record<string, string>;
};
const pinnedBun = pkg.dependencies?.bun ?? Bun.version;
if (Bun.version !== pinnedBun) {
  console.warn(
    `build: warning: running Bun ${Bun.version}, package.json pins ${pinnedBun}; use ./node_modules/.bin/bun`,
  );
}

function run(cmd: string, args: string[], cwd = root): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
  return r.stdout;
}

/** Path to Bun's runtime binary for `target`, fetched from the npm registry once and cached. */
function runtimeFor(target: Target): string | null {
  if (process.platform === "linux" && process.arch === target.nodeArch && Bun.version === pinnedBun)
    return null;
  const cache = path.join(root, "node_modules", ".cache", "eddy-bun-runtimes", `${target.name}-${pinnedBun}`);
  const bin = path.join(cache, "package", "bin", "bun");
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(cache, { recursive: true });
  console.log(`build: fetching ${target.runtimePackage}@${pinnedBun} (Bun's ${target.name} runtime)`);
  const tarball = run("npm", ["pack", "--silent", `${target.runtimePackage}@${pinnedBun}`], cache)
    .trim()
    .split("\n")
    .pop();
  if (!tarball) throw new Error(`npm pack ${target.runtimePackage}@${pinnedBun} printed no file name`);
  run("tar", ["-xzf", tarball], cache);
  fs.rmSync(path.join(cache, tarball), { force: true });
  if (!fs.existsSync(bin)) throw new Error(`${target.runtimePackage}@${pinnedBun} has no package/bin/bun`);
  fs.chmodSync(bin, 0o755);
  return bin;
}

/** Bun.build (not the `bun build` CLI): @platformatic/kafka needs the plugin (bridges/mirror/build-plugin.ts). */
async function build(target: Target): Promise<number> {
  const outfile = path.resolve(root, target.outfile);
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  const runtime = runtimeFor(target);
  const started = performance.now();
  const result = await Bun.build({
    entrypoints: [path.join(root, ENTRY), ...EXTRA_ENTRIES.map((e) => path.join(root, e))],
    compile: {
      target: target.bunTarget as Bun.Build.CompileTarget,
      outfile,
      ...(runtime ? { executablePath: runtime } : {}),
    },
    minify: true,
    bytecode: true,
    format: "esm",
    plugins: [embedPlatformaticWasm],
  });
  if (!result.success) throw new Error(`bun build failed:\n${result.logs.map(String).join("\n")}`);
  const size = fs.statSync(outfile).size;
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `build: ${target.outfile} (${target.bunTarget}, eddy ${pkg.version}): ${(size / 1024 / 1024).toFixed(1)} MiB in ${secs} s`,
  );
  return size;
}

try {
  for (const target of wanted) await build(target);
} catch (err) {
  console.error(`build: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
