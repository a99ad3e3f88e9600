/**
 * A small migrator for the embedded drizzle-kit migrations
 * (./generated/migrations.ts). Applied migrations are recorded in
 * `__migrations` (idx, tag, hash, applied_at). All pending migrations run in
 * order inside one IMMEDIATE transaction, so a crash leaves the database either
 * fully before or fully after, and two processes opening the same file cannot
 * both apply them.
 *
 * A database that records a migration this build does not know was written by
 * a newer Eddy: it is refused (UNSUPPORTED_FORMAT) rather than opened with a
 * schema this code does not understand.
 */
import type { Database } from "bun:sqlite";
import { EddyError, ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";

export interface EmbeddedMigration {
  /** Position in drizzle-kit's journal, 0-based and contiguous. */
  idx: number;
  /** drizzle-kit's tag, e.g. "0000_initial". */
  tag: string;
  /** sha256 of the migration's SQL file. */
  hash: string;
  statements: readonly string[];
}

export interface MigrateOptions {
  client: Database;
  migrations: readonly EmbeddedMigration[];
  clock: Clock;
  logger: Logger;
  /** For error messages: the database file. */
  path: string;
}

export interface MigrateResult {
  /** Tags applied by this call (empty when the schema was current). */
  applied: string[];
}

interface AppliedRow {
  idx: number;
  tag: string;
  hash: string;
}

export function migrate(opts: MigrateOptions): MigrateResult {
  const { client, migrations, clock, logger } = opts;
  client.run(
    "CREATE TABLE IF NOT EXISTS __migrations (idx INTEGER PRIMARY KEY, tag TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const run = client.transaction((): string[] => {
    const rows = client.query<AppliedRow, []>("SELECT idx, tag, hash FROM __migrations ORDER BY idx").all();
    checkKnown(rows, migrations, opts.path);
    const done = new Set(rows.map((r) => r.idx));
    const insert = client.query("INSERT INTO __migrations (idx, tag, hash, applied_at) VALUES (?, ?, ?, ?)");
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.idx)) continue;
      for (const stmt of m.statements) client.run(stmt);
      insert.run(m.idx, m.tag, m.hash, clock.now());
      applied.push(m.tag);
    }
    return applied;
  });
  const applied = run.immediate();
  for (const tag of applied) logger.info("applied metadata migration", { tag, path: opts.path });
  return { applied };
}

function checkKnown(rows: AppliedRow[], migrations: readonly EmbeddedMigration[], path: string): void {
  const latest = migrations.at(-1)?.tag ?? "(none)";
  for (const row of rows) {
    const known = migrations[row.idx];
    if (known === undefined || known.tag !== row.tag) {
      throw new EddyError(
        ErrorCode.UNSUPPORTED_FORMAT,
        `metadata database ${path} has schema migration ${row.tag} (#${row.idx}), which this Eddy does not know ` +
          `(it knows up to ${latest}): it was written by a newer Eddy. Run that newer version, or restore a backup of the data directory.`,
        { path, migration: row.tag, idx: row.idx, latestKnown: latest },
      );
    }
  }
}
