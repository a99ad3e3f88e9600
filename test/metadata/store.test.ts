import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EddyError, ErrorCode } from "../../src/errors.ts";
import { MIGRATIONS } from "../../src/metadata/generated/migrations.ts";
import { type CommittedOffset, type MetadataStore, openMetadataStore } from "../../src/metadata/index.ts";
import { ManualClock } from "../../src/util/clock.ts";

function topic(name: string, partitions = 3, configs: Record<string, string> = {}) {
  return {
    name,
    id: crypto.randomUUID(),
    partitions,
    replicationFactor: 1,
    configs,
    createdAt: 1_700_000_000_123,
  };
}

function off(
  group: string,
  t: string,
  partition: number,
  offset: number,
  extra: Partial<CommittedOffset> = {},
) {
  return {
    group,
    topic: t,
    partition,
    offset,
    leaderEpoch: 0,
    metadata: "",
    commitTimestamp: 1000,
    ...extra,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EddyError);
    return (err as EddyError).code;
  }
  return undefined;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "eddy-metadata-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

// The same behaviour suite over the in-memory twin and a file database.
for (const kind of ["memory", "file"] as const) {
  describe(`MetadataStore (${kind})`, () => {
    let store: MetadataStore;
    beforeEach(() => {
      store = openMetadataStore({ path: kind === "memory" ? ":memory:" : join(dir, "sub", "meta.db") });
    });
    afterEach(() => store.close());

    it("creates, gets and lists topics sorted by name", () => {
      const b = topic("beta", 2, { "retention.ms": "3600000", "cleanup.policy": "compact" });
      const a = topic("alpha", 1);
      store.createTopic(b);
      store.createTopic(a);
      expect(store.getTopic("beta")).toEqual(b);
      expect(store.getTopic("missing")).toBeNull();
      expect(store.listTopics()).toEqual([a, b]);
    });

    it("refuses a duplicate topic with TOPIC_EXISTS and keeps the original", () => {
      const t = topic("dup", 2, { a: "1" });
      store.createTopic(t);
      expect(codeOf(() => store.createTopic(topic("dup", 5)))).toBe(ErrorCode.TOPIC_EXISTS);
      expect(store.getTopic("dup")).toEqual(t);
    });

    it("deletes topics and their configs; unknown topics give TOPIC_NOT_FOUND", () => {
      store.createTopic(topic("gone", 2, { "retention.ms": "1" }));
      store.deleteTopic("gone");
      expect(store.getTopic("gone")).toBeNull();
      expect(store.listTopics()).toEqual([]);
      // Re-creating starts clean: no leftover configs or partitions.
      const again = topic("gone", 1);
      store.createTopic(again);
      expect(store.getTopic("gone")).toEqual(again);
      expect(codeOf(() => store.deleteTopic("nope"))).toBe(ErrorCode.TOPIC_NOT_FOUND);
      expect(codeOf(() => store.setTopicConfigs("nope", {}))).toBe(ErrorCode.TOPIC_NOT_FOUND);
      expect(codeOf(() => store.setPartitionCount("nope", 4))).toBe(ErrorCode.TOPIC_NOT_FOUND);
    });

    it("replaces topic configs", () => {
      store.createTopic(topic("c", 1, { "retention.ms": "1", "segment.bytes": "1024" }));
      store.setTopicConfigs("c", { "retention.ms": "2", "max.message.bytes": "100" });
      expect(store.getTopic("c")?.configs).toEqual({ "retention.ms": "2", "max.message.bytes": "100" });
      store.setTopicConfigs("c", {});
      expect(store.getTopic("c")?.configs).toEqual({});
      expect(store.listTopics()[0]?.configs).toEqual({});
    });

    it("grows the partition count and refuses to shrink or go non-positive", () => {
      store.createTopic(topic("p", 2));
      store.setPartitionCount("p", 5);
      expect(store.getTopic("p")?.partitions).toBe(5);
      store.setPartitionCount("p", 5);
      expect(store.getTopic("p")?.partitions).toBe(5);
      expect(codeOf(() => store.setPartitionCount("p", 3))).toBe(ErrorCode.INVALID_PARTITIONS);
      expect(codeOf(() => store.setPartitionCount("p", 0))).toBe(ErrorCode.INVALID_PARTITIONS);
      expect(codeOf(() => store.createTopic(topic("zero", 0)))).toBe(ErrorCode.INVALID_PARTITIONS);
      expect(codeOf(() => store.createTopic(topic("frac", 1.5)))).toBe(ErrorCode.INVALID_PARTITIONS);
      expect(store.getTopic("p")?.partitions).toBe(5);
      expect(store.getTopic("zero")).toBeNull();
    });

    it("commits, upserts and fetches offsets ordered by topic and partition", () => {
      store.commitOffsets([off("g1", "t2", 0, 10), off("g1", "t1", 1, 5), off("g1", "t1", 0, 7)]);
      store.commitOffsets([off("g1", "t1", 1, 9, { leaderEpoch: 3, metadata: "m", commitTimestamp: 2000 })]);
      expect(store.fetchOffsets("g1")).toEqual([
        off("g1", "t1", 0, 7),
        off("g1", "t1", 1, 9, { leaderEpoch: 3, metadata: "m", commitTimestamp: 2000 }),
        off("g1", "t2", 0, 10),
      ]);
      expect(store.fetchOffsets("g1", "t2")).toEqual([off("g1", "t2", 0, 10)]);
      expect(store.fetchOffsets("g1", "t9")).toEqual([]);
      expect(store.fetchOffsets("nobody")).toEqual([]);
      store.commitOffsets([]);
      expect(store.fetchOffsets("g1")).toHaveLength(3);
    });

    it("keeps offsets at the edge of safe integers exactly", () => {
      const big = Number.MAX_SAFE_INTEGER;
      store.commitOffsets([off("g", "t", 0, big, { leaderEpoch: 2_147_483_647, commitTimestamp: big - 1 })]);
      const [row] = store.fetchOffsets("g");
      expect(row?.offset).toBe(big);
      expect(row?.commitTimestamp).toBe(big - 1);
      expect(row?.leaderEpoch).toBe(2_147_483_647);
    });

    it("lists groups and deletes offsets by partition, group and topic", () => {
      store.commitOffsets([
        off("b", "t1", 0, 1),
        off("b", "t1", 1, 2),
        off("b", "t2", 0, 3),
        off("a", "t1", 0, 4),
        off("c", "t2", 0, 5),
      ]);
      expect(store.listGroups()).toEqual(["a", "b", "c"]);

      store.deleteOffsets("b", [
        { topic: "t1", partition: 1 },
        { topic: "t7", partition: 0 },
      ]);
      expect(store.fetchOffsets("b")).toEqual([off("b", "t1", 0, 1), off("b", "t2", 0, 3)]);
      store.deleteOffsets("b", []);
      expect(store.fetchOffsets("b")).toHaveLength(2);

      store.deleteOffsetsForTopic("t2");
      expect(store.fetchOffsets("b")).toEqual([off("b", "t1", 0, 1)]);
      expect(store.listGroups()).toEqual(["a", "b"]);

      store.deleteGroup("a");
      expect(store.fetchOffsets("a")).toEqual([]);
      expect(store.listGroups()).toEqual(["b"]);
    });

    it("keeps group offsets when a topic is deleted until told to drop them", () => {
      store.createTopic(topic("t", 1));
      store.commitOffsets([off("g", "t", 0, 42)]);
      store.deleteTopic("t");
      expect(store.fetchOffsets("g")).toEqual([off("g", "t", 0, 42)]);
      store.deleteOffsetsForTopic("t");
      expect(store.fetchOffsets("g")).toEqual([]);
    });

    it("gets and overwrites settings", () => {
      expect(store.getSetting("cluster.id")).toBeNull();
      store.setSetting("cluster.id", "abc");
      store.setSetting("cluster.id", "def");
      store.setSetting("node.id", "1");
      expect(store.getSetting("cluster.id")).toBe("def");
      expect(store.getSetting("node.id")).toBe("1");
    });

    it("rejects calls after close with SHUTTING_DOWN; close is idempotent", () => {
      store.close();
      store.close();
      expect(codeOf(() => store.listTopics())).toBe(ErrorCode.SHUTTING_DOWN);
      expect(codeOf(() => store.commitOffsets([off("g", "t", 0, 1)]))).toBe(ErrorCode.SHUTTING_DOWN);
    });
  });
}

