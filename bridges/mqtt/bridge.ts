/**
 * The MQTT bridge's shared state, independent of sockets: sessions, shared
 * groups, retained messages, the publish path into the log, wake-ups from
 * broker.onAppend, session persistence and wills. Connections (connection.ts)
 * and packet handlers (handlers/*) act on it.
 */
import type { BrokerApi, ForwardTarget } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import {
  ensureCompactedTopic,
  ensureStreamTopic,
  RETAINED_TOPIC,
  SESSIONS_TOPIC,
} from "./internal-topics.ts";
import type { MqttAuth } from "./auth.ts";
import type { Connection } from "./connection.ts";
import { type LogFollower, partitionKey } from "./log-follower.ts";
import type { TopicMapping } from "./mapping.ts";
import { MessageWindows } from "./message-window.ts";
import type { MqttMessage } from "./message.ts";
import type { ResolvedOptions } from "./options.ts";
import { ProduceBatcher, type StoreDone } from "./produce-batcher.ts";
import { Reason } from "./reason-codes.ts";
import { RetainedStore } from "./retained-store.ts";
import { Session, type Subscription } from "./session.ts";
import {
  loadInflight,
  restoreGroup,
  restoreMessage,
  restoreSession,
  storedGroup,
  storedSession,
} from "./session-codec.ts";
import { groupStoreKey, SessionStore, sessionKey } from "./session-store.ts";
import { groupKey, SharedGroup } from "./shared-group.ts";
import { newStats } from "./stats.ts";
import { SubscriptionTrie } from "./subscription-trie.ts";

export interface BridgeDeps {
  broker: BrokerApi;
  auth: MqttAuth;
  logger: Logger;
  clock: Clock;
  mapping: TopicMapping;
  options: ResolvedOptions;
}

/** Raised by publish when no mapping rule takes the topic. */
export class UnmappedTopicError extends Error {}

export const NEVER_EXPIRES = 0xffffffff;
const MAX_TIMER_MS = 2_147_483_647;
/** MQTT topics whose forward mapping is remembered (cleared when full). */
const FORWARD_CACHE_LIMIT = 10_000;

export class MqttBridge {
  readonly sessions = new Map<string, Session>();
  readonly groups = new Map<string, SharedGroup>();
  /** Live connections by client id. */
  readonly connections = new Map<string, Connection>();
  readonly retained: RetainedStore;
  readonly stats = newStats();
  private readonly store: SessionStore;
  private readonly batcher: ProduceBatcher;
  /** Decoded recent records per partition, shared by every follower (message-window.ts). */
  readonly windows: MessageWindows;
  private readonly wills = new Map<string, { timer: ReturnType<typeof setTimeout>; fire: () => void }>();
  private readonly deletedKeys = new Set<string>();
  private unlisten: (() => void) | null = null;
  private flushTimer: ReturnType<typeof setInterval> | null = null;
  private saving: Promise<void> = Promise.resolve();
  /** A flush queued behind the running one (it picks up every change made before it starts). */
  private queuedFlush: Promise<void> | null = null;
  private queuedAll = false;
  private saveRequested = false;
  closed = false;
  private readonly visible: ReadonlySet<string>;
  private readonly forwardCache = new Map<string, ForwardTarget | null>();
  /** Set while the listener closes: connections it ends publish no will. */
  shuttingDown = false;

  constructor(readonly deps: BridgeDeps) {
    this.retained = new RetainedStore(deps.broker);
    this.visible = new Set(deps.mapping.visibleTopics);
    this.store = new SessionStore(deps.broker, deps.options.produceTimeoutMs);
    this.windows = new MessageWindows(deps.broker, deps.mapping);
    this.batcher = new ProduceBatcher(deps.broker, {
      timeoutMs: deps.options.produceTimeoutMs,
      clock: deps.clock,
      // What we just appended fills the shared delivery window: no read back from the log.
      onAppending: (topic, partition) => {
        if (this.visible.has(topic)) this.windows.expectFill(topic, partition);
      },
      onAppended: (b) => {
        if (this.visible.has(b.topic) && this.windows.fill(b)) this.onAppend(b.topic, b.partition);
      },
    });
  }

