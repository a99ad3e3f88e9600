/**
 * Coordinators fail over with their partitions (issue 7, item 5), on 3
 * in-process nodes: the group coordinator of G is the leader of
 * __consumer_offsets partition hash(G) % 8, committed offsets are replicated
 * there and served by the next leader after the coordinator dies; other
 * nodes answer NOT_COORDINATOR; FindCoordinator points at the leader. The
 * transaction coordinator (__transaction_state) completes a transaction it
 * finds in PrepareCommit after a failover; idempotent producers are
 * deduplicated by the new partition leader.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode } from "../../src/broker/index.ts";
import {
  CONSUMER_OFFSETS_TOPIC,
  coordinatorPartition,
  javaHashCode,
} from "../../src/cluster/coordinator-placement.ts";
import type { FindCoordinatorRequest } from "../../src/kafka/generated/find-coordinator-request.ts";
import type { FindCoordinatorResponse } from "../../src/kafka/generated/find-coordinator-response.ts";
import type { HandlerContext } from "../../src/kafka/handlers/context.ts";
import { handler as findCoordinatorHandler } from "../../src/kafka/handlers/find-coordinator.ts";
import type { RequestHeader } from "../../src/kafka/protocol/headers.ts";
import type { TransactionRecord } from "../../src/metadata/types.ts";
import { codeOf } from "../broker/helpers.ts";
import { producerBatch } from "../txn/helpers.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";
import { groupCoordinator, txnCoordinator, whenLoaded } from "./coordinators.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Simple (generation -1) commit on `broker`, retried while the coordinator loads. */
async function commitWhenLoaded(broker: Broker, group: string, offsets: Array<[string, number, number]>) {
  await waitFor(`${group} commit accepted`, async () => {
    const r = await broker.groups.commitOffsets({
      groupId: group,
      generationId: -1,
      memberId: "",
      offsets: offsets.map(([topic, partition, offset]) => ({ topic, partition, offset, metadata: "m" })),
    });
    if (r.error === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return false;
    expect(r.error).toBeNull();
    expect(r.partitions.map((p) => p.error)).toEqual(offsets.map(() => null));
    return true;
  });
}

async function committed(broker: Broker, group: string): Promise<Array<[string, number, number]>> {
  return (await broker.fetchOffsets(group, undefined, { requireCoordinator: true }))
    .map((o): [string, number, number] => [o.topic, o.partition, o.offset])
    .sort((a, b) => a[1] - b[1]);
}

describe("coordinator placement", () => {
  it("hashes keys as Kafka does (Java String.hashCode, abs, modulo)", () => {
    expect(javaHashCode("")).toBe(0);
    expect(javaHashCode("hello")).toBe(99162322);
    // Overflows to a negative int in Java; Kafka's Utils.abs masks the sign bit.
    expect(javaHashCode("consumer-group-with-a-long-name")).toBeLessThan(0);
    expect(coordinatorPartition("hello", 50)).toBe(99162322 % 50);
    for (const g of ["a", "group-1", "consumer-group-with-a-long-name"]) {
      const p = coordinatorPartition(g);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(8);
    }
  });
});

describe("group coordinator failover", () => {
  it("serves committed offsets from the new coordinator after the old one dies", async () => {
    const kafkaAddresses = new Map([1, 2, 3].map((id) => [id, { host: "127.0.0.1", port: 19_190 + id }]));
    cluster = await TestCluster.start(3, { kafkaAddresses });
    const c = cluster;
    await c.broker(1).createTopic({ name: "orders", partitions: 2, replicationFactor: 3 });
    const group = "billing";
    const coord = await groupCoordinator(c, group);
    // The coordinator is the leader of the group's __consumer_offsets partition (RF 3, 8 partitions).
    const offsetsTopic = await c.broker(coord).describeTopic(CONSUMER_OFFSETS_TOPIC);
    expect(offsetsTopic.partitions.length).toBe(8);
    expect(offsetsTopic.replicationFactor).toBe(3);
    expect(offsetsTopic.internal).toBe(true);
    expect(offsetsTopic.partitions[coordinatorPartition(group)]!.leader).toBe(coord);

    // Kafka FindCoordinator on any node answers with the coordinator's Kafka address.
    const other = [1, 2, 3].find((id) => id !== coord)!;
    const ctx = {
      broker: c.broker(other),
      nodeId: other,
      advertisedHost: "localhost",
      advertisedPort: 9092,
    } as unknown as HandlerContext;
    const found = (await findCoordinatorHandler.handle(
      ctx,
      { apiVersion: 4 } as RequestHeader,
      { key: "", keyType: 0, coordinatorKeys: [group] } as FindCoordinatorRequest,
    )) as FindCoordinatorResponse;
    expect(found.coordinators.map((x) => [x.errorCode, x.nodeId, x.host, x.port])).toEqual([
      [0, coord, "127.0.0.1", 19_190 + coord],
    ]);

    // Other nodes refuse the group: the client finds the coordinator again.
    const refused = await c.broker(other).groups.commitOffsets({
      groupId: group,
      generationId: -1,
      memberId: "",
      offsets: [{ topic: "orders", partition: 0, offset: 1 }],
    });
    expect(refused.error).toBe(ErrorCode.NOT_COORDINATOR);
    expect(await codeOf(c.broker(other).fetchOffsets(group, undefined, { requireCoordinator: true }))).toBe(
      ErrorCode.NOT_COORDINATOR,
    );
    const join = await c.broker(other).groups.joinGroup({
      groupId: group,
      memberId: "",
      clientId: "c",
      clientHost: "/127.0.0.1",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: new Uint8Array(0) }],
      requireKnownMemberId: true,
    });
    expect(join.error).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await c.broker(other).groups.describeGroups([group]))[0]!.error).toBe(ErrorCode.NOT_COORDINATOR);

    await commitWhenLoaded(c.broker(coord), group, [
      ["orders", 0, 42],
      ["orders", 1, 7],
    ]);
    await commitWhenLoaded(c.broker(coord), group, [["orders", 0, 43]]);
    expect(await committed(c.broker(coord), group)).toEqual([
      ["orders", 0, 43],
      ["orders", 1, 7],
    ]);
    expect(await c.broker(coord).listGroups({ requireCoordinator: true })).toContain(group);
    expect(await c.broker(other).listGroups({ requireCoordinator: true })).not.toContain(group);
    // Without the flag (HTTP, CLI) every node lists every coordinator's groups.
    expect(await c.broker(other).listGroups()).toContain(group);

    // The coordinator dies: the next leader of the partition loads the offsets from the log.
    await c.abandon(coord);
    const next = await groupCoordinator(c, group, coord);
    expect(next).not.toBe(coord);
    await waitFor("the new coordinator serves the group", async () => {
      try {
        return (await committed(c.broker(next), group)).length === 2;
      } catch (err) {
        if ((err as { code?: string }).code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return false;
        throw err;
      }
    });
    expect(await committed(c.broker(next), group)).toEqual([
      ["orders", 0, 43],
      ["orders", 1, 7],
    ]);
    const meta = (await c.broker(next).fetchOffsets(group)).map((o) => o.metadata);
    expect(meta).toEqual(["m", "m"]);
    // It goes on committing; the remaining node still refuses.
    await commitWhenLoaded(c.broker(next), group, [["orders", 1, 9]]);
    const third = [1, 2, 3].find((id) => id !== coord && id !== next)!;
    expect(await codeOf(c.broker(third).fetchOffsets(group, undefined, { requireCoordinator: true }))).toBe(
      ErrorCode.NOT_COORDINATOR,
    );

    // The old coordinator comes back: it follows; whoever leads serves the latest offsets.
    await c.restart(coord);
    await waitFor("the old node caught up", () => c.broker(coord).clusterStatus()?.ready === true);
    const now = await groupCoordinator(c, group);
    await waitFor("the offsets after the restart", async () => {
      try {
        const got = await committed(c.broker(now), group);
        return got.length === 2 && got[1]![2] === 9;
      } catch {
        return false;
      }
    });
  }, 60_000);

  it("deletes a group's offsets through the log (tombstones survive a failover)", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "t", partitions: 1, replicationFactor: 3 });
    const group = "short-lived";
    const coord = await groupCoordinator(c, group);
    await commitWhenLoaded(c.broker(coord), group, [["t", 0, 5]]);
    const deleted = await c.broker(coord).groups.deleteGroups([group]);
    expect(deleted).toEqual([{ groupId: group, error: null }]);
    await c.abandon(coord);
    const next = await groupCoordinator(c, group, coord);
    await waitFor("the new coordinator loaded", async () => {
      try {
        await c.broker(next).fetchOffsets(group);
        return true;
      } catch {
        return false;
      }
    });
    expect(await c.broker(next).fetchOffsets(group)).toEqual([]);
    expect(await c.broker(next).listGroups()).not.toContain(group);
  }, 60_000);
});

