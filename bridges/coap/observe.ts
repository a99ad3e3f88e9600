/**
 * RFC 7641 Observe for topic-data resources: every record that becomes
 * visible on an observed stream topic (produced over CoAP, MQTT, Kafka or
 * HTTP alike) goes to each observer as a notification, in partition order.
 *
 * - Register: GET + Observe 0 (the topic-data resource adds the observer
 *   after answering); deregister: GET + Observe 1 with the same token, a RST
 *   to a notification, or a CON notification that times out (§3.6, §4.2, §4.5).
 * - Sequence numbers: 24-bit, increasing per observation (§3.4, §4.4).
 * - Positions: each observer owes itself a next offset per partition, set at
 *   registration to the high watermark its response reflected (never a record
 *   from before), or to the end of a `?offset=N` / `?since=` replay page. A
 *   record is sent to an observer only at or after its position, so nothing
 *   is sent twice; an observer behind the shared cursor is caught up by its
 *   own reads from the log (see catch-up.ts), so nothing is skipped.
 * - One read cursor per (topic, partition): broker.onAppend wakes it and each
 *   record read is encoded once (codec/template.ts) and fanned out to the
 *   observers with only token, message id and Observe value patched in.
 * - Flow control (§4.5.1): notifications are NON, except that at least every
 *   `observerCheckMs` (the topic's observer-check, default 24 h) or every
 *   `conEvery` notifications one goes as CON; at most one CON is outstanding
 *   per observer, and while it is, at most `conEvery` NON follow it. Past
 *   that the observer is saturated: live notifications keep only the newest
 *   state (intermediate ones are dropped and counted), sent when the CON is
 *   acknowledged; catch-up reads wait instead (the log is their buffer).
 * - Mapped topics (`/ps/data/sensors/dev1/temp`): the observer follows the
 *   stream topic the mapping names (TopicMapping.sourceTopic) and gets only
 *   the records delivered under its topic (`mqtt.topic` header or a reverse
 *   rule); the topic of a record is worked out once per record, not per observer.
 * - Large values go as block 0 of a Block2 transfer with ETag (partition,
 *   offset); the observer's follow-up GETs are served that same record
 *   (`blockSource`). For a source not verified by Echo, the block size is cut
 *   so that a notification stays within the amplification limit (RFC 9175 §2.4).
 */
import { type BrokerApi, recordTopic, type StoredRecord, type TopicMapping } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import type { EchoVerifier } from "./abuse.ts";
import { catchUp } from "./catch-up.ts";
import { type CoapOption, Code, MessageType, OptionNumber } from "./codec/constants.ts";
import { encodeBlock, uintOption } from "./codec/options.ts";
import { encodeFromTemplate, makeTemplate, type NotificationTemplate } from "./codec/template.ts";
import type { MessageLayer, Peer } from "./message-layer.ts";
import { peerKey } from "./message-layer.ts";
import type { TopicPropsStore } from "./resources/topic-props-store.ts";
import { recordContentFormat, recordEtag } from "./resources/records.ts";
import { readSharedCursor } from "./shared-cursor.ts";

export interface Observer {
  key: string;
  peer: Peer;
  peerKey: string;
  token: Uint8Array;
  /** The stream topic followed. */
  topic: string;
  /** The resource name (props, Block2 follow-ups): the stream topic, or the mapped topic. */
  name: string;
  /** Only records delivered under this mapped topic; undefined: every record. */
  mqttTopic: string | undefined;
  seq: number;
  lastConAt: number;
  sinceCon: number;
  conInFlight: boolean;
  /** NON notifications sent since the outstanding CON. */
  unconfirmed: number;
  /** Next offset owed, per partition (undefined: everything on it is new). */
  pos: number[];
  /** Partitions with a catch-up read running. */
  catchingUp: Set<number>;
  /** The newest state held back while saturated. */
  held: Prepared | undefined;
  /** Resolved when the outstanding CON is settled (catch-up waits on these). */
  waiters: Array<() => void>;
  /** Size of the registration request, for the amplification limit. */
  requestBytes: number;
  removed: boolean;
  /** Notifications sent (NON and CON), and the wall-clock time of the last one (operator views). */
  notifications: number;
  lastNotifiedAt: number | undefined;
}

/** One observation as the operator sees it (GET /v1/coap/observers). */
export interface ObservationInfo {
  /** The client, "address:port". */
  source: string;
  /** The resource name observed: the stream topic, or the mapped topic. */
  resource: string;
  /** The stream topic followed. */
  topic: string;
  tokenHex: string;
  /** The last Observe sequence number used (24-bit). */
  seq: number;
  notifications: number;
  /** Wall-clock ms of the last notification; null before the first. */
  lastNotifiedAt: number | null;
  /** A CON notification is awaiting its ACK. */
  conOutstanding: boolean;
}

