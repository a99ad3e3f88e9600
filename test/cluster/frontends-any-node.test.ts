/**
 * Frontends on any node (issue 7, item 4) on 3 in-process nodes: a produce on
 * a node that does not lead is forwarded to the leader (acks=all waited
 * there, idempotent across a leader change), Kafka keeps NOT_LEADER, followers
 * serve reads from their replica up to the high watermark they know (and
 * wake waiters and onAppend listeners when it moves), a node without a
 * replica forwards its reads, and MQTT clients on different followers talk
 * to each other.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type mqtt from "mqtt";
import type { MqttListener } from "../../bridges/mqtt/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { type AppendEvent, encodeBatch, ErrorCode, isEddyError } from "../../src/broker/index.ts";
import type { ProduceRequest } from "../../src/kafka/generated/produce-request.ts";
import type { HandlerContext } from "../../src/kafka/handlers/context.ts";
import { handler as produceHandler } from "../../src/kafka/handlers/produce.ts";
import type { RequestHeader } from "../../src/kafka/protocol/headers.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { codeOf, dec, enc } from "../broker/helpers.ts";
import { mqttOnNodes, topicOnAll } from "./any-node.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
const listeners: MqttListener[] = [];
const clients: mqtt.MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
  for (const l of listeners.splice(0)) await l.close().catch(() => {});
  await cluster?.stop();
  cluster = null;
});

const values = (rs: Array<{ value: Uint8Array | null }>) => rs.map((r) => dec(r.value));

describe("frontends on any node", () => {
  it("forwards a follower's produce to the leader (acks=all) and serves it from every replica", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "f", 1, 3);
    const leader = await c.leaderOf("f", 0);
    const [via, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    const res = await c.broker(via).produce({
      topic: "f",
      acks: -1,
      records: ["a", "b", "c"].map((v) => ({ key: enc("k"), value: enc(v) })),
    });
    expect(res.records).toEqual([0, 1, 2].map((offset) => ({ partition: 0, offset })));
    // acks=all at the leader: committed there, hence on every ISR member.
    const at = c.broker(leader).partitionState("f", 0);
    expect([at.logEndOffset, at.highWatermark]).toEqual([3, 3]);
    for (const id of [1, 2, 3]) expect(c.broker(id).partitionState("f", 0).logEndOffset).toBe(3);
    // Read-your-writes on the forwarding node (an in-sync replica).
    expect(
      values((await c.broker(via).readRecords({ topic: "f", partition: 0, offset: 0 })).records),
    ).toEqual(["a", "b", "c"]);
    await waitFor(
      "the other follower learns the high watermark",
      () => c.broker(other).partitionState("f", 0).highWatermark === 3,
    );
    const read = await c.broker(other).readRecords({ topic: "f", partition: 0, offset: 1 });
    expect(values(read.records)).toEqual(["b", "c"]);
    expect(read.nextOffset).toBe(3);
    // Several partitions in one call: keyed placement is decided on the forwarding node.
    await topicOnAll(c, "multi", 3, 3);
    const keyed = await c.broker(via).produce({
      topic: "multi",
      acks: -1,
      records: ["x", "y", "z", "w"].map((k) => ({ key: enc(k), value: enc(k) })),
    });
    for (const [i, k] of ["x", "y", "z", "w"].entries()) {
      expect(keyed.records[i]!.partition).toBe(await c.broker(leader).partitionForKey("multi", enc(k)));
    }
    // acks=0 through a forwarding node returns once the records are committed at the leader.
    await c.broker(via).produce({ topic: "f", acks: 0, records: [{ value: enc("d") }] });
    expect(c.broker(leader).partitionState("f", 0).highWatermark).toBe(4);
  });

  it("serves the HTTP API's produce and record reads on a follower", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "h", 1, 3);
    const leader = await c.leaderOf("h", 0);
    const via = [1, 2, 3].find((id) => id !== leader)!;
    const app = createHttpApp({ broker: c.broker(via), logger: silentLogger, console: false });
    const post = await app.request("/v1/topics/h/records", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ acks: "all", records: [{ value: "one" }, { value: "two" }] }),
    });
    expect(post.status).toBe(200);
    expect(c.broker(leader).partitionState("h", 0).highWatermark).toBe(2);
    const get = await app.request("/v1/topics/h/partitions/0/records?offset=0");
    expect(get.status).toBe(200);
    const body = (await get.json()) as { records: Array<{ value: string }>; nextOffset: number };
    expect(body.records.map((r) => r.value)).toEqual(["one", "two"]);
    expect(body.nextOffset).toBe(2);
    const earliest = await app.request("/v1/topics/h/partitions/0/records?offset=earliest");
    expect(earliest.status).toBe(200);
    const fromStart = (await earliest.json()) as { records: Array<{ value: string }> };
    expect(fromStart.records.map((r) => r.value)).toEqual(["one", "two"]);
    expect(await codeOf(c.broker(via).listOffsets("h", 0, "latest", { requireLeader: true }))).toBe(
      ErrorCode.NOT_LEADER,
    );
  });

  it("keeps NOT_LEADER for Kafka (requireLeader) and forwards raw batches idempotently", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "k", 1, 3);
    const leader = await c.leaderOf("k", 0);
    const via = [1, 2, 3].find((id) => id !== leader)!;
    const one = { topic: "k", partition: 0, records: [{ value: enc("x") }] };
    expect(await codeOf(c.broker(via).produce({ ...one, requireLeader: true }))).toBe(ErrorCode.NOT_LEADER);
    const plain = encodeBatch([{ value: enc("raw") }]);
    expect(
      await codeOf(
        c.broker(via).appendBatch({ topic: "k", partition: 0, batch: plain, requireLeader: true }),
      ),
    ).toBe(ErrorCode.NOT_LEADER);
    // The Kafka frontend's Produce on a follower: NOT_LEADER_OR_FOLLOWER (6), nothing written.
    const ctx = { broker: c.broker(via), logger: silentLogger } as unknown as HandlerContext;
    const kafka = await produceHandler.handle(
      ctx,
      { apiVersion: 9 } as RequestHeader,
      {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5_000,
        topicData: [{ name: "k", partitionData: [{ index: 0, records: plain }] }],
      } as unknown as ProduceRequest,
    );
    expect(kafka!.responses[0]!.partitionResponses[0]!.errorCode).toBe(6);
    expect(c.broker(leader).partitionState("k", 0).logEndOffset).toBe(0);

    // Without requireLeader a raw batch is forwarded; an idempotent batch sent twice is stored once.
    const r0 = await c.broker(via).appendBatch({ topic: "k", partition: 0, batch: plain, acks: -1 });
    expect(r0.baseOffset).toBe(0);
    const pid = await c.broker(via).initProducerId({ transactionalId: null, transactionTimeoutMs: 60_000 });
    const idem = encodeBatch([{ value: enc("i0") }, { value: enc("i1") }], {
      producerId: pid.producerId,
      producerEpoch: pid.producerEpoch,
      baseSequence: 0,
    });
    const first = await c.broker(via).appendBatch({ topic: "k", partition: 0, batch: idem, acks: -1 });
    const again = await c.broker(via).appendBatch({ topic: "k", partition: 0, batch: idem, acks: -1 });
    expect([first.baseOffset, first.lastOffset]).toEqual([1, 2]);
    expect(again).toMatchObject({ baseOffset: 1, lastOffset: 2, duplicate: true });
    const all = await c.broker(leader).readRecords({ topic: "k", partition: 0, offset: 0 });
    expect(values(all.records)).toEqual(["raw", "i0", "i1"]);
  });

  it("serves follower reads only up to the high watermark and wakes followers' waiters when it moves", async () => {
    cluster = await TestCluster.start(3, { replicaLagTimeMaxMs: 2_500 });
    const c = cluster;
    await topicOnAll(c, "hw", 1, 3);
    const leader = await c.leaderOf("hw", 0);
    const [reader, stalled] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    await c.broker(leader).produce({ topic: "hw", partition: 0, acks: -1, records: [{ value: enc("c0") }] });
    await waitFor(
      "the reader knows the first record is committed",
      () => c.broker(reader).partitionState("hw", 0).highWatermark === 1,
    );
    const events: AppendEvent[] = [];
    c.broker(reader).onAppend((e) => {
      if (e.topic === "hw") events.push(e);
    });
    const woke = c.broker(reader).waitForData("hw", 0, 1, 10_000);
    // One ISR member stops fetching: the leader's high watermark is stuck until the ISR shrinks.
    await c.isolate(stalled);
    await c.broker(leader).produce({
      topic: "hw",
      partition: 0,
      acks: 1,
      records: [{ value: enc("u1") }, { value: enc("u2") }],
    });
    await waitFor(
      "the reader replicated the uncommitted records",
      () => c.broker(reader).partitionState("hw", 0).logEndOffset === 3,
    );
    const early = await c.broker(reader).readRecords({ topic: "hw", partition: 0, offset: 0 });
    const hwThen = early.highWatermark;
    expect(values(early.records)).toEqual(["c0", "u1", "u2"].slice(0, hwThen));
    expect(early.nextOffset).toBe(hwThen);
    // The ISR shrinks, the high watermark moves, and the reader's waiters and listeners hear it.
    expect(await woke).toBe(true);
    await waitFor(
      "the reader's high watermark reaches 3",
      () => c.broker(reader).partitionState("hw", 0).highWatermark === 3,
    );
    expect(events.at(-1)?.highWatermark).toBe(3);
    const late = await c.broker(reader).readRecords({ topic: "hw", partition: 0, offset: hwThen });
    expect(values(late.records)).toEqual(["c0", "u1", "u2"].slice(hwThen));
  });

  it("forwards reads and waits from a node without a replica", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "rf1", 1, 1);
    const owner = await c.leaderOf("rf1", 0);
    const away = [1, 2, 3].find((id) => id !== owner)!;
    const waiting = c.broker(away).waitForData("rf1", 0, 0, 10_000);
    const res = await c.broker(away).produce({ topic: "rf1", acks: -1, records: [{ value: enc("r") }] });
    expect(res.records[0]!.offset).toBe(0);
    expect(await waiting).toBe(true);
    const read = await c.broker(away).readRecords({ topic: "rf1", partition: 0, offset: 0 });
    expect(values(read.records)).toEqual(["r"]);
    expect(read.highWatermark).toBe(1);
    expect(await codeOf(c.broker(away).readRecords({ topic: "rf1", partition: 0, offset: 7 }))).toBe(
      ErrorCode.OFFSET_OUT_OF_RANGE,
    );
  });

  it("forwards across a leader loss without duplicates: each produce succeeds or fails retriably", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "lc", 1, 3);
    const leader = await c.leaderOf("lc", 0);
    const via = [1, 2, 3].find((id) => id !== leader)!;
    const acked: string[] = [];
    const failed: string[] = [];
    let killed: Promise<void> | null = null;
    for (let i = 0; i < 30; i++) {
      if (i === 10) killed = c.abandon(leader);
      const v = `m${i}`;
      try {
        await c
          .broker(via)
          .produce({ topic: "lc", partition: 0, acks: -1, timeoutMs: 8_000, records: [{ value: enc(v) }] });
        acked.push(v);
      } catch (err) {
        if (!isEddyError(err) || !err.retriable) throw err;
        failed.push(v);
      }
    }
    await killed;
    expect(acked.length).toBeGreaterThanOrEqual(20);
    const next = await c.leaderOf("lc", 0, leader);
    const read = await c.broker(next).readRecords({ topic: "lc", partition: 0, offset: 0, maxRecords: 1000 });
    const got = values(read.records) as string[];
    expect(new Set(got).size).toBe(got.length); // no duplicates
    for (const v of acked) expect(got).toContain(v); // no acknowledged write lost
    // Order kept: the log is the acknowledged sequence, with at most the failed ones in between.
    expect(got.filter((v) => acked.includes(v))).toEqual(acked);
    expect(got.every((v) => acked.includes(v) || failed.includes(v))).toBe(true);
  });

  it("lets an MQTT client on one follower publish to a subscriber on another", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    for (const t of ["mqtt", "__mqtt_retained", "__mqtt_sessions"]) await topicOnAll(c, t, 1, 3);
    const leader = await c.leaderOf("mqtt", 0);
    const [pubNode, subNode] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    const connect = await mqttOnNodes(c, [pubNode, subNode], { listeners, clients });
    const sub = await connect(subNode, "sub");
    const got: string[] = [];
    sub.on("message", (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await sub.subscribeAsync("sensors/#", { qos: 1 });
    const pub = await connect(pubNode, "pub");
    // QoS 1: PUBACK only once the record is committed at the leader.
    await pub.publishAsync("sensors/t1", "21.5", { qos: 1 });
    await pub.publishAsync("sensors/t2", "19.0", { qos: 1 });
    expect(c.broker(leader).partitionState("mqtt", 0).highWatermark).toBeGreaterThanOrEqual(2);
    await waitFor("the subscriber on the other follower receives both", () => got.length >= 2);
    expect(got).toEqual(["sensors/t1=21.5", "sensors/t2=19.0"]);
  });
});

describe("topics created from any node", () => {
  it("replicates topics created without a factor (min(3, data nodes)) and lets racing creators read the winner's topic at once", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    // The bridges create their topics at start-up on every node, without a replication factor.
    const created = await c.broker(2).createTopic({ name: "bridge", partitions: 2 });
    expect(created.replicationFactor).toBe(3);
    for (const p of created.partitions) expect(p.replicas.length).toBe(3);
    // Three nodes race to create one topic (as each node's bridges do at start-up): the
    // losers learn "exists" only once they have applied the winner's topic, so the
    // describe each does next works on its own node.
    const outcomes = await Promise.all(
      [1, 2, 3].map(async (id) => {
        const code = await c
          .broker(id)
          .createTopic({ name: "race", partitions: 2 })
          .then(
            () => undefined,
            (err: unknown) => (isEddyError(err) ? err.code : String(err)),
          );
        return { code, partitions: (await c.broker(id).describeTopic("race")).partitions.length };
      }),
    );
    expect(outcomes.filter((o) => o.code === undefined).length).toBe(1);
    expect(outcomes.filter((o) => o.code === ErrorCode.TOPIC_EXISTS).length).toBe(2);
    for (const o of outcomes) expect(o.partitions).toBe(2);
  });
});
