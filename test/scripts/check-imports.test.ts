import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkImports, scanImports } from "../../scripts/check-imports.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Write a fixture tree: { "src/log/a.ts": "source" } under a fresh temp dir. */
function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-imports-"));
  dirs.push(root);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const violationsOf = (files: Record<string, string>) =>
  checkImports(tree(files)).violations.map((v) => `${v.file}:${v.line} ${v.specifier}`);

describe("scanImports", () => {
  it("finds static, re-export, side-effect, dynamic and require imports with their lines", () => {
    const src = [
      'import a from "./a.ts";',
      "import {",
      "  b,",
      '} from "./b.ts";',
      'import type { C } from "./c.ts";',
      'import { type D, type E } from "./d.ts";',
      'export * from "./e.ts";',
      'export { f } from "./f.ts";',
      'import "./g.ts";',
      'const h = await import("./h.ts");',
      'const i = require("./i.ts");',
      'import * as j from "j-pkg";',
    ].join("\n");
    const refs = scanImports(src);
    expect(refs.map((r) => [r.specifier, r.line, r.typeOnly])).toEqual([
      ["./a.ts", 1, false],
      ["./b.ts", 2, false],
      ["./c.ts", 5, true],
      ["./d.ts", 6, true],
      ["./e.ts", 7, false],
      ["./f.ts", 8, false],
      ["./g.ts", 9, false],
      ["./h.ts", 10, false],
      ["./i.ts", 11, false],
      ["j-pkg", 12, false],
    ]);
  });

  it("ignores imports inside comments, strings and regex literals", () => {
    const src = [
      '// import x from "./commented.ts";',
      '/* import y from "./block.ts"; */',
      "const s = \"import z from './string.ts'\";",
      "const r = /[\"']/g;",
      'const t = `import w from "./template.ts"`;',
      'import real from "./real.ts";',
    ].join("\n");
    expect(scanImports(src).map((r) => r.specifier)).toEqual(["./real.ts"]);
  });

  it("treats a mixed value/type clause as a value import", () => {
    expect(scanImports('import { type A, b } from "./x.ts";')[0]?.typeOnly).toBe(false);
  });
});

describe("checkImports", () => {
  it("accepts a tree that follows every rule", () => {
    const ok = violationsOf({
      "src/util/clock.ts": 'import { x } from "../errors.ts";',
      "src/errors.ts": "export const x = 1;",
      "src/observability/logger.ts": 'import { c } from "../util/clock.ts";',
      "src/log/file-log.ts": 'import { c } from "../util/clock.ts";\nimport { t } from "./types.ts";',
      "src/log/types.ts": "export type T = number;",
      "src/metadata/store.ts":
        'import type { T } from "../log/types.ts";\nimport { drizzle } from "drizzle-orm";',
      "src/broker/index.ts":
        'import { f } from "../log/file-log.ts";\nimport { s } from "../metadata/store.ts";',
      "src/config/load.ts": 'import { x } from "../errors.ts";\nimport { z } from "zod";',
      "src/http/app.ts":
        'import { b } from "../broker/index.ts";\nimport { c } from "../config/load.ts";\nimport { Hono } from "hono";',
      "src/cli/index.ts": 'import { b } from "../broker/index.ts";\nimport { h } from "./helpers.ts";',
      "bridges/mqtt/index.ts":
        'import { b } from "../../src/broker/index.ts";\nimport { l } from "../../src/observability/logger.ts";',
      "src/main.ts": 'import { m } from "../bridges/mqtt/index.ts";\nimport { f } from "./log/file-log.ts";',
      "src/version.ts": 'import pkg from "../package.json" with { type: "json" };',
    });
    expect(ok).toEqual([]);
  });

  it("reports each violation with file and line", () => {
    const bad = violationsOf({
      "src/util/a.ts": '\nimport { b } from "../broker/index.ts";',
      "src/log/seg.ts": 'import { m } from "../metadata/store.ts";\nimport { z } from "zod";',
      "src/metadata/store.ts":
        'import { T } from "../log/types.ts";\nimport { f } from "../log/file-log.ts";',
      "src/broker/index.ts": 'import { h } from "../http/app.ts";',
      "src/http/app.ts": 'import { t } from "../broker/topics.ts";\nimport { f } from "../log/file-log.ts";',
      "src/cli/index.ts": 'import { h } from "../http/app.ts";\nimport { db } from "bun:sqlite";',
      "src/config/load.ts": 'import { b } from "../broker/index.ts";',
      "bridges/mqtt/index.ts":
        'import { c } from "../coap/index.ts";\nimport { t } from "../../src/broker/types.ts";',
      "bridges/coap/index.ts": "export const c = 1;",
      "src/kafka/server.ts": 'import { m } from "../../bridges/mqtt/index.ts";',
      "src/stray.ts": 'import { x } from "./errors.ts";',
      "src/errors.ts": "export const x = 1;",
    });
    expect(bad.sort()).toEqual(
      [
        "src/util/a.ts:2 ../broker/index.ts",
        "src/log/seg.ts:1 ../metadata/store.ts",
        "src/log/seg.ts:2 zod",
        "src/metadata/store.ts:1 ../log/types.ts",
        "src/metadata/store.ts:2 ../log/file-log.ts",
        "src/broker/index.ts:1 ../http/app.ts",
        "src/http/app.ts:1 ../broker/topics.ts",
        "src/http/app.ts:2 ../log/file-log.ts",
        "src/cli/index.ts:1 ../http/app.ts",
        "src/cli/index.ts:2 bun:sqlite",
        "src/config/load.ts:1 ../broker/index.ts",
        "bridges/mqtt/index.ts:1 ../coap/index.ts",
        "bridges/mqtt/index.ts:2 ../../src/broker/types.ts",
        "src/kafka/server.ts:1 ../../bridges/mqtt/index.ts",
        "src/stray.ts:1 ./errors.ts",
      ].sort(),
    );
  });

  it("exits 1 and prints file:line for a violating tree, 0 for a clean one", () => {
    const script = path.join(import.meta.dir, "../../scripts/check-imports.ts");
    const badRoot = tree({ "src/log/a.ts": 'import { b } from "../broker/index.ts";' });
    const bad = Bun.spawnSync([process.execPath, script, "--root", badRoot]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain("src/log/a.ts:1:");
    const goodRoot = tree({ "src/log/a.ts": 'import { c } from "../util/clock.ts";' });
    const good = Bun.spawnSync([process.execPath, script, "--root", goodRoot]);
    expect(good.exitCode).toBe(0);
    expect(good.stdout.toString()).toContain("no violations");
  });
});