export interface ObserveOptions {
  broker: BrokerApi;
  layer: MessageLayer;
  clock: Clock;
  logger: Logger;
  props: TopicPropsStore;
  mapping: TopicMapping;
  maxObservers: number;
  /** Default interval between CON notifications when the topic has no observer-check. */
  observerCheckMs: number;
  conEvery: number;
  /** Largest block size exponent for notifications (6 = 1024 bytes). */
  maxPayloadSzx: number;
  echo?: EchoVerifier | undefined;
  /** Datagrams waiting to be sent; the shared cursor waits while it is long. */
  backlog?(): number;
  /** Intermediate states dropped for saturated observers (metrics). */
  onDropped?(n: number): void;
}

/** One record, encoded lazily once per block size. */
export interface Prepared {
  partition: number;
  record: StoredRecord;
  templates: Array<NotificationTemplate | undefined>;
  /** The mapped topic of the record (worked out on first need; null: none). */
  name?: string | null;
}

export interface Registration {
  peer: Peer;
  token: Uint8Array;
  topic: string;
  /** Resource name, default `topic`; with `mqttTopic`, the mapped topic. */
  name?: string;
  /** Deliver only the records whose mapped topic is this. */
  mqttTopic?: string;
  /** Next offset per partition the observer is owed (the response's high watermarks or replay ends). */
  positions: number[];
  requestBytes: number;
}

export const observerKey = (peer: Peer, token: Uint8Array): string =>
  `${peerKey(peer)}#${Buffer.from(token).toString("hex")}`;

export interface Cursor {
  next: number;
  reading: boolean;
  again: boolean;
}

export class ObserveManager {
  private readonly observers = new Map<string, Observer>();
  readonly byTopic = new Map<string, Set<Observer>>();
  readonly cursors = new Map<string, Cursor>();
  /** (peer, topic) → the record whose block 0 that peer got last. */
  private readonly blocks = new Map<string, { partition: number; offset: number }>();
  private readonly unsubscribe: () => void;
  private registrations = 0;
  closed = false;

  constructor(readonly o: ObserveOptions) {
    this.unsubscribe = o.broker.onAppend((e) => {
      if (this.byTopic.has(e.topic)) void readSharedCursor(this, e.topic, e.partition);
    });
  }

  get count(): number {
    return this.observers.size;
  }

  /** Every live observation, for the operator (at most `limit`, registration order). */
  list(limit = Number.POSITIVE_INFINITY): ObservationInfo[] {
    const out: ObservationInfo[] = [];
    for (const ob of this.observers.values()) {
      if (out.length >= limit) break;
      out.push({
        source: ob.peer.address.includes(":")
          ? `[${ob.peer.address}]:${ob.peer.port}`
          : `${ob.peer.address}:${ob.peer.port}`,
        resource: ob.name,
        topic: ob.topic,
        tokenHex: Buffer.from(ob.token).toString("hex"),
        seq: ob.seq,
        notifications: ob.notifications,
        lastNotifiedAt: ob.lastNotifiedAt ?? null,
        conOutstanding: ob.conInFlight,
      });
    }
    return out;
  }