  /** Create the topics the mapping names and the internal ones, load retained messages and sessions. */
  async start(): Promise<void> {
    const { broker, mapping, options } = this.deps;
    await ensureCompactedTopic(broker, RETAINED_TOPIC);
    await ensureCompactedTopic(broker, SESSIONS_TOPIC);
    for (const topic of mapping.visibleTopics) await ensureStreamTopic(broker, topic, options.partitions);
    await this.retained.load(mapping);
    const { sessions, groups } = await this.store.load();
    const now = this.deps.clock.now();
    const dueWills: Array<[string, MqttMessage]> = [];
    for (const stored of sessions) {
      if (stored.expiry !== NEVER_EXPIRES && stored.disconnectedAt !== null) {
        if (stored.disconnectedAt + stored.expiry * 1000 <= now) {
          // The session ended while we were down; its will was due by then [MQTT-3.1.3-9].
          if (stored.will) dueWills.push([stored.clientId, restoreMessage(stored.will.m)]);
          this.deletedKeys.add(sessionKey(stored.clientId));
          continue;
        }
      }
      const session = this.newSession(stored.clientId);
      restoreSession(session, stored, now);
      await loadInflight(session, broker, mapping);
      this.sessions.set(session.clientId, session);
    }
    for (const stored of groups) {
      const group = this.group(stored.group, stored.filter);
      restoreGroup(group, stored);
    }
    for (const session of this.sessions.values()) {
      for (const sub of session.subs.values()) {
        if (sub.group !== null) this.group(sub.group, sub.filter).members.set(session, sub);
      }
    }
    for (const [key, group] of this.groups) {
      if (group.members.size === 0) {
        this.groups.delete(key);
        this.deletedKeys.add(groupStoreKey(key));
      }
    }
    this.unlisten = broker.onAppend((event) => {
      this.batcher.committed(event.topic, event.partition, event.highWatermark);
      this.onAppend(event.topic, event.partition);
    });
    this.flushTimer = setInterval(() => void this.flush(), options.sessionFlushIntervalMs);
    // Wills that waited out their delay across the restart: due now or later, unless the client returns.
    for (const [clientId, msg] of dueWills) this.publishWill(clientId, msg);
    for (const session of this.sessions.values()) {
      const will = session.will;
      if (will !== null) this.armWill(session.clientId, will.msg, will.due);
    }
  }

  newSession(clientId: string): Session {
    return new Session(clientId, {
      follower: this.followerDeps(),
      clock: this.deps.clock,
      stats: this.stats,
      maxInflight: this.deps.options.maxInflight,
      onRoom: (session) => this.wakeSession(session),
      onInflightChange: (session) => this.sessionChanged(session),
      newTrie: () => new SubscriptionTrie<Subscription>(),
    });
  }

  private followerDeps(): ConstructorParameters<typeof SharedGroup>[2] {
    return {
      broker: this.deps.broker,
      mapping: this.deps.mapping,
      logger: this.deps.logger,
      windows: this.windows,
    };
  }

  /** The shared group for ($share/group/filter), created on first use. */
  group(group: string, filter: string): SharedGroup {
    const key = groupKey(group, filter);
    let g = this.groups.get(key);
    if (!g) {
      g = new SharedGroup(group, filter, this.followerDeps());
      this.groups.set(key, g);
    }
    return g;
  }

  private *followers(): Generator<LogFollower> {
    for (const s of this.sessions.values()) yield s.follower;
    for (const g of this.groups.values()) yield g.follower;
  }

  private onAppend(topic: string, partition: number): void {
    if (!this.visible.has(topic)) return;
    const key = partitionKey(topic, partition);
    // Offline sessions are woken when they attach (Session.attach); only connected ones read now.
    for (const s of this.sessions.values())
      if (s.link !== null) wakeFollower(s.follower, topic, partition, key);
    for (const g of this.groups.values()) wakeFollower(g.follower, topic, partition, key);
  }

