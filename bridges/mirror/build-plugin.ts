/**
 * Bun build plugin that makes @platformatic/kafka work inside
 * `bun build --compile`: its helper @platformatic/wasm-utils reads
 * `native.wasm` (CRC-32C, snappy, lz4) from beside its own file at import
 * time, a path that does not exist in the compiled binary's $bunfs. The
 * plugin embeds the file (`with { type: "file" }`) and reads it from there.
 *
 * The `bun build` CLI takes no plugins: scripts/build.ts must build through
 * `Bun.build({ compile: {...}, plugins: [embedPlatformaticWasm] })`.
 * Without it the binary dies at start with ENOENT '/$bunfs/dist/native.wasm'.
 */
import path from "node:path";
import type { BunPlugin } from "bun";

const NEEDLE = "readFileSync(new URL('../dist/native.wasm', import.meta.url))";

export const embedPlatformaticWasm: BunPlugin = {
  name: "embed-platformatic-wasm",
  setup(build) {
    build.onLoad({ filter: /@platformatic[\\/]wasm-utils[\\/]dist[\\/]index\.js$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      if (!source.includes(NEEDLE)) {
        throw new Error(
          `@platformatic/wasm-utils changed how it loads native.wasm (${args.path}): update bridges/mirror/build-plugin.ts`,
        );
      }
      const wasm = path.join(path.dirname(args.path), "native.wasm");
      const patched = source.replace(NEEDLE, "readFileSync(__eddyNativeWasm)");
      return {
        contents: `import __eddyNativeWasm from ${JSON.stringify(wasm)} with { type: "file" };\n${patched}`,
        loader: "js",
      };
    });
  },
};
