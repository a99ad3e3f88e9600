/**
 * Generate Eddy's sans-IO Kafka protocol codec from Apache Kafka's JSON message
 * definitions in ../shared/kafka-messages (relative to the repository root).
 *
 *   bun scripts/gen-kafka-protocol.ts           write src/kafka/generated/
 *   bun scripts/gen-kafka-protocol.ts --check   regenerate in memory; exit 1 listing the
 *                                               files that differ (exit 0 with a note when
 *                                               ../shared/kafka-messages is absent)
 *
 * Output: one file per request/response/data message (kebab-case, e.g.
 * produce-request.ts) with an interface, encoder and decoder per struct;
 * index.ts, the API-key registry (ApiCodec per key, src/kafka/protocol/api.ts);
 * schema.ts, the definitions' facts for tests. The request and response
 * headers are hand-written (src/kafka/protocol/headers.ts).
 *
 * Choices:
 * - int64 is a JavaScript `number`, not `bigint`: Eddy keeps offsets, timestamps,
 *   producer ids and epochs as safe integers everywhere. Decoders reject an int64
 *   outside ±(2^53-1) with EddyError INVALID_REQUEST; encoders reject unsafe numbers.
 * - uuid is Kafka's text form (22 characters of unpadded base64url).
 * - bytes and records decode to Uint8Array views into the frame (no copy);
 *   large ones are written as separate output chunks (no copy either).
 * - A field absent from a version decodes to its default; encoding a
 *   non-default value into a version without the field throws unless the field
 *   is ignorable (Kafka's rule). Tagged fields are written only when they differ
 *   from their default; unknown tags are skipped.
 * - Decoders throw only EddyError (INVALID_REQUEST) on malformed input.
 */
import fs from "node:fs";
import path from "node:path";
import { emitIndex, emitSchema } from "./kafka-codegen/emit-index.ts";
import { emitMessage } from "./kafka-codegen/emit-message.ts";
import { kebab, loadSpecs } from "./kafka-codegen/spec.ts";

const ROOT = path.resolve(import.meta.dir, "..");
export const SOURCE_DIR = path.resolve(ROOT, "../shared/kafka-messages");
export const OUTPUT_DIR = path.join(ROOT, "src/kafka/generated");

/** Every generated file's name and content, from the definitions in `sourceDir`. */
export function generate(sourceDir: string): Map<string, string> {
  const specs = loadSpecs(sourceDir);
  const files = new Map<string, string>();
  for (const spec of specs) {
    if (spec.type === "header") continue;
    files.set(`${kebab(spec.name)}.ts`, emitMessage(spec));
  }
  files.set("index.ts", emitIndex(specs));
  files.set("schema.ts", emitSchema(specs));
  return files;
}

/** Names of files whose committed content differs from `files` (missing, changed or extra). */
export function diff(files: Map<string, string>, outDir: string): string[] {
  const existing = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".ts")) : [];
  const differing = existing.filter((f) => !files.has(f));
  for (const [name, content] of files) {
    const file = path.join(outDir, name);
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== content) differing.push(name);
  }
  return differing.sort();
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  if (!fs.existsSync(SOURCE_DIR)) {
    const what = check ? "skipping the check" : "nothing to generate";
    console.log(`note: ${path.relative(ROOT, SOURCE_DIR)} is absent; ${what}`);
    return 0;
  }
  const files = generate(SOURCE_DIR);
  if (check) {
    const differing = diff(files, OUTPUT_DIR);
    if (differing.length === 0) {
      console.log(`src/kafka/generated is up to date (${files.size} files)`);
      return 0;
    }
    console.log("src/kafka/generated differs from a fresh generation; run `npm run gen:kafka` and commit:");
    for (const f of differing) console.log(`  ${f}`);
    return 1;
  }
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  for (const f of fs.readdirSync(OUTPUT_DIR)) {
    if (f.endsWith(".ts") && !files.has(f)) fs.rmSync(path.join(OUTPUT_DIR, f));
  }
  for (const [name, content] of files) fs.writeFileSync(path.join(OUTPUT_DIR, name), content);
  console.log(`wrote ${files.size} files to ${path.relative(ROOT, OUTPUT_DIR)}`);
  return 0;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