  /** Room opened for a session (ack, drain, reconnect): wake it and the shared groups it belongs to. */
  wakeSession(session: Session): void {
    session.follower.wake();
    for (const sub of session.subs.values()) {
      if (sub.group !== null) this.groups.get(groupKey(sub.group, sub.filter))?.follower.wake();
    }
  }

  /** Start following every MQTT-visible stream topic (new messages only). */
  async followVisible(follower: LogFollower): Promise<void> {
    for (const topic of this.deps.mapping.visibleTopics) await follower.follow(topic, "latest");
  }

  /**
   * publish() with a callback, for the inbound hot path (QoS 0/1 without
   * retain: one record, no promise per message). `done(null)` once durable.
   */
  storeMessage(msg: MqttMessage, done: StoreDone): void {
    if (msg.retain) {
      this.publish(msg).then(() => done(null), done);
      return;
    }
    const target = this.forward(msg.topic);
    if (!target) {
      done(new UnmappedTopicError(`no mapping rule takes MQTT topic '${msg.topic}'`));
      return;
    }
    this.batcher.enqueue(target.topic, msg, target.key, done);
  }

  /** The mapping's forward target of an MQTT topic (remembered: the mapping does not change). */
  private forward(topic: string): ForwardTarget | null {
    let target = this.forwardCache.get(topic);
    if (target === undefined) {
      if (this.forwardCache.size >= FORWARD_CACHE_LIMIT) this.forwardCache.clear();
      target = this.deps.mapping.forward(topic);
      this.forwardCache.set(topic, target);
    }
    return target;
  }

  /**
   * Store a message: append it to its mapped stream topic (and to
   * __mqtt_retained when retained); resolves once durable under the topic's policy.
   */
  async publish(msg: MqttMessage): Promise<void> {
    const target = this.forward(msg.topic);
    if (!target) throw new UnmappedTopicError(`no mapping rule takes MQTT topic '${msg.topic}'`);
    const writes: Array<Promise<void>> = [];
    // A retained zero-byte payload only clears the retained message; it is not forwarded as data.
    if (!(msg.retain && msg.payload.length === 0)) {
      writes.push(
        new Promise<void>((resolve, reject) =>
          this.batcher.enqueue(target.topic, msg, target.key, (err) =>
            err === null ? resolve() : reject(err),
          ),
        ),
      );
    }
    if (msg.retain) writes.push(this.batcher.submit(RETAINED_TOPIC, this.retained.record(msg)));
    await Promise.all(writes);
    if (msg.retain) this.retained.apply(msg);
  }

  /**
   * A persistent session's state changed in a way a restart must not lose (an
   * in-flight delivery, an acknowledgement, a pending will): save it with the
   * next batch, at most one save per event-loop turn.
   */
  sessionChanged(session: Session): void {
    if (!session.persistent || this.closed) return;
    session.dirty = true;
    if (this.saveRequested) return;
    this.saveRequested = true;
    setImmediate(() => {
      this.saveRequested = false;
      if (!this.closed) void this.flush();
    });
  }

  /** Save a persistent session now (with whatever else changed); resolves once saved or failed. */
  saveSession(session: Session): Promise<void> {
    if (!session.persistent || this.closed) return Promise.resolve();
    session.dirty = true;
    return this.flush();
  }

  /** Publish a will message now, or after its delay unless the client comes back first [MQTT-3.1.3-9]. */
  scheduleWill(clientId: string, will: MqttMessage, delaySeconds: number): void {
    this.armWill(clientId, will, this.deps.clock.now() + delaySeconds * 1000);
  }

