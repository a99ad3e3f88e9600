/**
 * MQTT on any node of a 3-process cluster (issue 7, item 4), with MQTT.js
 * against real `eddy` processes: a QoS 1 subscriber on one follower of the
 * `mqtt` stream topic (the default mapping's target, RF=3) gets what a QoS 1
 * publisher on the other follower sends; the PUBACK comes only once the
 * record is committed (the leader's high watermark covers it). Then the
 * leader is killed with SIGKILL: the publisher publishes again (on its node,
 * then reconnected to the other survivor) and the subscriber on a survivor
 * receives everything, in order, nothing acknowledged lost.
 *
 * The bridges create `mqtt`, `__mqtt_retained` and `__mqtt_sessions` when
 * each node starts, without a replication factor: in a cluster the default
 * is min(3, data nodes), so they get RF=3 here without extra config.
 */
import { afterEach, describe, expect, it } from "bun:test";
import mqtt from "mqtt";
import { waitFor } from "./cluster-harness.ts";
import { useProcessCluster } from "./process-cluster.ts";

const cluster = useProcessCluster({
  tmpPrefix: "eddy-mqtt-any-",
  mqtt: true,
  // CoAP too: every bridge creates its topics at start-up on every node (a creation race).
  coap: true,
});
const clients: mqtt.MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
});

interface TopicView {
  replicationFactor: number;
  partitions: Array<{ leader: number; isr: number[]; highWatermark: number; logEndOffset: number }>;
}

async function mqttTopic(id: number): Promise<TopicView["partitions"][0] & { rf: number }> {
  const r = await cluster.http(id, "/v1/topics/mqtt");
  if (r.status !== 200) throw new Error(`GET /v1/topics/mqtt on node ${id}: ${r.status}`);
  const t = (await r.json()) as TopicView;
  return { ...t.partitions[0]!, rf: t.replicationFactor };
}

/** Waits until `ids` agree on a leader of mqtt/0 (not `notLeader`) with an ISR of `isrSize`. */
async function settled(ids: number[], isrSize: number, notLeader = -1): Promise<number> {
  let leader = -1;
  let seen = "";
  await waitFor(
    "the nodes agree on the mqtt topic's leader and ISR",
    async () => {
      const all = await Promise.all(
        ids.map((id) =>
          mqttTopic(id).catch((err: unknown) => {
            seen = `node ${id}: ${String(err)}`;
            throw err;
          }),
        ),
      );
      seen = JSON.stringify(all.map(({ leader, isr }) => ({ leader, isr })));
      leader = all[0]!.leader;
      return (
        leader > 0 &&
        leader !== notLeader &&
        all.every((p) => p.leader === leader && p.isr.length === isrSize)
      );
    },
    45_000,
  ).catch((err: unknown) => {
    const exited = [...cluster.procs]
      .filter(([, p]) => p.exitCode !== null)
      .map(([id, p]) => `${id}: ${p.exitCode}`);
    throw new Error(`${String(err)}; last seen: ${seen}; exited nodes: ${exited.join(", ") || "none"}`);
  });
  return leader;
}

async function connect(id: number, clientId: string): Promise<mqtt.MqttClient> {
  const { mqtt: address } = await cluster.listeners(id);
  if (!address) throw new Error(`node ${id} has no MQTT listener`);
  const client = await mqtt.connectAsync(`mqtt://${address}`, {
    clientId,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  clients.push(client);
  return client;
}

describe("MQTT on any node of a process cluster", () => {
  it("delivers QoS 1 between followers, acks only committed records, and survives a leader kill", async () => {
    await cluster.launch();
    const all = [1, 2, 3];
    const leader = await settled(all, 3);
    expect((await mqttTopic(leader)).rf).toBe(3);
    const [subNode, pubNode] = all.filter((id) => id !== leader) as [number, number];

    const sub = await connect(subNode, "sub-a");
    const got: string[] = [];
    sub.on("message", (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await sub.subscribeAsync("sensors/#", { qos: 1 });
    let pub = await connect(pubNode, "pub-b");

    // QoS 1 through a follower: forwarded to the leader, PUBACK once committed there.
    await pub.publishAsync("sensors/t1", "m1", { qos: 1 });
    expect((await mqttTopic(leader)).highWatermark).toBeGreaterThanOrEqual(1);
    await waitFor("the subscriber on the other follower receives m1", () => got.length >= 1);
    expect(got).toEqual(["sensors/t1=m1"]);

    // kill -9 the leader; the survivors elect a new one.
    const proc = cluster.procs.get(leader)!;
    proc.kill(9);
    await proc.exited;
    cluster.procs.delete(leader);
    const survivors = [subNode, pubNode];
    const next = await settled(survivors, 2, leader);
    expect(survivors).toContain(next);

    // The publisher's node survived: publish there again...
    await pub.publishAsync("sensors/t2", "m2", { qos: 1 });
    expect((await mqttTopic(next)).highWatermark).toBeGreaterThanOrEqual(2);
    // ...then reconnect to the other survivor (the subscriber's node) and publish from there.
    await pub.endAsync();
    pub = await connect(subNode, "pub-b");
    await pub.publishAsync("sensors/t3", "m3", { qos: 1 });
    expect((await mqttTopic(next)).highWatermark).toBeGreaterThanOrEqual(3);

    await waitFor("the subscriber receives m2 and m3", () => got.length >= 3, 20_000);
    expect(got).toEqual(["sensors/t1=m1", "sensors/t2=m2", "sensors/t3=m3"]);
    // Every acknowledged record is committed on both survivors, in order.
    for (const id of survivors) {
      await waitFor(
        `node ${id} has the high watermark at 3`,
        async () => (await mqttTopic(id)).highWatermark >= 3,
      );
      const r = await cluster.http(
        id,
        "/v1/topics/mqtt/partitions/0/records?offset=earliest&valueEncoding=string",
      );
      const body = (await r.json()) as { records: Array<{ key: string; value: string }> };
      expect(body.records.map((x) => `${x.key}=${x.value}`)).toEqual([
        "sensors/t1=m1",
        "sensors/t2=m2",
        "sensors/t3=m3",
      ]);
    }
  }, 90_000);
});
