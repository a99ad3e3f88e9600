/**
 * The metadata state machine (src/cluster/metadata-machine.ts) on a real
 * SQLite store: commands apply with their preconditions, replays are skipped,
 * snapshots restore exactly; and the pure controller/replica rules
 * (electLeader, endOfEpoch).
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CommandType, encodeCommand, type MetadataCommand } from "../../src/cluster/commands.ts";
import { electLeader, preferredLeader } from "../../src/cluster/controller.ts";
import { type MetadataChange, MetadataMachine } from "../../src/cluster/metadata-machine.ts";
import { EntryKind, type LogEntry } from "../../src/cluster/raft/types.ts";
import { endOfEpoch } from "../../src/cluster/replica-manager.ts";
import { type MetadataStore, openMetadataStore, type TopicRecord } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";

const dirs: string[] = [];
const stores: MetadataStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fileStore(): { path: string; open: () => MetadataStore } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-mm-"));
  dirs.push(dir);
  const p = path.join(dir, "meta.db");
  return {
    path: p,
    open: () => {
      const s = openMetadataStore({ path: p });
      stores.push(s);
      return s;
    },
  };
}

function machine(store: MetadataStore, changes: MetadataChange[] = []): MetadataMachine {
  return new MetadataMachine({ store, logger: silentLogger, onChange: (c) => changes.push(c) });
}

let nextIndex = 1;
function entry(cmd: MetadataCommand, index = nextIndex++): LogEntry {
  return { index, term: 1, kind: EntryKind.COMMAND, data: encodeCommand(cmd) };
}

const topic = (name: string, partitions = 2): TopicRecord => ({
  name,
  id: `id-${name}`,
  partitions,
  replicationFactor: 3,
  configs: { "retention.ms": "1000" },
  createdAt: 1,
});

describe("metadata machine", () => {
  it("applies topic, partition, leader and ISR commands, skipping stale ones", () => {
    nextIndex = 1;
    const store = fileStore().open();
    const changes: MetadataChange[] = [];
    const m = machine(store, changes);
    m.apply(entry({ type: CommandType.REGISTER_NODE, id: 2, witness: false, at: 5 }));
    m.apply(
      entry({
        type: CommandType.CREATE_TOPIC,
        topic: topic("a"),
        replicas: [
          [1, 2, 3],
          [2, 3, 1],
        ],
      }),
    );
    expect(store.listClusterNodes()).toEqual([{ id: 2, witness: false, registeredAt: 5 }]);
    expect(store.listPartitionAssignments("a")).toEqual([
      { topic: "a", partition: 0, leader: 1, leaderEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3] },
      { topic: "a", partition: 1, leader: 2, leaderEpoch: 0, replicas: [2, 3, 1], isr: [2, 3, 1] },
    ]);
    // Leader change from epoch 0 applies once; a second one computed from epoch 0 is stale.
    const change = (leader: number): MetadataCommand => ({
      type: CommandType.PARTITION_LEADER_CHANGE,
      topic: "a",
      partition: 0,
      prevEpoch: 0,
      leader,
      isr: [leader, 3],
    });
    m.apply(entry(change(2)));
    m.apply(entry(change(3)));
    expect(store.listPartitionAssignments("a")[0]).toMatchObject({ leader: 2, leaderEpoch: 1, isr: [2, 3] });
    // ISR change only from the current leader in the current epoch, and only with the leader in it.
    m.apply(
      entry({ type: CommandType.ISR_CHANGE, topic: "a", partition: 0, leader: 1, leaderEpoch: 0, isr: [1] }),
    );
    m.apply(
      entry({ type: CommandType.ISR_CHANGE, topic: "a", partition: 0, leader: 2, leaderEpoch: 1, isr: [3] }),
    );
    expect(store.listPartitionAssignments("a")[0]!.isr).toEqual([2, 3]);
    m.apply(
      entry({
        type: CommandType.ISR_CHANGE,
        topic: "a",
        partition: 0,
        leader: 2,
        leaderEpoch: 1,
        isr: [2, 3, 1],
      }),
    );
    expect(store.listPartitionAssignments("a")[0]!.isr).toEqual([2, 3, 1]);
    // Grow from the current count only; configs replace the overrides.
    m.apply(entry({ type: CommandType.CREATE_PARTITIONS, name: "a", from: 1, replicas: [[3]] }));
    m.apply(entry({ type: CommandType.CREATE_PARTITIONS, name: "a", from: 2, replicas: [[3, 1, 2]] }));
    expect(store.getTopic("a")!.partitions).toBe(3);
    expect(store.listPartitionAssignments("a")[2]).toMatchObject({ leader: 3, replicas: [3, 1, 2] });
    m.apply(entry({ type: CommandType.ALTER_CONFIGS, name: "a", configs: { "retention.ms": "5" } }));
    expect(store.getTopic("a")!.configs).toEqual({ "retention.ms": "5" });
    // Delete needs the same topic id (a re-created topic is not deleted by an old command).
    m.apply(entry({ type: CommandType.DELETE_TOPIC, name: "a", id: "other" }));
    expect(store.getTopic("a")).not.toBeNull();
    m.apply(entry({ type: CommandType.DELETE_TOPIC, name: "a", id: "id-a" }));
    expect(store.getTopic("a")).toBeNull();
    expect(m.applied).toBe(nextIndex - 1);
    expect(changes.map((c) => c.kind)).toEqual([
      "nodes",
      "topics",
      "partition",
      "partition",
      "topics",
      "topics",
      "topics",
    ]);
  });

  it("skips entries it already applied after a restart, and ignores a stored snapshot it is ahead of", () => {
    const f = fileStore();
    const store = f.open();
    const m = machine(store);
    m.apply(entry({ type: CommandType.CREATE_TOPIC, topic: topic("x", 1), replicas: [[1]] }, 1));
    const snap = { meta: { index: 1, term: 1, config: { voters: [{ id: 1 }] } }, data: m.snapshot() };
    m.apply(entry({ type: CommandType.CREATE_TOPIC, topic: topic("y", 1), replicas: [[1]] }, 2));
    store.close();
    stores.splice(stores.indexOf(store), 1);

    const again = f.open();
    const changes: MetadataChange[] = [];
    const m2 = machine(again, changes);
    expect(m2.applied).toBe(2);
    m2.restore(snap); // older than the store: must not delete "y"
    m2.apply(entry({ type: CommandType.DELETE_TOPIC, name: "x", id: "id-x" }, 1)); // replayed: skipped
    expect(again.listTopics().map((t) => t.name)).toEqual(["x", "y"]);
    expect(changes).toEqual([]);
    m2.apply({ index: 3, term: 2, kind: EntryKind.NOOP, data: new Uint8Array(0) });
    expect(m2.applied).toBe(3);
  });

  it("restores a snapshot exactly: topics, configs, assignments and nodes", async () => {
    const a = fileStore().open();
    const m = machine(a);
    m.apply(entry({ type: CommandType.REGISTER_NODE, id: 1, witness: false, at: 1 }, 1));
    m.apply(entry({ type: CommandType.REGISTER_NODE, id: 3, witness: true, at: 1 }, 2));
    m.apply(entry({ type: CommandType.CREATE_TOPIC, topic: topic("keep"), replicas: [[1], [1]] }, 3));
    m.apply(
      entry(
        {
          type: CommandType.PARTITION_LEADER_CHANGE,
          topic: "keep",
          partition: 1,
          prevEpoch: 0,
          leader: -1,
          isr: [1],
        },
        4,
      ),
    );
    const snap = { meta: { index: 4, term: 1, config: { voters: [{ id: 1 }] } }, data: m.snapshot() };

    const b = fileStore().open();
    const mb = machine(b);
    mb.apply(entry({ type: CommandType.CREATE_TOPIC, topic: topic("gone", 1), replicas: [[2]] }, 1));
    mb.apply(
      entry(
        { type: CommandType.CREATE_TOPIC, topic: { ...topic("keep", 1), id: "old" }, replicas: [[2]] },
        2,
      ),
    );
    const changes: MetadataChange[] = [];
    const mc = machine(b, changes);
    mc.restore(snap);
    expect(b.listTopics()).toEqual(a.listTopics());
    expect(b.listPartitionAssignments()).toEqual(a.listPartitionAssignments());
    expect(b.listClusterNodes()).toEqual(a.listClusterNodes());
    expect(mc.applied).toBe(4);
    expect(changes).toEqual([{ kind: "reset" }]);
    await mc.waitApplied(4);
  });
});

describe("leader election rule", () => {
  const a = { topic: "t", partition: 0, leader: 1, leaderEpoch: 4, replicas: [1, 2, 3], isr: [1, 3] };

  it("keeps a live leader, elects the first live ISR replica otherwise, and never goes outside the ISR", () => {
    expect(electLeader(a, new Set([1, 2, 3]))).toBeNull();
    expect(electLeader(a, new Set([2, 3]))).toMatchObject({ leader: 3, prevEpoch: 4, isr: [3] });
    // Node 2 is alive but not in sync: no unclean election; the partition goes leaderless.
    expect(electLeader(a, new Set([2]))).toMatchObject({ leader: -1, isr: [1, 3] });
    expect(electLeader({ ...a, leader: -1 }, new Set([2]))).toBeNull();
    // The last ISR member comes back: it leads again.
    expect(electLeader({ ...a, leader: -1, isr: [1] }, new Set([1, 2]))).toMatchObject({
      leader: 1,
      isr: [1],
    });
  });

  it("moves leadership back to the preferred replica only when it is alive and in sync", () => {
    const moved = { ...a, leader: 3 };
    expect(preferredLeader(moved, new Set([1, 2, 3]))).toMatchObject({
      leader: 1,
      prevEpoch: 4,
      isr: [1, 3],
    });
    expect(preferredLeader(moved, new Set([2, 3]))).toBeNull();
    expect(preferredLeader({ ...moved, isr: [3] }, new Set([1, 2, 3]))).toBeNull();
    expect(preferredLeader(a, new Set([1, 2, 3]))).toBeNull();
  });
});

describe("leader epoch end offsets (OffsetForLeaderEpoch)", () => {
  const epochs = [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 10 },
    { epoch: 5, startOffset: 25 },
  ];
  it("answers the end of the largest epoch at or below the asked one", () => {
    expect(endOfEpoch(epochs, 0, 40)).toEqual({ epoch: 0, endOffset: 10 });
    expect(endOfEpoch(epochs, 1, 40)).toEqual({ epoch: 0, endOffset: 10 });
    expect(endOfEpoch(epochs, 2, 40)).toEqual({ epoch: 2, endOffset: 25 });
    expect(endOfEpoch(epochs, 7, 40)).toEqual({ epoch: 5, endOffset: 40 });
    expect(endOfEpoch([{ epoch: 3, startOffset: 7 }], 1, 40)).toEqual({ epoch: -1, endOffset: 7 });
    expect(endOfEpoch([], 1, 12)).toEqual({ epoch: -1, endOffset: 12 });
  });
});
