/**
 * Emit src/kafka/generated/index.ts (the API-key registry) and schema.ts (the
 * definitions' facts without their prose, for tests that walk the schema).
 */
import { HEADER } from "./emit-message.ts";
import { type FieldSpec, kebab, type MessageSpec, parseRange } from "./spec.ts";

const INT64_NOTE = [
  "// int64 fields are JavaScript numbers (Eddy keeps offsets as safe integers): decoding",
  "// rejects values outside ±(2^53-1) with EddyError INVALID_REQUEST; uuid fields are",
  "// Kafka's 22-character base64url text; bytes and records fields are views into the input.",
];

function versionsOf(m: MessageSpec): { min: number; max: number; flex: number | null } {
  const valid = parseRange(m.validVersions);
  const flex = parseRange(m.flexibleVersions);
  if (flex.lo <= flex.hi && flex.hi !== Number.POSITIVE_INFINITY) {
    throw new Error(`${m.name}: flexible versions must be open-ended, got ${m.flexibleVersions}`);
  }
  return { min: valid.lo, max: valid.hi, flex: flex.lo <= flex.hi ? flex.lo : null };
}

export function emitIndex(specs: MessageSpec[]): string {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const requests = specs.filter((s) => s.type === "request").sort((a, b) => a.apiKey! - b.apiKey!);
  const data = specs.filter((s) => s.type === "data");
  const imports: string[] = [];
  const types: string[] = [];
  const apis: string[] = [];
  const keys: string[] = [];
  for (const req of requests) {
    const api = req.name.replace(/Request$/, "");
    const res = byName.get(`${api}Response`);
    if (!res) throw new Error(`${req.name} has no response`);
    if (res.validVersions !== req.validVersions || res.flexibleVersions !== req.flexibleVersions) {
      throw new Error(`${api}: request and response versions differ`);
    }
    const v = versionsOf(req);
    for (const m of [req, res]) {
      imports.push(
        `import { decode${m.name}, encode${m.name}, type ${m.name} } from "./${kebab(m.name)}.ts";`,
      );
      types.push(m.name);
    }
    keys.push(`  ${api}: ${req.apiKey},`);
    apis.push(
      "",
      `export const ${api}: ApiCodec<${req.name}, ${res.name}> = {`,
      `  name: "${api}", apiKey: ${req.apiKey}, validVersions: "${req.validVersions}", flexibleVersions: "${req.flexibleVersions}",`,
      `  minVersion: ${v.min}, maxVersion: ${v.max}, firstFlexibleVersion: ${v.flex},`,
      `  encodeRequest: encode${req.name}, decodeRequest: decode${req.name},`,
      `  encodeResponse: encode${res.name}, decodeResponse: decode${res.name},`,
      "};",
    );
  }
  const dataCodecs: string[] = [];
  for (const m of data) {
    const v = versionsOf(m);
    imports.push(`import { decode${m.name}, encode${m.name}, type ${m.name} } from "./${kebab(m.name)}.ts";`);
    types.push(m.name);
    dataCodecs.push(
      "",
      `export const ${m.name}Codec: DataCodec<${m.name}> = {`,
      `  name: "${m.name}", validVersions: "${m.validVersions}", minVersion: ${v.min}, maxVersion: ${v.max},`,
      `  encode: encode${m.name}, decode: decode${m.name},`,
      "};",
    );
  }
  const apiNames = requests.map((r) => r.name.replace(/Request$/, ""));
  return [
    HEADER,
    "// The Kafka API registry: one ApiCodec per API key (see src/kafka/protocol/api.ts).",
    ...INT64_NOTE,
    'import type { ApiCodec, DataCodec } from "../protocol/api.ts";',
    ...imports,
    "",
    `export type {\n${types.map((t) => `  ${t},`).join("\n")}\n};`,
    "",
    "export const ApiKey = {",
    ...keys,
    "} as const;",
    "export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];",
    ...apis,
    "",
    "/** Every API, in API-key order. */",
    `export const API_CODECS: readonly ApiCodec[] = [${apiNames.join(", ")}];`,
    "",
    "const BY_KEY: (ApiCodec | undefined)[] = [];",
    "for (const c of API_CODECS) BY_KEY[c.apiKey] = c;",
    "",
    "/** The codec for an API key, or undefined for a key this build does not know. */",
    "export function apiCodec(apiKey: number): ApiCodec | undefined {",
    "  return BY_KEY[apiKey];",
    "}",
    ...dataCodecs,
    "",
    `export const DATA_CODECS: readonly DataCodec[] = [${data.map((m) => `${m.name}Codec`).join(", ")}];`,
    "",
  ].join("\n");
}

/** The facts of one field (no prose), as schema.ts lists them. */
function fieldFacts(f: FieldSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { name: f.name, type: f.type, versions: f.versions };
  for (const k of [
    "nullableVersions",
    "taggedVersions",
    "tag",
    "default",
    "ignorable",
    "flexibleVersions",
  ] as const) {
    if (f[k] !== undefined) out[k] = f[k];
  }
  if (f.fields) out.fields = f.fields.map(fieldFacts);
  return out;
}

export function emitSchema(specs: MessageSpec[]): string {
  const lines = [
    HEADER,
    "// The message definitions' facts (names, types, versions, tags, defaults), for",
    "// tests that walk the schema. Not imported by the broker.",
    "",
    "export interface FieldSchema {",
    "  name: string;",
    "  type: string;",
    "  versions: string;",
    "  nullableVersions?: string;",
    "  taggedVersions?: string;",
    "  tag?: number;",
    "  default?: string | number | boolean;",
    "  ignorable?: boolean;",
    "  flexibleVersions?: string;",
    "  fields?: FieldSchema[];",
    "}",
    "",
    "export interface MessageSchema {",
    "  name: string;",
    "  type: string;",
    "  apiKey?: number;",
    "  validVersions: string;",
    "  flexibleVersions: string;",
    "  fields: FieldSchema[];",
    "  commonStructs?: { name: string; versions?: string; fields: FieldSchema[] }[];",
    "}",
    "",
    "export const MESSAGE_SCHEMAS: readonly MessageSchema[] = [",
  ];
  for (const m of specs.filter((s) => s.type !== "header")) {
    const head: Record<string, unknown> = { name: m.name, type: m.type };
    if (m.apiKey !== undefined) head.apiKey = m.apiKey;
    head.validVersions = m.validVersions;
    head.flexibleVersions = m.flexibleVersions;
    lines.push(`  {${JSON.stringify(head).slice(1, -1)}, "fields": [`);
    for (const f of m.fields) lines.push(`    ${JSON.stringify(fieldFacts(f))},`);
    lines.push("  ]");
    if (m.commonStructs) {
      lines.push(`  , "commonStructs": [`);
      for (const c of m.commonStructs) {
        const cs = { name: c.name, versions: c.versions, fields: c.fields.map(fieldFacts) };
        lines.push(`    ${JSON.stringify(cs)},`);
      }
      lines.push("  ]");
    }
    lines.push("  },");
  }
  lines.push("];", "");
  return lines.join("\n");
}
