/**
 * MetadataStore on bun:sqlite through drizzle-orm. One connection per store;
 * every method is synchronous (bun:sqlite is) and each mutation runs in one
 * transaction.
 *
 * Durability choices (WAL mode):
 * - `synchronous=NORMAL` is the connection default. A commit survives a crash
 *   of the process; a power loss may roll back the last few commits (the WAL
 *   is fsynced at checkpoints, not per commit). That is right for committed
 *   consumer offsets, the hot path (~40k/s vs ~5k/s with FULL): losing the
 *   last commits only makes a consumer re-read a few records, as with Kafka's
 *   own offsets topic, and never loses or corrupts data.
 * - Topic and config changes are rare and other state (partition directories)
 *   depends on them, so they run with `synchronous=FULL` (fsync per commit).
 * - `:memory:` is the store's in-memory twin: same code, no file.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { drizzle } from "drizzle-orm/bun-sqlite";
import { EddyError, ErrorCode } from "../errors.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { type Db, mapSqliteError } from "./db.ts";
import { MIGRATIONS } from "./generated/migrations.ts";
import { type EmbeddedMigration, migrate } from "./migrator.ts";
import { createClusterOps } from "./cluster-ops.ts";
import { createOffsetOps } from "./offset-ops.ts";
import { createSettingOps } from "./setting-ops.ts";
import { createTopicOps } from "./topic-ops.ts";
import { createTxnOps } from "./txn-ops.ts";
import type { MetadataStore } from "./types.ts";

export interface MetadataStoreOptions {
  /** The database file (its directory is created), or ":memory:". */
  path: string;
  clock?: Clock;
  logger?: Logger;
  /** How long a writer waits for another connection's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Test hook: the migrations to apply instead of the embedded ones. */
  migrations?: readonly EmbeddedMigration[];
}

export function openMetadataStore(opts: MetadataStoreOptions): MetadataStore {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const client = openClient(opts.path);
  try {
    configure(client, opts, logger);
    migrate({ client, migrations: opts.migrations ?? MIGRATIONS, clock, logger, path: opts.path });
  } catch (err) {
    client.close();
    throw mapSqliteError(err, opts.path);
  }
  const db: Db = drizzle({ client });
  return buildStore(client, db, opts.path);
}

function openClient(path: string): Database {
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    return new Database(path, { create: true, readwrite: true, strict: true });
  } catch (err) {
    throw mapSqliteError(err, path);
  }
}

function configure(client: Database, opts: MetadataStoreOptions, logger: Logger): void {
  const mode = client.query<{ journal_mode: string }, []>("PRAGMA journal_mode = WAL").get()?.journal_mode;
  if (opts.path !== ":memory:" && mode !== "wal") {
    logger.warn("metadata database is not in WAL mode; commits will be slower", { path: opts.path, mode });
  }
  client.run("PRAGMA synchronous = NORMAL");
  client.run(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`);
  client.run("PRAGMA foreign_keys = ON");
  // Refuse a file that is not a database before migrating (SQLITE_NOTADB surfaces here).
  client.query("SELECT count(*) FROM sqlite_master").get();
}

function buildStore(client: Database, db: Db, path: string): MetadataStore {
  let closed = false;
  const guard = <T>(fn: () => T): T => {
    if (closed) throw new EddyError(ErrorCode.SHUTTING_DOWN, "the metadata store is closed", { path });
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err, path);
    }
  };
  /** Run a rare, structural change with an fsync per commit (see header). */
  const durably = <T>(fn: () => T): T =>
    guard(() => {
      client.run("PRAGMA synchronous = FULL");
      try {
        return fn();
      } finally {
        client.run("PRAGMA synchronous = NORMAL");
      }
    });

  const topics = createTopicOps(client, db);
  const offsets = createOffsetOps(client, db);
  const settings = createSettingOps(db);
  const txns = createTxnOps(client, db);
  const cluster = createClusterOps(client, db);

  return {
    listTopics: () => guard(() => topics.list()),
    getTopic: (name) => guard(() => topics.get(name)),
    createTopic: (topic) => durably(() => topics.create(topic)),
    deleteTopic: (name) => durably(() => topics.delete(name)),
    setTopicConfigs: (name, configs) => durably(() => topics.setConfigs(name, configs)),
    setPartitionCount: (name, count) => durably(() => topics.setPartitionCount(name, count)),

    commitOffsets: (list) => guard(() => offsets.commit(list)),
    fetchOffsets: (group, topic) => guard(() => offsets.fetch(group, topic)),
    listGroups: () => guard(() => offsets.listGroups()),
    deleteGroup: (group) => guard(() => offsets.deleteGroup(group)),
    deleteOffsets: (group, list) => guard(() => offsets.deletePartitions(group, list)),
    deleteOffsetsForTopic: (topic) => guard(() => offsets.deleteForTopic(topic)),

    getSetting: (key) => guard(() => settings.get(key)),
    setSetting: (key, value) => durably(() => settings.set(key, value)),

    allocateProducerId: () => durably(() => txns.allocateProducerId()),
    getProducerState: (topic, partition) => guard(() => txns.getProducerState(topic, partition)),
    saveProducerState: (state) => guard(() => txns.saveProducerState(state)),
    listTransactions: () => guard(() => txns.listTransactions()),
    saveTransaction: (txn) => durably(() => txns.saveTransaction(txn)),
    deleteTransaction: (id) => durably(() => txns.deleteTransaction(id)),

    listPartitionAssignments: (topic) => guard(() => cluster.listAssignments(topic)),
    setPartitionAssignments: (list) => durably(() => cluster.setAssignments(list)),
    listClusterNodes: () => guard(() => cluster.listNodes()),
    registerClusterNode: (node) => durably(() => cluster.registerNode(node)),
    getLeaderEpochs: (topic, partition) => guard(() => cluster.getLeaderEpochs(topic, partition)),
    setLeaderEpochs: (topic, partition, entries) =>
      durably(() => cluster.setLeaderEpochs(topic, partition, entries)),
    getHighWatermark: (topic, partition) => guard(() => cluster.getHighWatermark(topic, partition)),
    setHighWatermarks: (list) => guard(() => cluster.setHighWatermarks(list)),

    close: () => {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}
