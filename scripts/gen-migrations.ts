/**
 * Embeds the drizzle-kit migrations (src/metadata/migrations) into a TS module
 * (src/metadata/generated/migrations.ts) so the compiled binary carries them
 * and reads no SQL files at run time. Run through `bun run db:generate`, which
 * first runs `drizzle-kit generate`. Commit both outputs.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const migrationsDir = join(root, "src/metadata/migrations");
const outFile = join(root, "src/metadata/generated/migrations.ts");
const BREAKPOINT = "--> statement-breakpoint";

interface JournalEntry {
  idx: number;
  tag: string;
  breakpoints: boolean;
}

const journal = JSON.parse(readFileSync(join(migrationsDir, "meta/_journal.json"), "utf8")) as {
  dialect: string;
  entries: JournalEntry[];
};
if (journal.dialect !== "sqlite") throw new Error(`expected a sqlite journal, got ${journal.dialect}`);

const entries = [...journal.entries].sort((a, b) => a.idx - b.idx);
const migrations = entries.map((entry, i) => {
  if (entry.idx !== i) throw new Error(`journal idx ${entry.idx} out of sequence (expected ${i})`);
  const text = readFileSync(join(migrationsDir, `${entry.tag}.sql`), "utf8");
  const statements = (entry.breakpoints ? text.split(BREAKPOINT) : [text])
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const hash = createHash("sha256").update(text).digest("hex");
  return { idx: entry.idx, tag: entry.tag, hash, statements };
});

const body = migrations
  .map((m) => {
    const stmts = m.statements.map((s) => `      ${JSON.stringify(s)},`).join("\n");
    return `  {\n    idx: ${m.idx},\n    tag: ${JSON.stringify(m.tag)},\n    hash: ${JSON.stringify(m.hash)},\n    statements: [\n${stmts}\n    ],\n  },`;
  })
  .join("\n");

const out = `// GENERATED FILE — do not edit. Produced by scripts/gen-migrations.ts from
// src/metadata/migrations (drizzle-kit output); regenerate with \`bun run db:generate\`.
import type { EmbeddedMigration } from "../migrator.ts";

export const MIGRATIONS: readonly EmbeddedMigration[] = [
${body}
];
`;
writeFileSync(outFile, out);
process.stdout.write(`embedded ${migrations.length} migration(s) into ${outFile}\n`);
