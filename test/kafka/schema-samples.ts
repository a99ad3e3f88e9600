/**
 * Test helper: builds random sample values for any Kafka message at any
 * version by walking the schema facts in src/kafka/generated/schema.ts. Fields
 * a version does not have get their defaults (as a decoder returns them);
 * fields it has get random values of their type, null now and then where the
 * version allows it. Deterministic for a given seed.
 */
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from "../../src/kafka/generated/schema.ts";

export const SCHEMAS = new Map(MESSAGE_SCHEMAS.map((m) => [m.name, m]));

export function inRange(v: number, s: string | undefined): boolean {
  if (s === undefined || s === "none") return false;
  const [lo, hi] = s.endsWith("+") ? [Number(s.slice(0, -1)), Infinity] : s.split("-").map(Number);
  return v >= lo! && v <= (hi ?? lo)!;
}

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Value = unknown;
const INT_RANGE: Record<string, [number, number]> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const WORDS = ["", "a", "topic-1", "héllo wörld", "🙂 emoji", "x".repeat(40)];

export class SampleBuilder {
  private readonly rand: () => number;

  constructor(seed: number) {
    this.rand = prng(seed);
  }

  message(m: MessageSchema, v: number): Record<string, Value> {
    return this.struct(m.fields, m, v);
  }

  private int(lo: number, hi: number): number {
    const r = this.rand();
    if (r < 0.15) return lo;
    if (r < 0.3) return hi;
    return Math.floor(lo + this.rand() * (hi - lo + 1));
  }

  private struct(fields: FieldSchema[], m: MessageSchema, v: number): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const f of fields)
      out[camel(f.name)] = inRange(v, f.versions) ? this.value(f, m, v) : defaultOf(f, m, v);
    return out;
  }

  private value(f: FieldSchema, m: MessageSchema, v: number): Value {
    if (inRange(v, f.nullableVersions) && this.rand() < 0.2) return null;
    if (f.type.startsWith("[]")) {
      const n = this.int(0, 2);
      return Array.from({ length: n }, () => this.one(f, f.type.slice(2), m, v));
    }
    return this.one(f, f.type, m, v);
  }

  private one(f: FieldSchema, type: string, m: MessageSchema, v: number): Value {
    const range = INT_RANGE[type];
    if (range) return this.int(range[0], range[1]);
    switch (type) {
      case "bool":
        return this.rand() < 0.5;
      case "float64":
        return (this.rand() - 0.5) * 1e9;
      case "string":
        return WORDS[this.int(0, WORDS.length - 1)];
      case "bytes":
      case "records":
        return Uint8Array.from({ length: this.int(0, 20) }, () => this.int(0, 255));
      case "uuid":
        return Buffer.from(Uint8Array.from({ length: 16 }, () => this.int(0, 255))).toString("base64url");
      default:
        return this.struct(structFields(f, type, m), m, v);
    }
  }
}

export function camel(name: string): string {
  return name[0]!.toLowerCase() + name.slice(1);
}

function structFields(f: FieldSchema, type: string, m: MessageSchema): FieldSchema[] {
  const fields = f.fields ?? m.commonStructs?.find((c) => c.name === type)?.fields;
  if (!fields) throw new Error(`${m.name}: no struct ${type}`);
  return fields;
}

/** The value a decoder gives a field that the version does not carry. */
export function defaultOf(f: FieldSchema, m: MessageSchema, v: number): Value {
  const d = f.default;
  if (d === "null") return null;
  if (f.type.startsWith("[]")) return [];
  switch (f.type) {
    case "bool":
      return String(d).toLowerCase() === "true";
    case "string":
      return d ?? "";
    case "bytes":
      return new Uint8Array(0);
    case "records":
      return f.nullableVersions === undefined ? new Uint8Array(0) : null;
    case "uuid":
      return "AAAAAAAAAAAAAAAAAAAAAA";
    default:
      if (f.type in INT_RANGE || f.type === "float64") return d === undefined ? 0 : Number(d);
      return Object.fromEntries(structFields(f, f.type, m).map((s) => [camel(s.name), defaultOf(s, m, v)]));
  }
}
