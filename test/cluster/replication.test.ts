/**
 * Partition replication on 3 in-process nodes over the real peer transport
 * (h2c on loopback): RF=3 topics replicate, acks=all survives the leader's
 * loss, min.insync.replicas is enforced, followers truncate by leader epoch
 * after a failover, and a restarted node catches up and rejoins the ISR.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { type AppendBatchResult, encodeBatch, ErrorCode } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { MetadataRequest } from "../../src/kafka/generated/metadata-request.ts";
import type { HandlerContext } from "../../src/kafka/handlers/context.ts";
import { handler as metadataHandler } from "../../src/kafka/handlers/metadata.ts";
import type { RequestHeader } from "../../src/kafka/protocol/headers.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { codeOf, dec, enc, memoryBroker } from "../broker/helpers.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("replication", () => {
  it("replicates an RF=3 topic to every node and refuses writes on followers", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const created = await c.broker(2).createTopic({ name: "t", partitions: 2, replicationFactor: 3 });
    expect(created.replicationFactor).toBe(3);
    for (const p of created.partitions) {
      expect([...p.replicas].sort()).toEqual([1, 2, 3]);
      expect([...p.isr].sort()).toEqual([1, 2, 3]);
      expect(p.leader).toBe(p.replicas[0]!);
    }
    // Every node comes to the same assignment (the metadata log).
    const want = JSON.stringify(created.partitions.map((p) => [p.leader, p.leaderEpoch, p.replicas, p.isr]));
    await waitFor("every node applied the topic", async () => {
      for (const id of [1, 3]) {
        const d = await c.broker(id).describeTopic("t");
        if (JSON.stringify(d.partitions.map((p) => [p.leader, p.leaderEpoch, p.replicas, p.isr])) !== want)
          return false;
      }
      return true;
    });
    const leader = await c.leaderOf("t", 0);
    expect(leader).toBe(created.partitions[0]!.leader);
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    const res = await c.broker(leader).produce({
      topic: "t",
      partition: 0,
      acks: -1,
      records: values.map((v) => ({ value: enc(v) })),
    });
    expect(res.partitions[0]!.lastOffset).toBe(19);
    // acks=all: every ISR member holds the records once acknowledged.
    for (const id of [1, 2, 3]) expect(c.broker(id).partitionState("t", 0).logEndOffset).toBe(20);
    await waitFor("followers learn the high watermark", () =>
      [1, 2, 3].every((id) => c.broker(id).partitionState("t", 0).highWatermark === 20),
    );
    const read = await c.broker(leader).readRecords({ topic: "t", partition: 0, offset: 0, maxRecords: 100 });
    expect(read.records.map((r) => dec(r.value))).toEqual(values);
    // Kafka-style callers (requireLeader) are refused on a follower; others are forwarded (frontends-any-node.test.ts).
    expect(
      await codeOf(
        c
          .broker(follower)
          .produce({ topic: "t", partition: 0, requireLeader: true, records: [{ value: enc("x") }] }),
      ),
    ).toBe(ErrorCode.NOT_LEADER);
    // Followers serve reads from their replica, up to the high watermark.
    const fromFollower = await c
      .broker(follower)
      .readRecords({ topic: "t", partition: 0, offset: 0, maxRecords: 100 });
    expect(fromFollower.records.map((r) => dec(r.value))).toEqual(values);
    const fetched = await c.broker(follower).fetch({ partitions: [{ topic: "t", partition: 0, offset: 0 }] });
    expect(fetched.partitions[0]!.error).toBe(ErrorCode.NOT_LEADER);
    // Delete-records is the leader's; followers follow its log start offset.
    expect(await codeOf(c.broker(follower).deleteRecords("t", 0, 5))).toBe(ErrorCode.NOT_LEADER);
    expect(await c.broker(leader).deleteRecords("t", 0, 5)).toBe(5);
    await c.broker(leader).produce({ topic: "t", partition: 0, acks: -1, records: [{ value: enc("v20") }] });
    await waitFor("followers follow the log start offset", () =>
      [1, 2, 3].every((id) => c.broker(id).partitionState("t", 0).logStartOffset === 5),
    );
  });

  it("keeps every acks=all record when the leader is lost: a new leader from the ISR has them all", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({
      name: "ha",
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": 2 },
    });
    const acked: string[] = [];
    const old = await c.leaderOf("ha", 0);
    for (let i = 0; i < 5; i++) {
      const values = Array.from({ length: 10 }, (_, j) => `a${i * 10 + j}`);
      await c
        .broker(old)
        .produce({ topic: "ha", partition: 0, acks: -1, records: values.map((v) => ({ value: enc(v) })) });
      acked.push(...values);
    }
    const oldEpoch = (await c.broker(old).describeTopic("ha")).partitions[0]!.leaderEpoch;
    await c.abandon(old);
    const survivor = c.live()[0]!.id;
    await waitFor("a new leader", async () => {
      const p = (await c.broker(survivor).describeTopic("ha")).partitions[0]!;
      return p.leader !== old && p.leader >= 0 && p.leaderEpoch > oldEpoch;
    });
    const leader = await c.leaderOf("ha", 0, old);
    const d = (await c.broker(leader).describeTopic("ha")).partitions[0]!;
    expect(d.isr).not.toContain(old);
    expect(d.isr).toContain(leader);
    // The new leader accepts acks=all writes once it knows it leads, with the surviving follower in sync.
    await waitFor("the new leader accepts writes", async () => {
      await c
        .broker(leader)
        .produce({ topic: "ha", partition: 0, acks: -1, timeoutMs: 2_000, records: [{ value: enc("b0") }] });
      return true;
    });
    acked.push("b0");
    await waitFor("everything acknowledged is visible on the new leader", async () => {
      const r = await c
        .broker(leader)
        .readRecords({ topic: "ha", partition: 0, offset: 0, maxRecords: 1000 });
      return r.records.length >= acked.length;
    });
    const r = await c.broker(leader).readRecords({ topic: "ha", partition: 0, offset: 0, maxRecords: 1000 });
    const got = r.records.map((x) => dec(x.value));
    // No acknowledged record lost, in order; "b0" may appear twice if a retry raced the leader change.
    expect(got.slice(0, 50)).toEqual(acked.slice(0, 50));
    expect(got).toContain("b0");
    expect(r.records.map((x) => x.offset)).toEqual(got.map((_, i) => i));
  });

  it("refuses acks=all with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas; a restarted node catches up and rejoins", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({
      name: "mi",
      partitions: 1,
      replicationFactor: 3,
      configs: { "min.insync.replicas": 3 },
    });
    const leader = await c.leaderOf("mi", 0);
    await c
      .broker(leader)
      .produce({ topic: "mi", partition: 0, acks: -1, records: [{ value: enc("first") }] });
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    await c.abandon(follower);
    // Written while the ISR still counts the dead follower: once the ISR shrinks
    // below min.insync.replicas the write is refused after the append.
    expect(
      await codeOf(
        c.broker(leader).produce({ topic: "mi", partition: 0, acks: -1, records: [{ value: enc("w") }] }),
      ),
    ).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    await waitFor("the ISR shrinks", async () => {
      const p = (await c.broker(leader).describeTopic("mi")).partitions[0]!;
      return !p.isr.includes(follower);
    });
    // Now refused before anything is written.
    const before = c.broker(leader).partitionState("mi", 0).logEndOffset;
    expect(
      await codeOf(
        c.broker(leader).produce({ topic: "mi", partition: 0, acks: -1, records: [{ value: enc("x") }] }),
      ),
    ).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(c.broker(leader).partitionState("mi", 0).logEndOffset).toBe(before);
    // acks=1 still works, and those records are committed by the remaining ISR.
    const values = Array.from({ length: 30 }, (_, i) => `m${i}`);
    for (const v of values)
      await c.broker(leader).produce({ topic: "mi", partition: 0, acks: 1, records: [{ value: enc(v) }] });

    await c.restart(follower);
    await waitFor("the restarted node rejoins the ISR", async () => {
      const p = (await c.broker(leader).describeTopic("mi")).partitions[0]!;
      return p.isr.includes(follower);
    });
    expect(c.broker(follower).partitionState("mi", 0).logEndOffset).toBeGreaterThanOrEqual(32);
    await c
      .broker(leader)
      .produce({ topic: "mi", partition: 0, acks: -1, records: [{ value: enc("last") }] });
    expect(c.broker(follower).partitionState("mi", 0).logEndOffset).toBe(33);
  });

  it("truncates a deposed leader's divergent tail by leader epoch when it rejoins", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "tr", partitions: 1, replicationFactor: 3 });
    const old = await c.leaderOf("tr", 0);
    const committed = Array.from({ length: 10 }, (_, i) => `c${i}`);
    await c
      .broker(old)
      .produce({ topic: "tr", partition: 0, acks: -1, records: committed.map((v) => ({ value: enc(v) })) });

    // Cut the leader off; it still takes acks=1 writes nobody else will ever see.
    await c.isolate(old);
    for (let i = 0; i < 5; i++) {
      await c.broker(old).produce({ topic: "tr", partition: 0, acks: 1, records: [{ value: enc(`d${i}`) }] });
    }
    expect(c.broker(old).partitionState("tr", 0).logEndOffset).toBe(15);

    const leader = await c.leaderOf("tr", 0, old);
    const later = Array.from({ length: 10 }, (_, i) => `e${i}`);
    await waitFor("the new leader takes acks=all writes", async () => {
      await c.broker(leader).produce({
        topic: "tr",
        partition: 0,
        acks: -1,
        timeoutMs: 2_000,
        records: [{ value: enc(later[0]!) }],
      });
      return true;
    });
    await c.broker(leader).produce({
      topic: "tr",
      partition: 0,
      acks: -1,
      records: later.slice(1).map((v) => ({ value: enc(v) })),
    });

    await c.shutdown(old); // clean: its log is flushed to 15
    await c.restart(old);
    // Restarted, it exposes nothing beyond its last checkpointed high watermark (the d* records never committed).
    expect(c.broker(old).partitionState("tr", 0).highWatermark).toBeLessThanOrEqual(10);
    await waitFor("the old leader rejoins the ISR as a follower", async () => {
      const p = (await c.broker(leader).describeTopic("tr")).partitions[0]!;
      return p.isr.includes(old) && p.leader === leader;
    });
    await waitFor(
      "the old leader caught up",
      () => c.broker(old).partitionState("tr", 0).logEndOffset === 20,
    );
    await c.shutdown(old);
    const got = (await c.logRecords(old, "tr", 0)).map((r) => `${r.offset}:${dec(r.value)}`);
    expect(got).toEqual([...committed, ...later].map((v, i) => `${i}:${v}`));
  });

  it("brings a node that missed compacted metadata up to date through a Raft snapshot", async () => {
    cluster = await TestCluster.start(3, { snapshotEvery: 4 });
    const c = cluster;
    await c.broker(1).createTopic({ name: "s0", partitions: 1, replicationFactor: 3 });
    const down = 3;
    await c.shutdown(down);
    for (let i = 1; i <= 6; i++)
      await c.broker(1).createTopic({ name: `s${i}`, partitions: 1, replicationFactor: 2 });
    await c.broker(1).deleteTopic("s0");
    await c.restart(down);
    await waitFor("the restarted node caught up", () => c.broker(down).clusterStatus()?.ready === true);
    await waitFor("the restarted node has the topics", async () => {
      const names = (await c.broker(down).listTopics()).map((t) => t.name);
      return JSON.stringify(names) === JSON.stringify(["s1", "s2", "s3", "s4", "s5", "s6"]);
    });
    // The deleted topic's data is gone there too.
    await waitFor("s0's data removed", () => !fs.existsSync(path.join(c.node(down).dir, "data", "s0-0")));
    // It takes its roles from the restored state: it leads or follows the partitions assigned to it.
    for (let i = 1; i <= 6; i++) {
      const d = (await c.broker(down).describeTopic(`s${i}`)).partitions[0]!;
      const leader = await c.leaderOf(`s${i}`, 0);
      expect(d.replicas).toContain(leader);
      await c
        .broker(leader)
        .produce({ topic: `s${i}`, partition: 0, acks: -1, records: [{ value: enc("v") }] });
      if (d.replicas.includes(down)) {
        await waitFor(
          "the restarted replica fetched",
          () => c.broker(down).partitionState(`s${i}`, 0).logEndOffset === 1,
        );
      }
    }
  });

  it("hands leadership back to the preferred replica once it has caught up", async () => {
    cluster = await TestCluster.start(3, { preferredLeaderCheckMs: 200 });
    const c = cluster;
    const created = await c.broker(1).createTopic({ name: "pl", partitions: 1, replicationFactor: 3 });
    const preferred = created.partitions[0]!.replicas[0]!;
    expect(await c.leaderOf("pl", 0)).toBe(preferred);
    await c.abandon(preferred);
    const interim = await c.leaderOf("pl", 0, preferred);
    await waitFor("writes on the interim leader", async () => {
      await c
        .broker(interim)
        .produce({ topic: "pl", partition: 0, acks: -1, timeoutMs: 2_000, records: [{ value: enc("x") }] });
      return true;
    });
    await c.restart(preferred);
    await waitFor("the preferred replica leads again", async () => {
      const p = (await c.broker(preferred).describeTopic("pl")).partitions[0]!;
      return p.leader === preferred && c.broker(preferred).partitionState("pl", 0).highWatermark >= 1;
    });
    const r = await c.broker(preferred).readRecords({ topic: "pl", partition: 0, offset: 0 });
    expect(r.records.map((x) => dec(x.value))).toContain("x");
  });

  it("deduplicates an idempotent producer's retry on the new leader after a failover", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "idem", partitions: 1, replicationFactor: 3 });
    const old = await c.leaderOf("idem", 0);
    const batch = (seq: number, v: string) =>
      encodeBatch([{ value: enc(v) }], {
        producerId: 4242,
        producerEpoch: 0,
        baseSequence: seq,
        now: Date.now(),
      });
    await c.broker(old).appendBatch({ topic: "idem", partition: 0, batch: batch(0, "a"), acks: -1 });
    const first = await c
      .broker(old)
      .appendBatch({ topic: "idem", partition: 0, batch: batch(1, "b"), acks: -1 });
    await c.abandon(old);
    const leader = await c.leaderOf("idem", 0, old);
    // The producer never saw the ack of "b" and retries it on the new leader: no duplicate.
    let retried: AppendBatchResult | null = null;
    await waitFor("the retry is answered", async () => {
      retried = await c
        .broker(leader)
        .appendBatch({ topic: "idem", partition: 0, batch: batch(1, "b"), acks: -1, timeoutMs: 2_000 });
      return true;
    });
    expect(retried).toMatchObject({ baseOffset: first.baseOffset, duplicate: true });
    await c.broker(leader).appendBatch({ topic: "idem", partition: 0, batch: batch(2, "c"), acks: -1 });
    // Producer ids handed out by different nodes never collide (the node id is in the low bits).
    const ids = await Promise.all(
      c
        .live()
        .map(
          async (n) =>
            (await n.broker.initProducerId({ transactionalId: null, transactionTimeoutMs: 60_000 }))
              .producerId,
        ),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.map((id) => id % 1024)).toEqual(c.live().map((n) => n.id));
    const r = await c.broker(leader).readRecords({ topic: "idem", partition: 0, offset: 0 });
    expect(r.records.map((x) => dec(x.value))).toEqual(["a", "b", "c"]);
  });

  it("answers Kafka Metadata with every broker, the controller and the real leaders and ISR", async () => {
    const kafkaAddresses = new Map([1, 2, 3].map((id) => [id, { host: "127.0.0.1", port: 19_090 + id }]));
    cluster = await TestCluster.start(3, { kafkaAddresses });
    const c = cluster;
    await c.broker(1).createTopic({ name: "km", partitions: 3, replicationFactor: 2 });
    const leaders = await Promise.all([0, 1, 2].map((p) => c.leaderOf("km", p)));
    const ctx = {
      broker: c.broker(2),
      nodeId: 2,
      clusterId: c.broker(2).clusterId,
      advertisedHost: "localhost",
      advertisedPort: 9092,
    } as unknown as HandlerContext;
    const res = (await metadataHandler.handle(
      ctx,
      { apiVersion: 12 } as RequestHeader,
      {
        topics: [{ name: "km", topicId: "AAAAAAAAAAAAAAAAAAAAAA" }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      } as MetadataRequest,
    ))!;
    expect(res.brokers.map((b) => [b.nodeId, b.host, b.port])).toEqual([
      [1, "127.0.0.1", 19_091],
      [2, "localhost", 9092],
      [3, "127.0.0.1", 19_093],
    ]);
    expect(res.controllerId).toBe(c.broker(2).clusterStatus()!.controllerId!);
    const parts = res.topics[0]!.partitions;
    expect(parts.map((p) => p.leaderId)).toEqual(leaders);
    for (const p of parts) {
      expect(p.replicaNodes.length).toBe(2);
      expect([...p.isrNodes].sort()).toEqual([...p.replicaNodes].sort());
    }
  });

  it("runs two data nodes with a witness: partitions stay on data nodes and fail over when one is lost", async () => {
    cluster = await TestCluster.start(3, {}, [3]);
    const c = cluster;
    expect(await codeOf(c.broker(1).createTopic({ name: "w3", replicationFactor: 3 }))).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    const created = await c.broker(3).createTopic({ name: "w", partitions: 2, replicationFactor: 2 });
    for (const p of created.partitions) expect([...p.replicas].sort()).toEqual([1, 2]);
    const old = await c.leaderOf("w", 0);
    await c.broker(old).produce({ topic: "w", partition: 0, acks: -1, records: [{ value: enc("a") }] });
    await c.abandon(old);
    const other = old === 1 ? 2 : 1;
    // The witness and the other data node are a Raft majority: the metadata log moves on.
    expect(await c.leaderOf("w", 0, old)).toBe(other);
    await waitFor("writes on the surviving data node", async () => {
      await c
        .broker(other)
        .produce({ topic: "w", partition: 0, acks: -1, timeoutMs: 2_000, records: [{ value: enc("b") }] });
      return true;
    });
    const r = await c.broker(other).readRecords({ topic: "w", partition: 0, offset: 0 });
    expect(r.records.map((x) => dec(x.value))).toEqual(["a", "b"]);
    expect(
      await codeOf(
        c
          .broker(3)
          .produce({ topic: "w", partition: 0, requireLeader: true, records: [{ value: enc("x") }] }),
      ),
    ).toBe(ErrorCode.NOT_LEADER);
  });

  it("forgets truncated idempotent batches: a deposed leader leading again does not answer them as duplicates", async () => {
    cluster = await TestCluster.start(3, { preferredLeaderCheckMs: 200 });
    const c = cluster;
    const created = await c.broker(1).createTopic({ name: "pt", partitions: 1, replicationFactor: 3 });
    const preferred = created.partitions[0]!.replicas[0]!;
    expect(await c.leaderOf("pt", 0)).toBe(preferred);
    const batch = (seq: number, v: string) =>
      encodeBatch([{ value: enc(v) }], {
        producerId: 777,
        producerEpoch: 0,
        baseSequence: seq,
        now: Date.now(),
      });
    await c
      .broker(preferred)
      .produce({ topic: "pt", partition: 0, acks: -1, records: [{ value: enc("c0") }] });
    await c.isolate(preferred);
    // Acknowledged (acks=1) by the cut-off leader only: it will be truncated.
    await c.broker(preferred).appendBatch({ topic: "pt", partition: 0, batch: batch(0, "lost"), acks: 1 });
    const interim = await c.leaderOf("pt", 0, preferred);
    await waitFor("writes on the interim leader", async () => {
      await c
        .broker(interim)
        .produce({ topic: "pt", partition: 0, acks: -1, timeoutMs: 2_000, records: [{ value: enc("e0") }] });
      return true;
    });
    await c.shutdown(preferred);
    await c.restart(preferred);
    await waitFor("the preferred replica leads again", async () => {
      const p = (await c.broker(preferred).describeTopic("pt")).partitions[0]!;
      await c.broker(preferred).listOffsets("pt", 0, "latest", { requireLeader: true });
      return p.leader === preferred;
    });
    let res: AppendBatchResult | null = null;
    await waitFor("the producer's batch is taken", async () => {
      res = await c.broker(preferred).appendBatch({
        topic: "pt",
        partition: 0,
        batch: batch(0, "again"),
        acks: -1,
        timeoutMs: 2_000,
        requireLeader: true,
      });
      return true;
    });
    expect(res!.duplicate).toBeUndefined();
    const r = await c.broker(preferred).readRecords({ topic: "pt", partition: 0, offset: 0 });
    expect(r.records.map((x) => dec(x.value))).toEqual(["c0", "e0", "again"]);
  });

  it("reports nodes, the controller, leaders, ISR and under-replicated partitions at GET /v1/cluster", async () => {
    cluster = await TestCluster.start(3, { replicaLagTimeMaxMs: 400 });
    const c = cluster;
    await c.broker(1).createTopic({ name: "st", partitions: 2, replicationFactor: 3 });
    const leader = await c.leaderOf("st", 0);
    const viewer = [1, 2, 3].find((id) => id !== leader)!;
    // The viewer learns the topic through the metadata log; wait until it has applied it.
    await waitFor("the viewer knows the topic", async () =>
      (await c.broker(viewer).listTopics()).some((t) => t.name === "st"),
    );
    const app = createHttpApp({ broker: c.broker(viewer), logger: silentLogger, console: false });
    interface Status {
      mode: string;
      nodeId: number;
      controllerId: number | null;
      nodes: Array<{ id: number }>;
      partitions: Array<{ topic: string; partition: number; leader: number; isr: number[] }>;
      underReplicated: Array<{ partition: number }>;
      offline: unknown[];
    }
    const status = async (): Promise<Status> => (await (await app.request("/v1/cluster")).json()) as Status;
    const s = await status();
    expect(s.mode).toBe("cluster");
    expect(s.nodeId).toBe(viewer);
    expect(s.controllerId).toBe(c.broker(viewer).clusterStatus()!.controllerId);
    expect(s.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
    expect(s.partitions.map((p) => [p.topic, p.partition, p.leader])).toEqual([
      ["st", 0, leader],
      ["st", 1, (await c.broker(viewer).describeTopic("st")).partitions[1]!.leader],
    ]);
    expect(s.underReplicated).toEqual([]);
    // A lost follower makes the leader's partitions under-replicated once it leaves the ISR.
    const third = [1, 2, 3].find((id) => id !== leader && id !== viewer)!;
    await c.abandon(third);
    await waitFor("partitions under-replicated", async () => (await status()).underReplicated.length === 2);
    expect((await status()).offline).toEqual([]);
  });
});

describe("cluster status on a single node", () => {
  it("reports one node, itself as controller, and its partitions", async () => {
    const { broker } = await memoryBroker();
    try {
      await broker.createTopic({ name: "solo", partitions: 2 });
      const app = createHttpApp({ broker, logger: silentLogger, console: false });
      const s = (await (await app.request("/v1/cluster")).json()) as Record<string, unknown>;
      expect(s).toMatchObject({
        mode: "single",
        nodeId: 1,
        controllerId: 1,
        underReplicated: [],
        offline: [],
      });
      expect(s.nodes).toEqual([
        { id: 1, kafkaHost: null, kafkaPort: null, url: null, witness: false, alive: true },
      ]);
      expect((s.partitions as unknown[]).length).toBe(2);
    } finally {
      await broker.close();
    }
  });
});