  /** Publish `will` at `due` (ms since the epoch); a persistent session saves it so a restart keeps it. */
  private armWill(clientId: string, will: MqttMessage, due: number): void {
    this.cancelWill(clientId);
    const fire = () => {
      this.wills.delete(clientId);
      this.clearSessionWill(clientId);
      this.publishWill(clientId, will);
    };
    const delay = due - this.deps.clock.now();
    if (delay <= 0) {
      fire();
      return;
    }
    const session = this.sessions.get(clientId);
    if (session?.persistent) {
      session.will = { msg: will, due };
      this.sessionChanged(session);
    }
    // Timers cap at 2^31-1 ms (~24.8 days); a longer delay (up to 2^32-1 s in v5) re-arms.
    const timer =
      delay > MAX_TIMER_MS
        ? setTimeout(() => this.armWill(clientId, will, due), MAX_TIMER_MS)
        : setTimeout(fire, delay);
    this.wills.set(clientId, { timer, fire });
  }

  private publishWill(clientId: string, will: MqttMessage): void {
    this.publish({ ...will, timestamp: this.deps.clock.now() }).catch((err) =>
      this.deps.logger.warn("mqtt will message not stored", { clientId, err }),
    );
  }

  private clearSessionWill(clientId: string): void {
    const session = this.sessions.get(clientId);
    if (session && session.will !== null) {
      session.will = null;
      this.sessionChanged(session);
    }
  }

