/**
 * Enforce DESIGN.md's import direction. Reads every .ts file under src/ and
 * bridges/, finds its imports (static, re-exports, dynamic, require), and
 * lists each import that breaks a rule as `file:line: reason`; exit 1 if any.
 *
 *   bun scripts/check-imports.ts [--root DIR]
 *
 * Layers (may import):
 *   leaves    src/util, src/errors.ts, src/observability, src/version.ts → leaves
 *   log       src/log → leaves
 *   metadata  src/metadata → leaves, and type-only src/log/types.ts
 *   broker    src/broker (+ src/groups, src/txn, src/cluster) → each other, log, metadata, leaves
 *   config    src/config → leaves
 *   frontend  src/http, src/cli, src/kafka, src/replication → src/broker/index.ts, src/config, leaves, own folder
 *   bridge    bridges/<x> → src/broker/index.ts, leaves, own bridge (never another bridge)
 *   main      src/main.ts and src/main/* → anything (the composition root; the only importers of bridges)
 * Packages: drizzle-orm and bun:sqlite only in src/metadata; hono only in src/http;
 * src/log and leaves import no zod, hono, drizzle or mqtt-packet.
 */
import fs from "node:fs";
import path from "node:path";

export interface ImportRef {
  specifier: string;
  line: number;
  typeOnly: boolean;
}

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  reason: string;
}

type Layer =
  | { kind: "leaf" | "log" | "metadata" | "broker" | "config" | "main" }
  | { kind: "frontend" | "bridge"; name: string }
  | { kind: "none" };

const LEAF_DIRS = ["src/util/", "src/observability/"];
const LEAF_FILES = ["src/errors.ts", "src/version.ts"];
const BROKER_DIRS = ["src/broker/", "src/groups/", "src/txn/", "src/cluster/"];
const FRONTENDS = ["http", "cli", "kafka", "replication"];

/** Which layer a repository-relative path (with forward slashes) belongs to. */
export function layerOf(rel: string): Layer {
  if (LEAF_FILES.includes(rel) || LEAF_DIRS.some((d) => rel.startsWith(d))) return { kind: "leaf" };
  if (rel.startsWith("src/log/")) return { kind: "log" };
  if (rel.startsWith("src/metadata/")) return { kind: "metadata" };
  if (BROKER_DIRS.some((d) => rel.startsWith(d))) return { kind: "broker" };
  if (rel.startsWith("src/config/")) return { kind: "config" };
  if (rel === "src/main.ts" || rel.startsWith("src/main/")) return { kind: "main" };
  const fe = /^src\/([^/]+)\//.exec(rel);
  if (fe && FRONTENDS.includes(fe[1]!)) return { kind: "frontend", name: fe[1]! };
  const br = /^bridges\/([^/]+)\//.exec(rel);
  if (br) return { kind: "bridge", name: br[1]! };
  return { kind: "none" };
}

/** Why `from` may not import project file `to` (both repository-relative), or null if allowed. */
export function ruleFor(from: string, to: string, typeOnly: boolean): string | null {
  const a = layerOf(from);
  const b = layerOf(to);
  if (!to.startsWith("src/") && !to.startsWith("bridges/")) {
    if (to === "package.json" && a.kind === "leaf") return null;
    return `${from.startsWith("bridges/") ? "bridges" : "src"} must not import ${to} (outside src/ and bridges/)`;
  }
  if (b.kind === "bridge" && a.kind !== "main" && !(a.kind === "bridge" && a.name === b.name)) {
    return a.kind === "bridge"
      ? "a bridge never imports another bridge"
      : "only the composition root (src/main.ts, src/main/) may import bridges";
  }
  const isLeaf = b.kind === "leaf";
  const brokerIndex = to === "src/broker/index.ts";
  switch (a.kind) {
    case "main":
      return null;
    case "leaf":
    case "log":
    case "config":
      if (isLeaf || b.kind === a.kind) return null;
      return `${label(a)} may import only leaves (src/util, src/errors.ts, src/observability)${a.kind === "leaf" ? "" : " and its own folder"}`;
    case "metadata":
      if (isLeaf || b.kind === "metadata") return null;
      if (to === "src/log/types.ts" && typeOnly) return null;
      return to === "src/log/types.ts"
        ? "src/metadata may import src/log/types.ts only with `import type`"
        : "src/metadata may import only leaves and (type-only) src/log/types.ts";
    case "broker":
      if (isLeaf || b.kind === "broker" || b.kind === "log" || b.kind === "metadata") return null;
      return "src/broker may import only src/log, src/metadata, src/groups, src/txn, src/cluster and leaves";
    case "frontend":
      if (isLeaf || brokerIndex || b.kind === "config") return null;
      if (b.kind === "frontend" && b.name === a.name) return null;
      return b.kind === "broker"
        ? `src/${a.name} may import the broker only through src/broker/index.ts`
        : `src/${a.name} may import only src/broker/index.ts, src/config, leaves and its own folder`;
    case "bridge":
      if (isLeaf || brokerIndex || (b.kind === "bridge" && b.name === a.name)) return null;
      return "a bridge may import only src/broker/index.ts and leaves";
    case "none":
      return `${from} is in no layer of DESIGN.md; move it into one or add it to scripts/check-imports.ts`;
  }
}

