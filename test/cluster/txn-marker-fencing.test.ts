/**
 * Fencing deposed transaction coordinators (Kafka's coordinator epoch on
 * WriteTxnMarkers, TRANSACTION_COORDINATOR_FENCED). Markers carry the leader
 * epoch of the coordinator's __transaction_state partition; a data
 * partition keeps, per producer, the highest one it has seen (in snapshots,
 * and rebuilt from the control batches' coordinatorEpoch by a replay or by
 * its leader after a failover) and refuses markers from an older coordinator.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode } from "../../src/broker/index.ts";
import { Partition } from "../../src/broker/partition.ts";
import type { TopicManager } from "../../src/broker/topics.ts";
import { COORDINATOR_PEER_PATH } from "../../src/cluster/coordinator-rpc.ts";
import { coordinatorPartition, TRANSACTION_STATE_TOPIC } from "../../src/cluster/coordinator-placement.ts";
import { encodeJson } from "../../src/cluster/peer-protocol.ts";
import { EddyError } from "../../src/errors.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { readBatchHeader } from "../../src/log/record-batch.ts";
import { DEFAULT_LOG_CONFIG } from "../../src/log/types.ts";
import type { MetadataStore } from "../../src/metadata/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { appendCheckedMarker } from "../../src/txn/markers.ts";
import { loadProducerState, restoreProducers, serializeProducers } from "../../src/txn/producer-snapshot.ts";
import { ProducerStateManager } from "../../src/txn/producer-state.ts";
import { producerBatch } from "../txn/helpers.ts";
import { TestCluster } from "./cluster-harness.ts";
import { txnCoordinator, whenLoaded } from "./coordinators.ts";

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string | null> {
  try {
    await fn();
    return null;
  } catch (err) {
    return err instanceof EddyError ? err.code : `not an EddyError: ${String(err)}`;
  }
}

async function memoryPartition(topic = "t"): Promise<Partition> {
  const store = createMemoryLogStore({ clock: new ManualClock() });
  const log = await store.open(topic, 0, { ...DEFAULT_LOG_CONFIG, durability: "memory" });
  return new Partition({ log, logger: silentLogger, onAdvance: () => {} });
}

const marker = (coordinatorEpoch: number, commit = true) => ({
  producerId: 7,
  producerEpoch: 0,
  commit,
  coordinatorEpoch,
  now: 1,
});

describe("producer state: coordinator epochs of markers", () => {
  it("refuses a marker from an older coordinator epoch and accepts the same or a newer one", async () => {
    const p = await memoryPartition();
    await appendCheckedMarker(p, marker(3));
    expect(p.producers.producers.get(7)?.coordinatorEpoch).toBe(3);
    const end = p.log.offsets().logEndOffset;
    expect(await codeOfAsync(() => appendCheckedMarker(p, marker(2, false)))).toBe(
      ErrorCode.TRANSACTION_COORDINATOR_FENCED,
    );
    expect(p.log.offsets().logEndOffset).toBe(end); // nothing written
    await appendCheckedMarker(p, marker(3));
    await appendCheckedMarker(p, marker(5));
    expect(await codeOfAsync(() => appendCheckedMarker(p, marker(4)))).toBe(
      ErrorCode.TRANSACTION_COORDINATOR_FENCED,
    );
    // Another producer is not affected; a single node's epoch 0 is always fine for a new producer.
    await appendCheckedMarker(p, { ...marker(0), producerId: 8 });
    await appendCheckedMarker(p, { ...marker(0), producerId: 8 });
  });

  it("keeps the epoch in snapshots, and reads old snapshots as 'unknown'", () => {
    const s = new ProducerStateManager("t-0");
    s.onMarker({
      producerId: 7,
      producerEpoch: 0,
      commit: true,
      offset: 4,
      timestamp: 0,
      coordinatorEpoch: 6,
    });
    const json = serializeProducers(s);
    const r = new ProducerStateManager("t-0");
    restoreProducers(r, json.producers, json.aborted);
    expect(r.producers.get(7)).toEqual(s.producers.get(7)!);
    expect(() => r.checkMarker({ producerId: 7, coordinatorEpoch: 5 })).toThrow(EddyError);
    // A snapshot written before coordinator epochs existed: 5 fields per producer.
    restoreProducers(r, "[[7,0,0,-1,[]]]", "[]");
    expect(r.producers.get(7)?.coordinatorEpoch).toBe(-1);
    r.checkMarker({ producerId: 7, coordinatorEpoch: 0 });
  });

  it("rebuilds the epoch from the control batches: replay after a restart, and a follower's copy", async () => {
    const leader = await memoryPartition();
    await appendCheckedMarker(leader, marker(4));
    const read = await leader.log.read(0, 1 << 20);

    // Replay (no snapshot): the coordinator epoch comes from the control record's value.
    const replayed = new Partition({ log: leader.log, logger: silentLogger, onAdvance: () => {} });
    const metadata = { getProducerState: () => null } as unknown as MetadataStore;
    await loadProducerState(replayed, { metadata, logger: silentLogger, now: 1 });
    expect(replayed.producers.producers.get(7)?.coordinatorEpoch).toBe(4);

    // A follower that recorded the marker without decoding its epoch (replica-follower.ts before it
    // used applyLoggedBatch; its snapshots may still hold such markers): when it leads, the pending
    // marker is read from its log before the check.
    const follower = await memoryPartition();
    const info = await follower.appendReplicated(read.bytes);
    const h = readBatchHeader(read.bytes, 0);
    follower.producers.onMarker({
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      commit: true,
      offset: info.baseOffset,
      timestamp: 1,
    });
    expect(follower.producers.pendingMarker(7)).toBe(0);
    expect(await codeOfAsync(() => appendCheckedMarker(follower, marker(3)))).toBe(
      ErrorCode.TRANSACTION_COORDINATOR_FENCED,
    );
    expect(follower.producers.producers.get(7)?.coordinatorEpoch).toBe(4);
    expect(follower.producers.pendingMarker(7)).toBe(-1);
    await appendCheckedMarker(follower, marker(4));
  });
});

// ---------------------------------------------------------------- in-process cluster

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** The data partition as a node holds it (test-only access to the broker's topics). */
function partitionOn(broker: Broker, topic: string): Partition {
  return (broker as unknown as { topics: TopicManager }).topics.partition(topic, 0);
}

