#!/usr/bin/env node
/**
 * Make `npm start` and `npm test` work on a fresh machine that has only
 * Node.js and npm: install node_modules (Bun itself comes from the npm
 * package `bun`, pinned in package.json) when they are missing or do not
 * match package.json. Cheap when everything is in place: it only reads a few
 * package.json files.
 *
 *   node scripts/bootstrap.mjs [--quiet]
 *
 * No dependencies: this runs before anything is installed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const quiet = process.argv.includes("--quiet");
const log = (msg) => {
  if (!quiet) process.stderr.write(`bootstrap: ${msg}\n`);
};

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/** Why node_modules needs an install, or null when it matches package.json. */
function staleReason() {
  const pkg = readJson(path.join(root, "package.json"));
  if (!pkg) throw new Error(`cannot read ${path.join(root, "package.json")}`);
  if (!fs.existsSync(path.join(root, "node_modules"))) return "node_modules is missing";
  const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const [name, range] of Object.entries(wanted)) {
    const installed = readJson(path.join(root, "node_modules", name, "package.json"));
    if (!installed) return `${name} is not installed`;
    // package.json pins exact versions; anything else is accepted as installed.
    if (/^\d+\.\d+\.\d+/.test(range) && installed.version !== range) {
      return `${name} is ${installed.version}, package.json wants ${range}`;
    }
  }
  const bunVersion = pkg.dependencies?.bun ?? pkg.devDependencies?.bun;
  const bun = path.join(root, "node_modules", ".bin", process.platform === "win32" ? "bun.exe" : "bun");
  if (!fs.existsSync(bun)) return "node_modules/.bin/bun is missing";
  if (bunVersion) {
    const r = spawnSync(bun, ["--version"], { encoding: "utf8" });
    const got = (r.stdout ?? "").trim();
    if (r.status !== 0 || got !== bunVersion)
      return `node_modules/.bin/bun reports '${got || r.error?.message}', want ${bunVersion}`;
  }
  return null;
}

function install(reason) {
  const hasLock = fs.existsSync(path.join(root, "package-lock.json"));
  const args = hasLock ? ["ci"] : ["install"];
  args.push("--no-audit", "--no-fund");
  log(`${reason}; running npm ${args.join(" ")}`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  execFileSync(npm, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
}

try {
  const reason = staleReason();
  if (reason) {
    install(reason);
    const still = staleReason();
    if (still) throw new Error(`after installing, ${still}`);
    log("dependencies installed");
  }
} catch (err) {
  process.stderr.write(`bootstrap: ${err instanceof Error ? err.message : String(err)}\n`);
  process.stderr.write(
    "bootstrap: fix the problem above (network to the npm registry? disk space?) and run again\n",
  );
  process.exit(1);
}
