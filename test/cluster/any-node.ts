/** Shared by the frontends-on-any-node tests (frontends-any-node, remote-partition): topics and MQTT listeners on a TestCluster. */
import mqtt from "mqtt";
import { type MqttListener, startMqttListener } from "../../bridges/mqtt/index.ts";
import { type TestCluster, waitFor } from "./cluster-harness.ts";

/** Create a topic on node 1 and wait until every live node has its partitions (with `leaders`, also their leaders). */
export async function topicOnAll(
  c: TestCluster,
  name: string,
  partitions: number,
  replicationFactor: number,
  opts: { leaders?: boolean } = {},
): Promise<void> {
  await c.broker(1).createTopic({ name, partitions, replicationFactor });
  await waitFor(`every node applied ${name}`, async () => {
    for (const n of c.live()) {
      const d = await n.broker.describeTopic(name);
      if (d.partitions.length !== partitions) return false;
      if (opts.leaders === true && d.partitions.some((p) => p.leader < 0)) return false;
    }
    return true;
  });
}

/**
 * An MQTT listener on each of `nodes`; returns a connect function (MQTT 3.1.1,
 * no reconnect) for a node. Listeners and clients go into `track` for the test to close.
 */
export async function mqttOnNodes(
  c: TestCluster,
  nodes: number[],
  track: { listeners: MqttListener[]; clients: mqtt.MqttClient[] },
): Promise<(node: number, clientId: string) => Promise<mqtt.MqttClient>> {
  const ports = new Map<number, number>();
  for (const id of nodes) {
    const l = await startMqttListener({ broker: c.broker(id), port: 0, sweepIntervalMs: 100 });
    track.listeners.push(l);
    ports.set(id, l.port);
  }
  return async (node, clientId) => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.get(node)}`, {
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    track.clients.push(client);
    return client;
  };
}