describe("MetadataStore file database", () => {
  it("persists topics, configs, offsets and settings across reopen", () => {
    const path = join(dir, "meta.db");
    const t = topic("events", 4, { "retention.bytes": "1000" });
    const s1 = openMetadataStore({ path });
    s1.createTopic(t);
    s1.setPartitionCount("events", 6);
    s1.commitOffsets([off("g", "events", 5, 99, { metadata: "x" })]);
    s1.setSetting("cluster.id", "c-1");
    s1.close();

    const s2 = openMetadataStore({ path });
    expect(s2.getTopic("events")).toEqual({ ...t, partitions: 6 });
    expect(s2.fetchOffsets("g")).toEqual([off("g", "events", 5, 99, { metadata: "x" })]);
    expect(s2.getSetting("cluster.id")).toBe("c-1");
    s2.close();

    // One partition row per partition, ready for per-partition state (leader epochs).
    const raw = new Database(path, { readonly: true });
    try {
      const rows = raw.query("SELECT partition, leader_epoch FROM partitions WHERE topic = 'events'").all();
      expect(rows).toEqual([0, 1, 2, 3, 4, 5].map((p) => ({ partition: p, leader_epoch: 0 })));
    } finally {
      raw.close();
    }
  });

  it("uses WAL mode and records each migration once, however often it is reopened", () => {
    const path = join(dir, "meta.db");
    const clock = new ManualClock(1_800_000_000_000);
    openMetadataStore({ path, clock }).close();
    clock.advance(5000);
    openMetadataStore({ path, clock }).close();
    openMetadataStore({ path, clock }).close();

    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
      const rows = raw.query("SELECT idx, tag, applied_at FROM __migrations ORDER BY idx").all();
      expect(rows).toEqual(
        MIGRATIONS.map((m) => ({ idx: m.idx, tag: m.tag, applied_at: 1_800_000_000_000 })),
      );
      const tables = raw
        .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => r.name);
      expect(tables).toEqual([
        "__migrations",
        "cluster_nodes",
        "group_offsets",
        "leader_epochs",
        "partitions",
        "producer_state",
        "settings",
        "topic_configs",
        "topics",
        "transactions",
      ]);
    } finally {
      raw.close();
    }
  });

  it("applies a newly added migration to an existing database, atomically", () => {
    const path = join(dir, "meta.db");
    const s1 = openMetadataStore({ path });
    s1.setSetting("k", "v");
    s1.close();

    const broken = {
      idx: MIGRATIONS.length,
      tag: "0099_broken",
      hash: "x",
      statements: ["CREATE TABLE extra (a integer)", "THIS IS NOT SQL"],
    };
    expect(codeOf(() => openMetadataStore({ path, migrations: [...MIGRATIONS, broken] }))).toBe(
      ErrorCode.STORAGE_ERROR,
    );
    const next = { ...broken, tag: "0099_extra", statements: ["CREATE TABLE extra (a integer)"] };
    const s2 = openMetadataStore({ path, migrations: [...MIGRATIONS, next] });
    expect(s2.getSetting("k")).toBe("v");
    s2.close();

    const raw = new Database(path, { readonly: true });
    try {
      const tags = raw.query<{ tag: string }, []>("SELECT tag FROM __migrations ORDER BY idx").all();
      expect(tags.map((r) => r.tag)).toEqual([...MIGRATIONS.map((m) => m.tag), "0099_extra"]);
      // The failed attempt left nothing behind: the table exists once, from the good run.
      expect(raw.query("SELECT count(*) AS n FROM extra").get()).toEqual({ n: 0 });
    } finally {
      raw.close();
    }
  });

  it("refuses a database written by a newer Eddy with a clear error", () => {
    const path = join(dir, "meta.db");
    openMetadataStore({ path }).close();
    const raw = new Database(path);
    raw.run("INSERT INTO __migrations (idx, tag, hash, applied_at) VALUES (?, ?, ?, ?)", [
      MIGRATIONS.length,
      "9999_from_the_future",
      "h",
      1,
    ]);
    raw.close();

    let caught: unknown;
    try {
      openMetadataStore({ path });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EddyError);
    const err = caught as EddyError;
    expect(err.code).toBe(ErrorCode.UNSUPPORTED_FORMAT);
    expect(err.details).toMatchObject({ migration: "9999_from_the_future", path });
    expect(err.message).toContain("newer Eddy");
  });

  it("refuses a file that is not a database with STORAGE_ERROR", () => {
    const path = join(dir, "meta.db");
    writeFileSync(path, "this is not a sqlite database, just some text that is long enough\n".repeat(20));
    expect(codeOf(() => openMetadataStore({ path }))).toBe(ErrorCode.STORAGE_ERROR);
  });
});
