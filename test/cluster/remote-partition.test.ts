/**
 * Remote-partition watches (issue 7, item 4: subscriptions on any node): a
 * node holding no replica of a partition answers partitionState and
 * describeTopic with the leader's offsets, fires onAppend when they move,
 * and so serves MQTT subscribers whose records are produced elsewhere,
 * across a leader change.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type mqtt from "mqtt";
import type { MqttListener } from "../../bridges/mqtt/index.ts";
import { AbsentLog } from "../../src/broker/absent-log.ts";
import type { BrokerContext } from "../../src/broker/context.ts";
import type { AppendEvent } from "../../src/broker/index.ts";
import { Partition } from "../../src/broker/partition.ts";
import type { PeerRpc } from "../../src/cluster/peer-protocol.ts";
import { RemoteWatch } from "../../src/cluster/remote-watch.ts";
import type { WatchRequest, WatchResponse } from "../../src/cluster/remote-watch-route.ts";
import { DEFAULT_LOG_CONFIG } from "../../src/log/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import { dec, enc } from "../broker/helpers.ts";
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

/** Node ids holding no replica of topic-partition. */
async function without(c: TestCluster, topic: string, partition: number): Promise<number[]> {
  const d = await c.broker(1).describeTopic(topic);
  const replicas = d.partitions[partition]!.replicas;
  return c
    .live()
    .map((n) => n.id)
    .filter((id) => !replicas.includes(id));
}

describe("partitions without a replica here", () => {
  it("report the leader's offsets and fire onAppend when records are produced on the leader", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await topicOnAll(c, "rf1", 2, 1, { leaders: true });
    const owner = await c.leaderOf("rf1", 0);
    const away = (await without(c, "rf1", 0))[0]!;
    const b = c.broker(away);
    const events: AppendEvent[] = [];
    b.onAppend((e) => {
      if (e.topic === "rf1" && e.partition === 0) events.push(e);
    });
    // Asking starts the watch; the first answer is the leader's (empty) log.
    await waitFor("the leader's view arrives", () => b.partitionState("rf1", 0).remote === true);
    expect(b.partitionState("rf1", 0)).toMatchObject({ highWatermark: 0, leads: false, remote: true });

    await c.broker(owner).produce({
      topic: "rf1",
      partition: 0,
      acks: -1,
      records: ["a", "b", "c"].map((v) => ({ value: enc(v) })),
    });
    await waitFor("the high watermark advances here", () => b.partitionState("rf1", 0).highWatermark === 3);
    const state = b.partitionState("rf1", 0);
    expect(state).toMatchObject({
      logStartOffset: 0,
      lastStableOffset: 3,
      leads: false,
      remote: true,
      leaderEpoch: c.broker(owner).partitionState("rf1", 0).leaderEpoch,
    });
    expect(state.logEndOffset).toBeGreaterThanOrEqual(3);
    await waitFor("onAppend fired", () => events.at(-1)?.highWatermark === 3);
    // Never backwards.
    expect(events.every((e, i) => i === 0 || e.highWatermark >= events[i - 1]!.highWatermark)).toBe(true);

    // describeTopic on a node that never asked about a partition primes its watch: the first
    // description already has the leader's offsets.
    await c.broker(1).createTopic({ name: "cold", partitions: 1, replicationFactor: 1 });
    let coldOwner = -1;
    await waitFor("the cold topic has a leader", async () => {
      coldOwner = (await c.broker(1).describeTopic("cold")).partitions[0]!.leader;
      return coldOwner > 0;
    });
    await waitFor("its leader took the role", async () => {
      await c.broker(coldOwner).listOffsets("cold", 0, "latest");
      return true;
    });
    await c.broker(coldOwner).produce({
      topic: "cold",
      partition: 0,
      acks: -1,
      records: [{ value: enc("x") }, { value: enc("y") }],
    });
    const fresh = [1, 2, 3].find((id) => id !== 1 && id !== coldOwner)!;
    await waitFor("the fresh node applied the topic", async () =>
      (await c.broker(fresh).listTopics()).some((t) => t.name === "cold"),
    );
    const described = await c.broker(fresh).describeTopic("cold");
    expect(described.partitions[0]).toMatchObject({ highWatermark: 2, logEndOffset: 2, leader: coldOwner });
    expect(c.broker(fresh).partitionState("cold", 0)).toMatchObject({ highWatermark: 2, remote: true });

    // Reads stay forwarded and agree with the watched offsets.
    const read = await b.readRecords({ topic: "rf1", partition: 0, offset: 0 });
    expect(read.records.map((r) => dec(r.value))).toEqual(["a", "b", "c"]);
    // The node holding the replica answers from it, never as remote.
    expect(c.broker(owner).partitionState("rf1", 0).remote).toBeUndefined();
  });

  it("deliver to an MQTT subscriber on a node without a replica, in order, across a leader change", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    for (const t of ["__mqtt_retained", "__mqtt_sessions"]) await topicOnAll(c, t, 1, 3, { leaders: true });
    await topicOnAll(c, "mqtt", 1, 2, { leaders: true });
    const leader = await c.leaderOf("mqtt", 0);
    const subNode = (await without(c, "mqtt", 0))[0]!;
    const pubNode = [1, 2, 3].find((id) => id !== leader && id !== subNode)!;
    const connect = await mqttOnNodes(c, [pubNode, subNode], { listeners, clients });
    // Records from before the subscription are not delivered ("latest" is the leader's end).
    await c.broker(leader).produce({ topic: "mqtt", acks: -1, records: [{ value: enc("old") }] });
    const sub = await connect(subNode, "sub");
    const got: string[] = [];
    sub.on("message", (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await sub.subscribeAsync("sensors/#", { qos: 1 });
    const pub = await connect(pubNode, "pub");
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      await pub.publishAsync(`sensors/a${i}`, `v${i}`, { qos: 1 });
      sent.push(`sensors/a${i}=v${i}`);
    }
    await waitFor("the subscriber receives the first five", () => got.length >= 5);
    expect(got).toEqual(sent);
    // QoS 1 published on the node without a replica: the PUBACK needs the watched high watermark.
    const local = await connect(subNode, "local-pub");
    await local.publishAsync("sensors/local", "here", { qos: 1 });
    sent.push("sensors/local=here");
    await waitFor("the subscriber receives its own node's publish", () => got.length >= 6);
    expect(got).toEqual(sent);

    // The leader goes away; the other replica takes over and the watch follows it.
    await c.abandon(leader);
    await c.leaderOf("mqtt", 0, leader);
    for (let i = 0; i < 5; i++) {
      await pub.publishAsync(`sensors/b${i}`, `w${i}`, { qos: 1 });
      sent.push(`sensors/b${i}=w${i}`);
    }
    await waitFor("the subscriber receives the publishes after the leader change", () => got.length >= 11);
    expect(got).toEqual(sent);
    expect(c.broker(subNode).partitionState("mqtt", 0)).toMatchObject({ remote: true, highWatermark: 12 });
  });
});