  countFor(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /** Observers of one resource (a stream topic, or a mapped topic). */
  countForName(name: string): number {
    let n = 0;
    for (const ob of this.observers.values()) if (ob.name === name) n++;
    return n;
  }

  /** Does the observer want this record (its mapped topic, if it has one)? */
  wants(ob: Observer, p: Prepared): boolean {
    if (ob.mqttTopic === undefined) return true;
    if (p.name === undefined) p.name = recordTopic(this.o.mapping, ob.topic, p.record);
    return p.name === ob.mqttTopic;
  }

  /** Observers of a mapped topic: a final 4.04 and drop them. */
  cancelName(name: string, reason: string): void {
    for (const ob of [...this.observers.values()]) {
      if (ob.name !== name) continue;
      this.o.layer.sendNonConfirmable(ob.peer, {
        code: Code.NOT_FOUND,
        token: ob.token,
        options: [],
        payload: new TextEncoder().encode(reason),
      });
      this.remove(ob.key);
    }
  }

  /**
   * Add (or refresh) an observation. Returns the Observe value for the
   * response, or undefined when a limit is reached (answer without Observe).
   */
  register(r: Registration): number | undefined {
    const key = observerKey(r.peer, r.token);
    const existing = this.observers.get(key);
    if (existing) this.remove(key);
    const name = r.name ?? r.topic;
    const max = this.o.props.get(name).maxSubscribers;
    if (this.observers.size >= this.o.maxObservers || (max !== undefined && this.countForName(name) >= max))
      return undefined;
    const ob: Observer = {
      key,
      peer: r.peer,
      peerKey: peerKey(r.peer),
      token: r.token,
      topic: r.topic,
      name,
      mqttTopic: r.mqttTopic,
      seq: existing?.name === name ? existing.seq : 0,
      lastConAt: this.o.clock.monotonic(),
      // Stagger the CON schedule: observers registered together would otherwise all
      // get their CON in the same fan-out, and their ACKs arrive as one burst.
      sinceCon: this.registrations++ % this.o.conEvery,
      conInFlight: false,
      unconfirmed: 0,
      pos: [...r.positions],
      catchingUp: new Set(),
      held: undefined,
      waiters: [],
      requestBytes: r.requestBytes,
      removed: false,
      notifications: 0,
      lastNotifiedAt: undefined,
    };
    this.observers.set(key, ob);
    let set = this.byTopic.get(r.topic);
    if (!set) {
      set = new Set();
      this.byTopic.set(r.topic, set);
    }
    set.add(ob);
    r.positions.forEach((pos, p) => {
      const ckey = `${r.topic}#${p}`;
      const cursor = this.cursors.get(ckey);
      // Reads start on the next turn, after the registration response has gone out.
      if (!cursor) {
        // A new cursor starts at the position; a replay position is behind the end, so read.
        this.cursors.set(ckey, { next: pos, reading: false, again: false });
        setImmediate(() => void readSharedCursor(this, r.topic, p));
      } else if (pos < cursor.next) setImmediate(() => void catchUp(this, ob, p));
    });
    return this.nextSeq(ob);
  }

  deregister(peer: Peer, token: Uint8Array): boolean {
    return this.remove(observerKey(peer, token));
  }

  /** The peer reset a notification. */
  onReset(peer: Peer, token: Uint8Array): void {
    this.remove(observerKey(peer, token));
  }

  /** The record whose block 0 this peer got last for the topic (Block2 follow-ups read it). */
  blockSource(peer: Peer, topic: string): { partition: number; offset: number } | undefined {
    return this.blocks.get(`${peerKey(peer)}#${topic}`);
  }

  rememberBlock(peer: Peer, topic: string, partition: number, offset: number): void {
    const key = `${peerKey(peer)}#${topic}`;
    this.blocks.delete(key);
    this.blocks.set(key, { partition, offset });
    if (this.blocks.size > Math.max(1000, this.o.maxObservers)) {
      const oldest = this.blocks.keys().next().value;
      if (oldest !== undefined) this.blocks.delete(oldest);
    }
  }

  /** The topic (or its data) went away: tell observers with a final 4.04 and drop them (§3.2). */
  cancelTopic(topic: string, reason: string): void {
    for (const ob of [...(this.byTopic.get(topic) ?? [])]) {
      this.o.layer.sendNonConfirmable(ob.peer, {
        code: Code.NOT_FOUND,
        token: ob.token,
        options: [],
        payload: new TextEncoder().encode(reason),
      });
      this.remove(ob.key);
    }
    for (const k of [...this.cursors.keys()]) if (k.startsWith(`${topic}#`)) this.cursors.delete(k);
  }

  remove(key: string): boolean {
    const ob = this.observers.get(key);
    if (!ob) return false;
    ob.removed = true;
    this.observers.delete(key);
    for (const w of ob.waiters.splice(0)) w();
    const set = this.byTopic.get(ob.topic);
    set?.delete(ob);
    if (set && set.size === 0) {
      this.byTopic.delete(ob.topic);
      for (const k of [...this.cursors.keys()]) if (k.startsWith(`${ob.topic}#`)) this.cursors.delete(k);
    }
    return true;
  }

  private nextSeq(ob: Observer): number {
    ob.seq = (ob.seq + 1) & 0xffffff;
    return ob.seq;
  }

  prepare(partition: number, record: StoredRecord): Prepared {
    return { partition, record, templates: [] };
  }

  /**
   * Records [from, to) of a partition, read by the shared cursor: each
   * observer gets those at or after its position; one behind `from` is caught up.
   */
  fanOutRange(topic: string, partition: number, from: number, to: number, records: StoredRecord[]): void {
    const set = this.byTopic.get(topic);
    if (!set) return;
    const prepared = records.map((r) => this.prepare(partition, r));
    for (const ob of set) {
      const pos = ob.pos[partition] ?? 0;
      if (pos >= to) continue;
      if (pos < from || ob.catchingUp.has(partition)) {
        void catchUp(this, ob, partition);
        continue;
      }
      for (const p of prepared) if (p.record.offset >= pos && this.wants(ob, p)) this.deliver(ob, p, false);
      ob.pos[partition] = to;
    }
  }

  /** Is the observer saturated (a CON outstanding and `conEvery` NON after it)? */
  saturated(ob: Observer): boolean {
    return ob.conInFlight && ob.unconfirmed >= this.o.conEvery;
  }

  /** Wait until the observer's outstanding CON settles. */
  settled(ob: Observer): Promise<void> {
    if (!ob.conInFlight || ob.removed) return Promise.resolve();
    return new Promise((resolve) => ob.waiters.push(resolve));
  }

  /** Send one notification to one observer, under flow control. */
  deliver(ob: Observer, p: Prepared, fromCatchUp: boolean): void {
    if (ob.removed) return;
    if (this.saturated(ob) && !fromCatchUp) {
      if (ob.held) this.o.onDropped?.(1);
      ob.held = p;
      return;
    }
    const template = this.template(ob, p);
    const now = this.o.clock.monotonic();
    const checkMs = (this.o.props.get(ob.name).observerCheck ?? 0) * 1000 || this.o.observerCheckMs;
    const seq = this.nextSeq(ob);
    ob.notifications++;
    ob.lastNotifiedAt = this.o.clock.now();
    if (!ob.conInFlight && (now - ob.lastConAt >= checkMs || ob.sinceCon + 1 >= this.o.conEvery)) {
      ob.conInFlight = true;
      ob.sinceCon = 0;
      ob.unconfirmed = 0;
      void this.o.layer
        .sendConfirmableEncoded(ob.peer, (mid) =>
          encodeFromTemplate(template, MessageType.CON, mid, ob.token, seq),
        )
        .then((outcome) => this.settle(ob, outcome));
    } else {
      ob.sinceCon++;
      if (ob.conInFlight) ob.unconfirmed++;
      this.o.layer.sendNonEncoded(
        ob.peer,
        ob.token,
        (mid) => encodeFromTemplate(template, MessageType.NON, mid, ob.token, seq),
        ob.peerKey,
      );
    }
  }

  private settle(ob: Observer, outcome: string): void {
    ob.conInFlight = false;
    ob.unconfirmed = 0;
    ob.lastConAt = this.o.clock.monotonic();
    if (outcome === "reset" || outcome === "timeout") {
      this.o.logger.debug("coap: observer gone", { peer: ob.peerKey, topic: ob.topic, outcome });
      this.remove(ob.key);
      return;
    }
    for (const w of ob.waiters.splice(0)) w();
    const held = ob.held;
    ob.held = undefined;
    if (held && !ob.removed) this.deliver(ob, held, false);
  }

  /** The notification template for this observer's block size (amplification limit). */
  private template(ob: Observer, p: Prepared): NotificationTemplate {
    let szx = this.o.maxPayloadSzx;
    const value = p.record.value ?? new Uint8Array(0);
    if (this.o.echo) {
      // Unverified source: only a block-wise notification can be cut to the amplification limit.
      const limit = this.o.echo.responseLimit(ob.peer, ob.requestBytes);
      if (value.length + 16 > limit) while (szx > 0 && (1 << (szx + 4)) + 16 > limit) szx--;
    }
    const large = value.length > 1 << (szx + 4);
    const slot = large ? szx : 7;
    let t = p.templates[slot];
    if (!t) {
      t = this.buildTemplate(p, large ? szx : undefined);
      p.templates[slot] = t;
    }
    if (large) this.rememberBlock(ob.peer, ob.name, p.partition, p.record.offset);
    return t;
  }

  private buildTemplate(p: Prepared, szx: number | undefined): NotificationTemplate {
    const value = p.record.value ?? new Uint8Array(0);
    const cf = recordContentFormat(p.record);
    const options: CoapOption[] = [
      { number: OptionNumber.ETAG, value: recordEtag(p.partition, p.record.offset) },
    ];
    if (cf !== undefined) options.push(uintOption(OptionNumber.CONTENT_FORMAT, cf));
    if (szx === undefined) return makeTemplate(Code.CONTENT, options, value);
    options.push({ number: OptionNumber.BLOCK2, value: encodeBlock({ num: 0, more: true, szx }) });
    options.push(uintOption(OptionNumber.SIZE2, value.length));
    return makeTemplate(Code.CONTENT, options, value.subarray(0, 1 << (szx + 4)));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const ob of this.observers.values()) {
      ob.removed = true;
      for (const w of ob.waiters.splice(0)) w();
    }
    this.observers.clear();
    this.byTopic.clear();
    this.cursors.clear();
  }
}
