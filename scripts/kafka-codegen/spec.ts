/**
 * Kafka message definitions as the generator sees them: loading the JSON files
 * (which carry `//` comments), version ranges ("0+", "3-5", "7", "none"), and
 * the conditions on `v` that the generated code tests.
 */
import fs from "node:fs";
import path from "node:path";

export interface FieldSpec {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  flexibleVersions?: string;
  fields?: FieldSpec[];
}

export interface StructSpec {
  name: string;
  versions?: string;
  fields: FieldSpec[];
}

export interface MessageSpec {
  apiKey?: number;
  type: "request" | "response" | "header" | "data";
  name: string;
  validVersions: string;
  flexibleVersions: string;
  fields: FieldSpec[];
  commonStructs?: StructSpec[];
}

/** An inclusive version range; `hi` is Infinity for "N+", and lo > hi means empty. */
export interface Range {
  lo: number;
  hi: number;
}

export const EMPTY: Range = { lo: 0, hi: -1 };

export function parseRange(s: string | undefined): Range {
  if (s === undefined || s === "none") return EMPTY;
  const plus = /^(\d+)\+$/.exec(s);
  if (plus) return { lo: Number(plus[1]), hi: Number.POSITIVE_INFINITY };
  const span = /^(\d+)-(\d+)$/.exec(s);
  if (span) return { lo: Number(span[1]), hi: Number(span[2]) };
  if (/^\d+$/.test(s)) return { lo: Number(s), hi: Number(s) };
  throw new Error(`bad version range "${s}"`);
}

export function intersect(a: Range, b: Range): Range {
  return { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
}

export function isEmpty(r: Range): boolean {
  return r.lo > r.hi;
}

/**
 * The test for "v is in `r`" where v is known to lie in `ctx`, simplified to
 * "true" or "false" when it is decided by `ctx` alone.
 */
export function cond(r: Range, ctx: Range): string {
  const i = intersect(r, ctx);
  if (isEmpty(i)) return "false";
  const parts: string[] = [];
  if (i.lo > ctx.lo) parts.push(`v >= ${i.lo}`);
  if (i.hi < ctx.hi) parts.push(`v <= ${i.hi}`);
  return parts.length === 0 ? "true" : parts.join(" && ");
}

/** Strip `//` comments that are not inside a JSON string. */
export function stripComments(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i] ?? "";
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else {
      out += c;
    }
  }
  return out;
}

export function loadSpecs(dir: string): MessageSpec[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const spec = JSON.parse(stripComments(fs.readFileSync(path.join(dir, f), "utf8"))) as MessageSpec;
      normalize(spec.fields);
      for (const s of spec.commonStructs ?? []) normalize(s.fields);
      return spec;
    });
}

/** Some definitions write a tag as a string ("0"); make every tag a number. */
function normalize(fields: FieldSpec[]): void {
  for (const f of fields) {
    if (f.tag !== undefined) f.tag = Number(f.tag);
    if (f.fields) normalize(f.fields);
  }
}

export const PRIMITIVES = new Set([
  "bool",
  "int8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "float64",
  "string",
  "bytes",
  "records",
  "uuid",
]);

/** "ProduceRequest" → "produce-request". */
export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

/** Kafka's field name → the TypeScript property ("TopicData" → "topicData"). */
export function camel(name: string): string {
  return name[0]!.toLowerCase() + name.slice(1);
}