/** A RemoteWatch on fake partitions and a fake serving side, on a manual clock. */
function watchRig(opts: { listeners: boolean; maxWatches?: number }) {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const parts = [0, 1, 2].map((id) => {
    const p = new Partition({
      log: new AbsentLog("t", id, DEFAULT_LOG_CONFIG),
      logger: silentLogger,
      onAdvance: () => {},
    });
    p.leads = false;
    p.assignment = { leader: 2, replicas: [2, 3], isr: [2, 3] };
    return p;
  });
  const served: Array<{ node: number; keys: string[] }> = [];
  let hw = 0;
  const rpc: PeerRpc = async (node, _path, body, o) => {
    const req = JSON.parse(new TextDecoder().decode(body)) as WatchRequest;
    served.push({ node, keys: req.partitions.map((x) => `${x.topic}-${x.partition}`) });
    const answer = (): WatchResponse => ({
      partitions: req.partitions
        .filter((x) => x.known?.hw !== hw)
        .map((x) => ({
          topic: x.topic,
          partition: x.partition,
          state: { epoch: 1, logStart: 0, logEnd: hw, hw, lso: hw, leads: node === 2 },
        })),
    });
    if (answer().partitions.length === 0) {
      // Nothing new: hold the poll until aborted.
      await new Promise<void>((_, reject) =>
        o.signal?.addEventListener("abort", () => reject(new Error("aborted"))),
      );
    }
    return new TextEncoder().encode(JSON.stringify(answer()));
  };
  const events: AppendEvent[] = [];
  const ctx = {
    clock,
    logger: silentLogger,
    closing: () => false,
    topics: { get: (name: string) => (name === "t" ? { partitions: parts } : undefined) },
    metadata: { listPartitionAssignments: () => [] },
  } as unknown as BrokerContext;
  const watch = new RemoteWatch({
    nodeId: 1,
    ctx: () => ctx,
    rpc,
    emit: (e) => events.push(e),
    hasListeners: () => opts.listeners,
    timers,
    idleMs: 1_000,
    probeGraceMs: 300,
    tickMs: 100,
    maxWatches: opts.maxWatches,
  });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Bun.sleep(0);
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      timers.advance(100);
      await settle();
    }
  };
  const setHw = (n: number) => {
    hw = n;
  };
  return { watch, parts, served, events, settle, advance, setHw };
}

describe("remote watch bookkeeping", () => {
  it("probes an idle watch, keeps it when touched again, and stops it otherwise", async () => {
    const r = watchRig({ listeners: true });
    r.setHw(4);
    expect(r.watch.state(r.parts[0]!)).toBeNull(); // nothing known yet: the caller answers zeros
    await r.settle();
    expect(r.watch.state(r.parts[0]!)).toMatchObject({ highWatermark: 4, remote: true, leads: false });
    expect(r.events).toEqual([{ topic: "t", partition: 0, highWatermark: 4 }]);
    await r.advance(1_000);
    // Idle: one probe event with the same high watermark; a follower reading it renews the watch.
    expect(r.events.length).toBe(2);
    r.watch.touch("t", 0);
    await r.advance(900);
    expect(r.watch.size).toBe(1);
    await r.advance(600); // idle again: probed, nobody reads, gone
    expect(r.events.length).toBe(3);
    expect(r.watch.size).toBe(0);
    r.watch.close();
  });

  it("stops idle watches at once without listeners, bounds their number, and follows a new leader", async () => {
    const r = watchRig({ listeners: false, maxWatches: 2 });
    r.setHw(1);
    r.watch.touch("t", 0);
    await r.advance(200);
    r.watch.touch("t", 1);
    await r.advance(200);
    r.watch.touch("t", 2); // over the bound: the least recently touched (t-0) goes
    await r.settle();
    expect(r.watch.size).toBe(2);
    expect(r.watch.known(r.parts[0]!)).toBeNull();
    expect(r.served.at(-1)).toEqual({ node: 2, keys: ["t-1", "t-2"] });
    // The metadata names node 3: the polls move there within a tick.
    for (const p of r.parts) p.assignment = { leader: 3, replicas: [2, 3], isr: [2, 3] };
    r.setHw(2);
    await r.advance(100);
    expect(r.served.at(-1)?.node).toBe(3);
    expect(r.watch.known(r.parts[2]!)?.highWatermark).toBe(2);
    await r.advance(1_000);
    expect(r.watch.size).toBe(0); // idle, no listener: no probe
    r.watch.close();
  });
});