describe("a deposed transaction coordinator", () => {
  it("cannot write markers once the new coordinator has; the new one can", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const topic = "fence-data";
    await c.broker(1).createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
    const dataLeader = await c.leaderOf(topic, 0);
    // Pick a transactional id whose coordinator is not the data partition's leader.
    await txnCoordinator(c, "probe");
    const state = await c.broker(1).describeTopic(TRANSACTION_STATE_TOPIC);
    const id = Array.from({ length: 64 }, (_, i) => `fence-${i}`).find(
      (x) => state.partitions[coordinatorPartition(x, state.partitions.length)]!.leader !== dataLeader,
    )!;
    const k = coordinatorPartition(id, state.partitions.length);
    const old = await txnCoordinator(c, id);
    const next = [1, 2, 3].find((n) => n !== old && n !== dataLeader)!;

    const init = await whenLoaded(
      "initProducerId",
      () => c.broker(old).initProducerId({ transactionalId: id, transactionTimeoutMs: 60_000 }),
      { orMoved: true },
    );
    expect(init.error).toBeNull();
    const p = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    const ref = { transactionalId: id, ...p };
    const runTxn = async (coord: number, values: string[], seq: number) => {
      const added = await whenLoaded(
        "addPartitionsToTxn",
        () =>
          c
            .broker(coord)
            .addPartitionsToTxn({ ...ref, partitions: [{ topic, partition: 0 }] })
            .then((r) => ({
              error: r.partitions[0]!.error,
            })),
        { orMoved: true },
      );
      expect(added.error).toBeNull();
      await c.broker(dataLeader).appendBatch({
        topic,
        partition: 0,
        batch: producerBatch(values, { ...p, seq, transactional: true }),
        acks: -1,
      });
      expect((await c.broker(coord).endTxn({ ...ref, commit: true })).error).toBeNull();
    };

    await runTxn(old, ["a", "b"], 0);
    const oldEpoch = (await c.broker(old).describeTopic(TRANSACTION_STATE_TOPIC)).partitions[k]!.leaderEpoch;
    const entry = () => partitionOn(c.broker(dataLeader), topic).producers.producers.get(p.producerId);
    expect(entry()?.coordinatorEpoch).toBe(oldEpoch);

    // Depose the coordinator: move its __transaction_state partition to the two other nodes.
    await c.broker(1).alterPartitionReassignments!([
      { topic: TRANSACTION_STATE_TOPIC, partition: k, replicas: [next, dataLeader] },
    ]);
    expect(await txnCoordinator(c, id, old)).toBe(next);
    // The old node knows it was deposed: it no longer coordinates the id.
    expect((await c.broker(old).endTxn({ ...ref, commit: true })).error).toBe(ErrorCode.NOT_COORDINATOR);

    // The new coordinator's transaction: its markers carry the new, higher epoch.
    await runTxn(next, ["c"], 2);
    const newEpoch = (await c.broker(next).describeTopic(TRANSACTION_STATE_TOPIC)).partitions[k]!.leaderEpoch;
    expect(newEpoch).toBeGreaterThan(oldEpoch);
    expect(entry()?.coordinatorEpoch).toBe(newEpoch);

    // A zombie marker: what the deposed coordinator sends with its old epoch (WriteTxnMarkers).
    const zombie = (to: number, coordinatorEpoch: number) =>
      codeOfAsync(() =>
        c
          .node(old)
          .client.request(
            to,
            COORDINATOR_PEER_PATH,
            encodeJson({ op: "marker", topic, partition: 0, ...p, commit: false, coordinatorEpoch }),
            { timeoutMs: 5_000 },
          ),
      );
    const endBefore = c.broker(dataLeader).partitionState(topic, 0).logEndOffset;
    expect(await zombie(dataLeader, oldEpoch)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    expect(c.broker(dataLeader).partitionState(topic, 0).logEndOffset).toBe(endBefore);

    // The data partition fails over: its new leader knows the epoch from the replicated marker.
    await c.abandon(dataLeader);
    const dataLeader2 = await c.leaderOf(topic, 0, dataLeader);
    expect(await zombie(dataLeader2, oldEpoch)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    // The new coordinator still completes transactions there.
    const added = await whenLoaded(
      "addPartitionsToTxn after failover",
      () =>
        c
          .broker(next)
          .addPartitionsToTxn({ ...ref, partitions: [{ topic, partition: 0 }] })
          .then((r) => ({
            error: r.partitions[0]!.error,
          })),
      { orMoved: true },
    );
    expect(added.error).toBeNull();
    await c.broker(dataLeader2).appendBatch({
      topic,
      partition: 0,
      batch: producerBatch(["d"], { ...p, seq: 3, transactional: true }),
      acks: -1,
    });
    const ended = await whenLoaded(
      "endTxn after failover",
      () => c.broker(next).endTxn({ ...ref, commit: true }),
      { orMoved: true },
    );
    expect(ended.error).toBeNull();
    const r = await c.broker(dataLeader2).readRecords({
      topic,
      partition: 0,
      offset: 0,
      maxRecords: 100,
      isolation: "read_committed",
    });
    expect(r.records.map((x) => new TextDecoder().decode(x.value!))).toEqual(["a", "b", "c", "d"]);
  }, 60_000);
});