/** Why `from` may not import npm/builtin package `pkg`, or null. */
export function packageRuleFor(from: string, pkg: string): string | null {
  const a = layerOf(from);
  const name = pkg.startsWith("@") ? pkg.split("/").slice(0, 2).join("/") : (pkg.split("/")[0] ?? pkg);
  if ((name === "drizzle-orm" || name === "bun:sqlite") && a.kind !== "metadata") {
    return `only src/metadata may import ${name}`;
  }
  if ((name === "hono" || name.startsWith("@hono/")) && !(a.kind === "frontend" && a.name === "http")) {
    return `only src/http may import ${name}`;
  }
  if ((a.kind === "log" || a.kind === "leaf") && (name === "zod" || name === "mqtt-packet")) {
    return `${label(a)} knows nothing about ${name}`;
  }
  return null;
}

function label(l: Layer): string {
  switch (l.kind) {
    case "leaf":
      return "a leaf";
    case "log":
      return "src/log";
    case "config":
      return "src/config";
    default:
      return l.kind;
  }
}

/** Blank out comments, string contents and regex literals, keeping quotes, offsets and newlines. */
export function maskSource(src: string): { code: string; strings: Map<number, string> } {
  const out: string[] = [];
  const strings = new Map<number, string>();
  let i = 0;
  let lastSignificant = "";
  const n = src.length;
  const blank = (s: string): string => s.replace(/[^\n]/g, " ");
  while (i < n) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      out.push(blank(src.slice(i, stop)));
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      out.push(blank(src.slice(i, stop)));
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < n && src[j] !== c) {
        if (src[j] === "\\") j++;
        else if (c !== "`" && src[j] === "\n") break;
        j++;
      }
      strings.set(i, src.slice(i + 1, j));
      out.push(c + blank(src.slice(i + 1, j)) + (j < n ? c : ""));
      i = j + 1;
      lastSignificant = c;
    } else if (c === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant))) {
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== "\n") {
        if (src[j] === "\\") j++;
        else if (src[j] === "[") inClass = true;
        else if (src[j] === "]") inClass = false;
        else if (src[j] === "/" && !inClass) break;
        j++;
      }
      out.push(`/${blank(src.slice(i + 1, j))}/`);
      i = j + 1;
      lastSignificant = "/";
    } else {
      out.push(c);
      if (!/\s/.test(c)) lastSignificant = /[A-Za-z0-9_$)\]]/.test(c) ? "a" : c;
      i++;
    }
  }
  return { code: out.join(""), strings };
}

const CLAUSE = String.raw`(?:[\w$]+|\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+\s*,\s*(?:\{[^}]*\}|\*\s*as\s+[\w$]+))`;
const PATTERNS: Array<{ re: RegExp; typeOnly: (m: RegExpExecArray) => boolean }> = [
  {
    re: new RegExp(String.raw`(?<![\w$.])import\s+(type\s+)?(${CLAUSE})\s*from\s*(["'])`, "g"),
    typeOnly: (m) => Boolean(m[1]) || allTypeSpecifiers(m[2] ?? ""),
  },
  { re: /(?<![\w$.])import\s*(["'])/g, typeOnly: () => false },
  {
    re: /(?<![\w$.])export\s+(type\s+)?(\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(["'])/g,
    typeOnly: (m) => Boolean(m[1]) || allTypeSpecifiers(m[2] ?? ""),
  },
  { re: /(?<![\w$.])(?:import|require)\s*\(\s*(["'])/g, typeOnly: () => false },
];

function allTypeSpecifiers(clause: string): boolean {
  const m = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!m) return false;
  const parts = m[1]!
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  return parts.length > 0 && parts.every((p) => /^type\s/.test(p));
}

/** Every import of a TypeScript source, with its line number. */
export function scanImports(src: string): ImportRef[] {
  const { code, strings } = maskSource(src);
  const refs: ImportRef[] = [];
  for (const { re, typeOnly } of PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(code); m; m = re.exec(code)) {
      const quoteAt = m.index + m[0].length - 1;
      const specifier = strings.get(quoteAt);
      if (specifier === undefined) continue;
      const line = code.slice(0, m.index).split("\n").length;
      refs.push({ specifier, line, typeOnly: typeOnly(m) });
    }
  }
  return refs.sort((x, y) => x.line - y.line);
}

function listTsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules") out.push(...listTsFiles(full));
    else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

export function checkImports(root: string): { files: number; imports: number; violations: Violation[] } {
  const files = [...listTsFiles(path.join(root, "src")), ...listTsFiles(path.join(root, "bridges"))].sort();
  const violations: Violation[] = [];
  let imports = 0;
  for (const file of files) {
    const rel = path.relative(root, file).split(path.sep).join("/");
    for (const ref of scanImports(fs.readFileSync(file, "utf8"))) {
      imports++;
      let reason: string | null;
      if (ref.specifier.startsWith(".")) {
        const target = path
          .relative(root, path.resolve(path.dirname(file), ref.specifier))
          .split(path.sep)
          .join("/");
        reason = ruleFor(rel, target, ref.typeOnly);
      } else if (ref.specifier.startsWith("/")) {
        reason = "use a relative import, not an absolute path";
      } else {
        reason = packageRuleFor(rel, ref.specifier);
      }
      if (reason) violations.push({ file: rel, line: ref.line, specifier: ref.specifier, reason });
    }
  }
  return { files: files.length, imports, violations };
}

if (import.meta.main) {
  const i = process.argv.indexOf("--root");
  const root = path.resolve(i > 0 ? (process.argv[i + 1] ?? ".") : path.join(import.meta.dir, ".."));
  const { files, imports, violations } = checkImports(root);
  for (const v of violations) console.error(`${v.file}:${v.line}: import "${v.specifier}": ${v.reason}`);
  if (violations.length > 0) {
    console.error(
      `check-imports: ${violations.length} violation(s) of DESIGN.md's import direction in ${files} files`,
    );
    process.exit(1);
  }
  console.log(`check-imports: ${files} files, ${imports} imports, no violations`);
}