async function committedValues(c: TestCluster, topic: string): Promise<string[]> {
  const leader = await c.leaderOf(topic, 0);
  const r = await c.broker(leader).readRecords({
    topic,
    partition: 0,
    offset: 0,
    maxRecords: 1000,
    isolation: "read_committed",
  });
  return r.records.map((x) => new TextDecoder().decode(x.value!));
}

describe("transaction coordinator failover", () => {
  it("keeps committed transactions and completes one left in PrepareCommit", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "tx-data", partitions: 1, replicationFactor: 3 });
    const id = "payments-tx";
    const coord = await txnCoordinator(c, id);
    const other = [1, 2, 3].find((n) => n !== coord)!;
    const refused = await c
      .broker(other)
      .initProducerId({ transactionalId: id, transactionTimeoutMs: 60_000 });
    expect(refused.error).toBe(ErrorCode.NOT_COORDINATOR);

    const init = await whenLoaded("initProducerId", () =>
      c.broker(coord).initProducerId({ transactionalId: id, transactionTimeoutMs: 60_000 }),
    );
    expect(init.error).toBeNull();
    const p = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    const ref = { transactionalId: id, ...p };
    const runTxn = async (values: string[], seq: number) => {
      const added = await c
        .broker(coord)
        .addPartitionsToTxn({ ...ref, partitions: [{ topic: "tx-data", partition: 0 }] });
      expect(added.partitions.map((x) => x.error)).toEqual([null]);
      const leader = await c.leaderOf("tx-data", 0);
      await c.broker(leader).appendBatch({
        topic: "tx-data",
        partition: 0,
        batch: producerBatch(values, { ...p, seq, transactional: true }),
        acks: -1,
      });
    };
    await runTxn(["a", "b"], 0);
    // The markers travel to another node (placement is deterministic for these names).
    expect(await c.leaderOf("tx-data", 0)).not.toBe(coord);
    expect((await c.broker(coord).endTxn({ ...ref, commit: true })).error).toBeNull();
    expect(await committedValues(c, "tx-data")).toEqual(["a", "b"]);

    // A second transaction: its coordinator persists PrepareCommit, then dies before writing markers.
    await runTxn(["c"], 2);
    expect(await committedValues(c, "tx-data")).toEqual(["a", "b"]);
    const prepared: TransactionRecord = {
      ...c
        .broker(coord)
        .describeTransactions()
        .find((t) => t.transactionalId === id)!,
      state: "PrepareCommit",
      pendingOffsets: [],
      updatedAt: Date.now(),
    };
    // Test-only: write the PrepareCommit record the way the coordinator does, without acting on it.
    const internals = c.broker(coord) as unknown as {
      coordinators: { txnLog: { persist(t: TransactionRecord): Promise<void> } };
    };
    await internals.coordinators.txnLog.persist(prepared);
    await c.abandon(coord);

    const next = await txnCoordinator(c, id, coord);
    // The new coordinator loads the state, completes the commit (markers), and knows the producer.
    await waitFor("the prepared transaction completes", async () => {
      const t = c
        .broker(next)
        .describeTransactions()
        .find((x) => x.transactionalId === id);
      return t?.state === "CompleteCommit";
    });
    expect(await committedValues(c, "tx-data")).toEqual(["a", "b", "c"]);
    const again = await whenLoaded("initProducerId on the new coordinator", () =>
      c.broker(next).initProducerId({ transactionalId: id, transactionTimeoutMs: 60_000 }),
    );
    expect(again.error).toBeNull();
    expect(again.producerId).toBe(p.producerId);
    expect(again.producerEpoch).toBe(p.producerEpoch + 1);
  }, 60_000);

  it("aborts an Ongoing transaction of a dead coordinator when it times out", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "tx-open", partitions: 1, replicationFactor: 3 });
    const id = "open-tx";
    const coord = await txnCoordinator(c, id);
    const init = await whenLoaded("initProducerId", () =>
      c.broker(coord).initProducerId({ transactionalId: id, transactionTimeoutMs: 500 }),
    );
    const p = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    await c
      .broker(coord)
      .addPartitionsToTxn({ transactionalId: id, ...p, partitions: [{ topic: "tx-open", partition: 0 }] });
    const leader = await c.leaderOf("tx-open", 0);
    await c.broker(leader).appendBatch({
      topic: "tx-open",
      partition: 0,
      batch: producerBatch(["x"], { ...p, seq: 0, transactional: true }),
      acks: -1,
    });
    await c.abandon(coord);
    const next = await txnCoordinator(c, id, coord);
    await waitFor("the open transaction is aborted after its timeout", async () => {
      await c.broker(next).runTransactionTimeouts();
      return (
        c
          .broker(next)
          .describeTransactions()
          .find((t) => t.transactionalId === id)?.state === "CompleteAbort"
      );
    });
    const dataLeader = await c.leaderOf("tx-open", 0);
    const st = c.broker(dataLeader).partitionState("tx-open", 0);
    expect(st.lastStableOffset).toBe(st.highWatermark);
    expect(await committedValues(c, "tx-open")).toEqual([]);
  }, 60_000);
});

