/**
 * Session and shared-group state ↔ their stored JSON form (session-store.ts).
 *
 * A session is saved with its in-flight window: every unacknowledged QoS 1/2
 * delivery as (partition, offset, packet id, QoS, state), never the message;
 * its cursors are saved at the next offset to read. After a restart the
 * messages in state "publish" are read back from the log (loadInflight) and
 * resent with DUP = 1 and their original packet ids [MQTT-4.4.0-1]; QoS 2
 * deliveries already PUBREC'd get only their PUBREL again [MQTT-4.3.3-4];
 * acknowledged ones, and records between them, are not sent again.
 * Shared groups save their committed offset (lowest unacknowledged): their
 * deliveries belong to members and go back to the group when a member leaves.
 * A pending will is saved with its due time (MQTT 5.0 section 3.1.3.2.2).
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import type { TopicMapping } from "./mapping.ts";
import { type MqttMessage, recordToMessage } from "./message.ts";
import type { SharedGroup } from "./shared-group.ts";
import type { Session, Subscription } from "./session.ts";
import type { StoredGroup, StoredMessage, StoredSession } from "./session-store.ts";
import { parseSubscriptionFilter } from "./topic-filter.ts";

export function storedSession(s: Session): StoredSession {
  const stored: StoredSession = {
    v: 1,
    clientId: s.clientId,
    expiry: s.expiryInterval,
    disconnectedAt: s.disconnectedAt,
    protocolVersion: s.link?.protocolVersion ?? 4,
    subs: [...s.subs.values()].map((sub) => ({
      raw: sub.raw,
      qos: sub.qos,
      nl: sub.noLocal,
      rap: sub.retainAsPublished,
      rh: sub.retainHandling,
      ...(sub.identifier === undefined ? {} : { id: sub.identifier }),
    })),
    cursors: [...s.follower.cursors.values()].map((c) => ({ t: c.topic, p: c.partition, o: c.next })),
    inflight: [],
    qos2: [...s.inboundQos2.keys()],
  };
  for (const e of s.inflight.values()) {
    if (e.cursor === null || e.group !== null) continue; // retained-on-subscribe, shared deliveries
    const retain = e.packet?.retain ?? e.retain ?? false;
    stored.inflight.push({
      id: e.packetId,
      qos: e.qos,
      state: e.state,
      t: e.cursor.topic,
      p: e.cursor.partition,
      o: e.offset,
      ...(retain && e.state === "publish" ? { r: true } : {}),
    });
  }
  if (s.will !== null) stored.will = { due: s.will.due, m: storedMessage(s.will.msg) };
  return stored;
}

export function restoreSession(s: Session, stored: StoredSession, now: number): void {
  s.expiryInterval = stored.expiry;
  s.disconnectedAt = stored.disconnectedAt ?? now;
  for (const sub of stored.subs) {
    const parsed = parseSubscriptionFilter(sub.raw);
    if (!parsed) continue;
    const restored: Subscription = {
      raw: sub.raw,
      filter: parsed.filter,
      group: parsed.group,
      qos: sub.qos,
      noLocal: sub.nl,
      retainAsPublished: sub.rap,
      retainHandling: sub.rh,
      since: new Map(),
      ...(sub.id === undefined ? {} : { identifier: sub.id }),
    };
    s.subs.set(sub.raw, restored);
    if (parsed.group === null) s.trie.set(parsed.filter, sub.raw, restored);
  }
  for (const c of stored.cursors) s.follower.ensureCursor(c.t, c.p, c.o);
  for (const e of stored.inflight) {
    const cursor = s.follower.ensureCursor(e.t, e.p, e.o);
    cursor.outstanding.add(e.o); // offer() skips it if the cursor is behind it (older records)
    s.inflight.set(e.id, {
      packetId: e.id,
      qos: e.qos,
      state: e.state,
      packet: null,
      retain: e.r === true,
      cursor,
      offset: e.o,
      group: null,
    });
  }
  for (const id of stored.qos2) s.inboundQos2.set(id, 0);
  if (stored.will) s.will = { due: stored.will.due, msg: restoreMessage(stored.will.m) };
}

/**
 * Read back from the log the messages of restored deliveries still in state
 * "publish", so that attach() can resend them; a delivery whose record is no
 * longer in the log (retention) is dropped.
 */
export async function loadInflight(s: Session, broker: BrokerApi, mapping: TopicMapping): Promise<void> {
  for (const e of [...s.inflight.values()]) {
    if (e.state !== "publish" || e.packet !== null || e.msg !== undefined || e.cursor === null) continue;
    let msg: MqttMessage | null = null;
    try {
      const res = await broker.readRecords({
        topic: e.cursor.topic,
        partition: e.cursor.partition,
        offset: e.offset,
        maxRecords: 1,
      });
      const record = res.records.find((r) => r.offset === e.offset);
      if (record) msg = recordToMessage(record, e.cursor.topic, mapping);
    } catch {
      msg = null; // out of range or topic gone: nothing to resend
    }
    if (msg === null) {
      s.inflight.delete(e.packetId);
      e.cursor.outstanding.delete(e.offset);
      s.dirty = true;
    } else e.msg = msg;
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "base64"));

export function storedMessage(m: MqttMessage): StoredMessage {
  const out: StoredMessage = { t: m.topic, p: b64(m.payload), q: m.qos, r: m.retain, c: m.clientId };
  if (m.userProperties.length > 0) out.up = m.userProperties;
  if (m.contentType !== undefined) out.ct = m.contentType;
  if (m.payloadFormatUtf8) out.pf = true;
  if (m.responseTopic !== undefined) out.rt = m.responseTopic;
  if (m.correlationData !== undefined) out.cd = b64(m.correlationData);
  if (m.messageExpiry !== undefined) out.me = m.messageExpiry;
  return out;
}

export function restoreMessage(m: StoredMessage): MqttMessage {
  const msg: MqttMessage = {
    topic: m.t,
    payload: unb64(m.p),
    qos: m.q,
    retain: m.r,
    clientId: m.c,
    timestamp: 0,
    userProperties: m.up ?? [],
  };
  if (m.ct !== undefined) msg.contentType = m.ct;
  if (m.pf) msg.payloadFormatUtf8 = true;
  if (m.rt !== undefined) msg.responseTopic = m.rt;
  if (m.cd !== undefined) msg.correlationData = unb64(m.cd);
  if (m.me !== undefined) msg.messageExpiry = m.me;
  return msg;
}

export function storedGroup(g: SharedGroup): StoredGroup {
  return {
    v: 1,
    group: g.group,
    filter: g.filter,
    cursors: g.follower.committed().map((c) => ({ t: c.topic, p: c.partition, o: c.offset })),
  };
}

export function restoreGroup(g: SharedGroup, stored: StoredGroup): void {
  for (const c of stored.cursors) g.follower.ensureCursor(c.t, c.p, c.o);
}
