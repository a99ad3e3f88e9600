/**
 * Session and shared-group state ↔ their stored JSON form (session-store.ts).
 * A cursor is saved at its committed offset (lowest unacknowledged), so after
 * a restart QoS 1/2 messages not yet acknowledged are delivered again (QoS 1:
 * at least once). QoS 2 deliveries already at PUBREL keep their packet id and
 * their offset stays reserved, so the PUBREL is resent, not the message.
 */
import type { SharedGroup } from "./shared-group.ts";
import type { Session, Subscription } from "./session.ts";
import type { StoredGroup, StoredSession } from "./session-store.ts";
import { parseSubscriptionFilter } from "./topic-filter.ts";

export function storedSession(s: Session): StoredSession {
  return {
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
    cursors: s.follower.committed().map((c) => ({ t: c.topic, p: c.partition, o: c.offset })),
    inflight: [...s.inflight.values()]
      .filter((e) => e.state === "pubrel" && e.cursor !== null && e.group === null)
      .map((e) => ({
        id: e.packetId,
        qos: e.qos,
        state: e.state,
        t: e.cursor!.topic,
        p: e.cursor!.partition,
        o: e.offset,
      })),
    qos2: [...s.inboundQos2.keys()],
  };
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
    cursor.outstanding.add(e.o);
    s.inflight.set(e.id, {
      packetId: e.id,
      qos: e.qos,
      state: "pubrel",
      packet: { cmd: "publish", topic: "", payload: Buffer.alloc(0), qos: e.qos, dup: true, retain: false },
      cursor,
      offset: e.o,
      group: null,
    });
  }
  for (const id of stored.qos2) s.inboundQos2.set(id, 0);
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