describe("idempotent producer failover", () => {
  it("deduplicates a retried batch and rejects a sequence gap on the new leader", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "idem", partitions: 1, replicationFactor: 3 });
    const leader = await c.leaderOf("idem", 0);
    const init = await c
      .broker(leader)
      .initProducerId({ transactionalId: null, transactionTimeoutMs: 60_000 });
    const p = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    const first = producerBatch(["one", "two"], { ...p, seq: 0 });
    const second = producerBatch(["three"], { ...p, seq: 2 });
    const r1 = await c.broker(leader).appendBatch({ topic: "idem", partition: 0, batch: first, acks: -1 });
    const r2 = await c.broker(leader).appendBatch({ topic: "idem", partition: 0, batch: second, acks: -1 });
    expect([r1.baseOffset, r2.baseOffset]).toEqual([0, 2]);
    await c.abandon(leader);
    const next = await c.leaderOf("idem", 0, leader);
    // The retried batches (same producer, epoch, sequence) are recognised, not written again.
    const again = await c.broker(next).appendBatch({ topic: "idem", partition: 0, batch: second, acks: -1 });
    expect(again.duplicate).toBe(true);
    expect(again.baseOffset).toBe(2);
    const older = await c.broker(next).appendBatch({ topic: "idem", partition: 0, batch: first, acks: -1 });
    expect(older.duplicate).toBe(true);
    expect(older.baseOffset).toBe(0);
    expect(
      await codeOf(
        c.broker(next).appendBatch({
          topic: "idem",
          partition: 0,
          batch: producerBatch(["gap"], { ...p, seq: 7 }),
          acks: -1,
        }),
      ),
    ).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
    const r3 = await c.broker(next).appendBatch({
      topic: "idem",
      partition: 0,
      batch: producerBatch(["four"], { ...p, seq: 3 }),
      acks: -1,
    });
    expect(r3.baseOffset).toBe(3);
    expect(r3.duplicate).toBeUndefined();
    const read = await c.broker(next).readRecords({ topic: "idem", partition: 0, offset: 0, maxRecords: 10 });
    expect(read.records.map((x) => new TextDecoder().decode(x.value!))).toEqual([
      "one",
      "two",
      "three",
      "four",
    ]);
  }, 60_000);
});
