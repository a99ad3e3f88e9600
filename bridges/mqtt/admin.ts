/**
 * Operator views of the bridge, for the HTTP API and the CLI (wired by the
 * lead): connected clients, sessions with their backlog, disconnecting a
 * client (v5: DISCONNECT 0x98 Administrative action), and `explain` — where
 * a PUBLISH to an MQTT topic would land and who would receive it.
 */
import type { MqttBridge } from "./bridge.ts";
import { Reason } from "./reason-codes.ts";
import { topicMatches } from "./topic-filter.ts";

export interface MqttClientInfo {
  clientId: string;
  user: string | null;
  protocolVersion: number;
  remoteAddress: string;
  keepAlive: number;
  subscriptions: number;
  inflight: number;
  queuedBytes: number;
}

export interface MqttSessionInfo {
  clientId: string;
  connected: boolean;
  /** Seconds; 4294967295 = never. */
  expiryInterval: number;
  disconnectedAt: number | null;
  subscriptions: Array<{ filter: string; qos: number }>;
  inflight: number;
  /** Records not yet read from the followed partitions (not all of them necessarily match). */
  backlog: number;
}

export interface MqttExplanation {
  topic: string;
  /** Where the PUBLISH is stored; null when no mapping rule takes it (refused). */
  stored: { streamTopic: string; key: string | null; partition: number } | null;
  /** Sessions that would receive it (connected or not), and shared groups (one member each). */
  subscribers: Array<{
    clientId: string;
    filter: string;
    qos: number;
    connected: boolean;
    /** false: the ACL (auth.acl) does not let this client read the topic, so it is not delivered. */
    authorized: boolean;
  }>;
  sharedGroups: Array<{ group: string; filter: string; members: number }>;
}

export function listClients(bridge: MqttBridge): MqttClientInfo[] {
  return [...bridge.connections.values()].map((c) => ({
    clientId: c.clientId,
    user: c.user,
    protocolVersion: c.protocolVersion,
    remoteAddress: c.remote,
    keepAlive: c.keepAlive,
    subscriptions: c.session?.subs.size ?? 0,
    inflight: c.session?.inflight.size ?? 0,
    queuedBytes: c.queuedBytes,
  }));
}

export function listSessions(bridge: MqttBridge): MqttSessionInfo[] {
  const broker = bridge.deps.broker;
  return [...bridge.sessions.values()].map((s) => {
    let backlog = 0;
    for (const c of s.follower.cursors.values()) {
      try {
        backlog += Math.max(0, broker.partitionState(c.topic, c.partition).highWatermark - c.next);
      } catch {
        // partition gone
      }
    }
    return {
      clientId: s.clientId,
      connected: s.link !== null,
      expiryInterval: s.expiryInterval,
      disconnectedAt: s.disconnectedAt,
      subscriptions: [...s.subs.values()].map((sub) => ({ filter: sub.raw, qos: sub.qos })),
      inflight: s.inflight.size,
      backlog,
    };
  });
}

/** Disconnect a connected client; false when it is not connected. */
export function disconnectClient(bridge: MqttBridge, clientId: string): boolean {
  const conn = bridge.connections.get(clientId);
  if (!conn) return false;
  conn.serverDisconnect(Reason.ADMINISTRATIVE_ACTION, "disconnected by an operator");
  return true;
}

export async function explain(bridge: MqttBridge, topic: string): Promise<MqttExplanation> {
  const target = bridge.deps.mapping.forward(topic);
  let stored: MqttExplanation["stored"] = null;
  if (target) {
    const partition = target.key ? await bridge.deps.broker.partitionForKey(target.topic, target.key) : -1;
    stored = {
      streamTopic: target.topic,
      key: target.key ? new TextDecoder().decode(target.key) : null,
      partition,
    };
  }
  const subscribers: MqttExplanation["subscribers"] = [];
  for (const s of bridge.sessions.values()) {
    for (const sub of s.trie.match(topic)) {
      subscribers.push({
        clientId: s.clientId,
        filter: sub.raw,
        qos: sub.qos,
        connected: s.link !== null,
        authorized: s.readCheck === null || s.readCheck(topic),
      });
    }
  }
  const sharedGroups = [...bridge.groups.values()]
    .filter((g) => topicMatches(g.filter, topic))
    .map((g) => ({ group: g.group, filter: g.filter, members: g.members.size }));
  return { topic, stored, subscribers, sharedGroups };
}