  cancelWill(clientId: string): void {
    const pending = this.wills.get(clientId);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.wills.delete(clientId);
    }
    this.clearSessionWill(clientId);
  }

  /** Apply the server's cap to a requested Session Expiry Interval (seconds). */
  capExpiry(requested: number): number {
    const cap = this.deps.options.maxSessionExpiry;
    return cap === null ? requested : Math.min(requested, cap);
  }

  /** A second connection with the same client id takes over [MQTT-3.1.4-3]: the old one gets 0x8E. */
  takeOver(clientId: string, conn: Connection): void {
    const old = this.connections.get(clientId);
    this.connections.set(clientId, conn);
    if (!old || old === conn) return;
    old.serverDisconnect(Reason.SESSION_TAKEN_OVER, "another connection took over this client id");
    old.close();
  }

  /**
   * A client reconnects while its previous connection's will waits out its
   * delay: resuming the session cancels the will; a clean start ends the old
   * session, which publishes it now [MQTT-3.1.3-9].
   */
  willOnReconnect(clientId: string, cleanStart: boolean): void {
    const pending = this.wills.get(clientId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.wills.delete(clientId);
    if (cleanStart) pending.fire();
    else this.clearSessionWill(clientId);
  }

  /** The network connection ended: will, then detach (persistent) or end the session. */
  connectionEnded(conn: Connection): void {
    if (this.connections.get(conn.clientId) === conn) this.connections.delete(conn.clientId);
    const session = conn.session;
    const willAllowed =
      conn.will !== null &&
      (this.deps.auth.canPublish?.(conn.user, conn.clientId, conn.will.msg.topic) ?? true);
    if (conn.will && !willAllowed) this.stats.dropped.notAuthorized++;
    if (conn.will && willAllowed && !this.shuttingDown && !this.closed) {
      const sessionExpiry = session?.expiryInterval ?? 0;
      // The will is sent at the earlier of the will delay and the session's end [MQTT-3.1.3-9].
      this.scheduleWill(conn.clientId, conn.will.msg, Math.min(conn.will.delay, sessionExpiry));
    }
    if (session && session.link === conn) {
      session.detach(this.deps.clock.now());
      if (!session.persistent) this.endSession(session);
      else this.sessionChanged(session);
    }
  }

  /** End a session for good; its store entry is deleted on the next flush. */
  endSession(session: Session): void {
    // A will still waiting is sent when the session ends, at the latest [MQTT-3.1.3-9].
    const pending = this.wills.get(session.clientId);
    if (pending && this.sessions.get(session.clientId) === session) {
      clearTimeout(pending.timer);
      pending.fire();
    }
    session.destroy();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    for (const sub of session.subs.values()) {
      if (sub.group !== null) this.leaveGroup(session, sub);
    }
    this.deletedKeys.add(sessionKey(session.clientId));
  }

  leaveGroup(session: Session, sub: Subscription): void {
    const key = groupKey(sub.group!, sub.filter);
    const group = this.groups.get(key);
    if (!group) return;
    group.members.delete(session);
    if (group.members.size === 0) {
      group.follower.closed = true;
      this.groups.delete(key);
      this.deletedKeys.add(groupStoreKey(key));
    }
  }

  /** Drop sessions whose expiry interval has passed since disconnect; release unused window entries. */
  expireSessions(): void {
    this.trimWindows();
    const now = this.deps.clock.now();
    for (const session of [...this.sessions.values()]) {
      if (session.link !== null || session.disconnectedAt === null) continue;
      if (session.expiryInterval === NEVER_EXPIRES) continue;
      if (session.disconnectedAt + session.expiryInterval * 1000 <= now) this.endSession(session);
    }
  }

  /**
   * Release shared window entries that no connected follower needs: offline
   * sessions and groups without a connected member read from the log when they
   * resume, so they hold nothing in memory.
   */
  trimWindows(): void {
    const readers = new Map<string, number[]>();
    const add = (f: LogFollower) => {
      for (const [key, cursor] of f.cursors) {
        const list = readers.get(key);
        if (list) list.push(cursor.next);
        else readers.set(key, [cursor.next]);
      }
    };
    for (const s of this.sessions.values()) if (s.link !== null) add(s.follower);
    for (const g of this.groups.values()) {
      for (const member of g.members.keys()) {
        if (member.link !== null) {
          add(g.follower);
          break;
        }
      }
    }
    this.windows.trim(readers);
  }

  /**
   * Save changed persistent sessions and groups (and deletions) to
   * __mqtt_sessions. Calls made while a save runs share one queued save, which
   * takes every change made before it starts.
   */
  flush(opts: { all?: boolean } = {}): Promise<void> {
    if (opts.all) this.queuedAll = true;
    if (this.queuedFlush) return this.queuedFlush;
    const run = async () => {
      this.queuedFlush = null;
      const all = this.queuedAll;
      this.queuedAll = false;
      const entries: Parameters<SessionStore["save"]>[0] = [];
      const saved: Array<Session | SharedGroup> = [];
      for (const key of this.deletedKeys) entries.push({ key, value: null });
      this.deletedKeys.clear();
      for (const s of this.sessions.values()) {
        if (!s.persistent || !(s.dirty || all || s.follower.changed)) continue;
        s.dirty = false;
        s.follower.changed = false;
        saved.push(s);
        entries.push({ key: sessionKey(s.clientId), value: storedSession(s) });
      }
      for (const g of this.groups.values()) {
        if (!(g.dirty || all || g.follower.changed)) continue;
        g.dirty = false;
        g.follower.changed = false;
        saved.push(g);
        entries.push({ key: groupStoreKey(g.key), value: storedGroup(g) });
      }
      try {
        await this.store.save(entries);
      } catch (err) {
        this.deps.logger.warn("mqtt session state not saved; will retry", { err });
        for (const e of entries) if (e.value === null) this.deletedKeys.add(e.key);
        for (const x of saved) x.dirty = true; // saved again by the next flush
      }
    };
    const queued = this.saving.then(run, run);
    this.queuedFlush = queued;
    this.saving = queued;
    return queued;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unlisten?.();
    this.batcher.close();
    if (this.flushTimer) clearInterval(this.flushTimer);
    for (const pending of this.wills.values()) clearTimeout(pending.timer);
    this.wills.clear();
    await this.flush({ all: true });
    for (const f of this.followers()) f.closed = true;
  }
}

/** New records on topic-partition: wake the follower if it follows them. */
function wakeFollower(f: LogFollower, topic: string, partition: number, key: string): void {
  if (f.cursors.has(key)) f.wake();
  else if (f.topics.has(topic)) {
    f.ensureCursor(topic, partition, "earliest"); // a partition added after we started following
    f.wake();
  }
}
