/**
 * SUBSCRIBE → SUBACK.
 *
 * - Filters with `+`/`#` and `$share/{ShareName}/{filter}`; an invalid filter
 *   gets 0x8F (v5) / 0x80 (3.1.1) in its SUBACK slot [MQTT-3.9.3-2]; No Local
 *   on a shared subscription is a protocol error [MQTT-3.8.3-4].
 * - A subscription to an existing filter replaces it [MQTT-3.8.4-3]; the
 *   granted QoS is the requested one (we support QoS 2) [MQTT-3.9.3-1].
 * - Subscription Identifier (v5) is stored with the subscription and sent
 *   with matching messages [MQTT-3.8.4-6]; 0 is a protocol error.
 * - Retained messages: Retain Handling 0 sends them, 1 only for a new
 *   subscription, 2 never [MQTT-3.3.1-9..11]; never for shared subscriptions;
 *   sent with RETAIN = 1 [MQTT-3.3.1-8], after the SUBACK.
 * - ACL (auth.ts canSubscribe): a refused filter gets 0x80 in its SUBACK slot
 *   in 3.1.1 and 5.0 alike [MQTT-3.9.3-2]; retained messages the client may
 *   not read (canRead) are not sent.
 * - The subscription sees messages appended from now on (the high watermark
 *   of every MQTT-visible partition); a persistent session's subscriptions
 *   are durable before the SUBACK leaves.
 */
import type { ISubackPacket, ISubscribePacket } from "mqtt-packet";
import { type Connection, ConnState } from "../connection.ts";
import { partitionKey } from "../log-follower.ts";
import type { MqttMessage } from "../message.ts";
import { MqttProtocolError, Reason, SUBACK_FAILURE } from "../reason-codes.ts";
import type { Subscription } from "../session.ts";
import { parseSubscriptionFilter } from "../topic-filter.ts";

export async function handleSubscribe(conn: Connection, packet: ISubscribePacket): Promise<void> {
  const v5 = conn.protocolVersion === 5;
  const session = conn.session!;
  const { bridge } = conn;
  const broker = bridge.deps.broker;
  const rawId = packet.properties?.subscriptionIdentifier as number | number[] | undefined;
  const identifier = Array.isArray(rawId) ? rawId[0] : rawId;
  if (identifier === 0) throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "subscription identifier 0");
  if (packet.subscriptions.length === 0) {
    throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "SUBSCRIBE without topic filters"); // [MQTT-3.8.3-2]
  }
  const granted: number[] = [];
  const retained: Array<{ sub: Subscription; messages: MqttMessage[] }> = [];
  for (const s of packet.subscriptions) {
    const parsed = parseSubscriptionFilter(s.topic);
    if (!parsed) {
      granted.push(v5 ? Reason.TOPIC_FILTER_INVALID : SUBACK_FAILURE);
      continue;
    }
    if (parsed.group !== null && s.nl) {
      throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "no local on a shared subscription");
    }
    if (!(bridge.deps.auth.canSubscribe?.(conn.user, conn.clientId, s.topic) ?? true)) {
      granted.push(SUBACK_FAILURE); // 0x80 in 3.1.1 and 5.0 alike (auth.ts)
      continue;
    }
    const existing = session.subs.get(s.topic);
    const sub: Subscription = {
      raw: s.topic,
      filter: parsed.filter,
      group: parsed.group,
      qos: s.qos,
      noLocal: v5 && s.nl === true,
      retainAsPublished: v5 && s.rap === true,
      retainHandling: v5 ? (s.rh ?? 0) : 0,
      since: new Map(),
      ...(identifier === undefined ? {} : { identifier }),
    };
    if (existing?.group) bridge.leaveGroup(session, existing);
    if (parsed.group === null) {
      await bridge.followVisible(session.follower);
      for (const c of session.follower.cursors.values()) {
        sub.since.set(
          partitionKey(c.topic, c.partition),
          broker.partitionState(c.topic, c.partition).highWatermark,
        );
      }
      session.trie.set(parsed.filter, s.topic, sub);
      const rh = sub.retainHandling;
      if (rh === 0 || (rh === 1 && !existing)) {
        // Retained messages obey the ACL read check like live deliveries (auth.ts).
        const read = session.readCheck;
        const matched = bridge.retained.match(parsed.filter, bridge.deps.clock.now());
        retained.push({ sub, messages: read === null ? matched : matched.filter((m) => read(m.topic)) });
      }
    } else {
      if (existing && !existing.group) session.trie.delete(existing.filter, existing.raw);
      const group = bridge.group(parsed.group, parsed.filter);
      if (group.follower.cursors.size === 0) await bridge.followVisible(group.follower);
      group.members.set(session, sub);
      group.follower.wake();
    }
    session.subs.set(s.topic, sub);
    granted.push(s.qos);
  }
  session.dirty = true;
  if (session.persistent) await bridge.flush();
  if (conn.state !== ConnState.CONNECTED) return;
  const suback: ISubackPacket = { cmd: "suback", messageId: packet.messageId!, granted };
  conn.send(suback);
  for (const { sub, messages } of retained) {
    for (const msg of messages) session.sendRetained(msg, sub);
  }
}
