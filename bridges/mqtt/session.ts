/**
 * A client's session (MQTT 5.0 section 4.1): its subscriptions, its log
 * cursors, its outbound in-flight window and its inbound QoS 2 packet ids.
 * It outlives the network connection while the Session Expiry Interval runs
 * (3.1.1: while Clean Session = 0).
 *
 * Outbound delivery: the session's LogFollower offers each MQTT-visible
 * record; the session matches it against its own subscription trie and sends
 * one PUBLISH at the highest granted QoS, carrying every matching
 * Subscription Identifier [MQTT-3.3.4-3][MQTT-3.3.4-5]. QoS 1/2 messages hold a
 * packet id until PUBACK / PUBCOMP, and at most Receive Maximum of them are
 * unacknowledged [MQTT-3.3.4-9] (a client that announces none, or 65535, gets
 * the adaptive window of inflight-window.ts, up to `maxInflight`); on reconnect they are resent with DUP set and
 * their original packet ids, PUBRELs resent after PUBREC [MQTT-4.4.0-1].
 */
import type { IPublishPacket } from "mqtt-packet";
import type { Clock } from "../../src/util/clock.ts";
import { InflightWindow } from "./inflight-window.ts";
import { type Cursor, type FollowerConsumer, LogFollower, type OfferResult } from "./log-follower.ts";
import { type MqttMessage, type QoS, toUserProperties } from "./message.ts";
import { encodeQos0, type PublishFlags } from "./publish-encoder.ts";
import type { MqttStats } from "./stats.ts";
import type { SubscriptionTrie } from "./subscription-trie.ts";

export interface Subscription {
  /** The filter as subscribed, including any $share/{group}/ prefix. */
  raw: string;
  filter: string;
  group: string | null;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  identifier?: number;
  /** Partition key → first offset this subscription may receive (records before it predate it). */
  since: Map<string, number>;
}

/** What a session needs from the live network connection. */
export interface SessionLink {
  readonly protocolVersion: number;
  /** The client's Receive Maximum (v5), else 65535. */
  readonly clientReceiveMaximum: number;
  /** Room in the socket (write queue under its high-water mark) and not closing. */
  writable(): boolean;
  /** Send a PUBLISH (topic alias applied by the link); false when dropped (too large for the client). */
  sendPublish(packet: IPublishPacket): boolean;
  /**
   * True when a PUBLISH without properties may go out as encoded by
   * publish-encoder.ts (no outbound topic aliases in use on this link).
   */
  plainPublish(): boolean;
  /** Send an encoded PUBLISH; false when dropped (too large for the client). */
  sendEncoded(bytes: Uint8Array): boolean;
  /**
   * Send a PUBLISH without properties for `msg`, encoded straight into the
   * link's output (no packet allocated); false when dropped (too large for the client).
   */
  sendPlainPublish(msg: MqttMessage, f: PublishFlags): boolean;
  sendPubrel(packetId: number): void;
}

/** Who is waiting for a QoS > 0 delivery to complete. */
export interface DeliverySource {
  cursor: Cursor | null;
  offset: number;
  /** Set for deliveries made on behalf of a shared subscription group. */
  group: { release(cursor: Cursor, offset: number, requeue: boolean): void } | null;
}

export interface Inflight extends DeliverySource {
  packetId: number;
  qos: 1 | 2;
  state: "publish" | "pubrel";
  /** The PUBLISH as sent through mqtt-packet, or null when sent by the fast encoder (then `msg`, `retain`). */
  packet: IPublishPacket | null;
  msg?: MqttMessage;
  retain?: boolean;
  /** When it was sent on the current connection (InflightWindow.now()); unset: not measured. */
  sentAt?: number;
}

export interface SessionDeps {
  follower: ConstructorParameters<typeof LogFollower>[0];
  clock: Clock;
  stats: MqttStats;
  /** Largest outbound in-flight window (the adaptive window's ceiling; caps the client's Receive Maximum). */
  maxInflight: number;
  /** Room opened (ack, reconnect, socket drained): wake this session's and its shared groups' followers. */
  onRoom(session: Session): void;
  /** The in-flight window changed (delivery, acknowledgement): persistent sessions save it soon. */
  onInflightChange(session: Session): void;
  newTrie(): SubscriptionTrie<Subscription>;
}

export class Session implements FollowerConsumer {
  readonly subs = new Map<string, Subscription>();
  readonly trie: SubscriptionTrie<Subscription>;
  readonly follower: LogFollower;
  readonly inflight = new Map<number, Inflight>();
  /** Inbound QoS 2 packet ids received and stored, awaiting PUBREL [MQTT-4.3.3-9]. */
  readonly inboundQos2 = new Map<number, Promise<number> | number>();
  link: SessionLink | null = null;
  /** Seconds; 0 = ends with the connection; 0xFFFFFFFF = never expires. */
  expiryInterval = 0;
  disconnectedAt: number | null = null;
  /** Subscriptions or cursors changed since the last save. */
  dirty = false;
  /** A will waiting out its Will Delay Interval (ms since the epoch), saved with the session. */
  will: { msg: MqttMessage; due: number } | null = null;
  /** ACL read check of the connected client (auth.ts canRead), set on CONNECT; null = no ACL. */
  readCheck: ((topic: string) => boolean) | null = null;
  /** The adaptive in-flight window (clients that announce no Receive Maximum below 65535). */
  readonly flow: InflightWindow;
  private nextPacketId = 1;
  /** Retained messages matched on SUBSCRIBE that waited for room in the window. */
  private readonly retainedBacklog: Array<{ msg: MqttMessage; sub: Subscription }> = [];

  constructor(
    readonly clientId: string,
    private readonly deps: SessionDeps,
  ) {
    this.trie = deps.newTrie();
    this.follower = new LogFollower(deps.follower, this);
    this.flow = new InflightWindow({ clock: deps.clock, max: deps.maxInflight });
  }

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  /** QoS 1/2 messages that may be unacknowledged now: the client's Receive Maximum, else the adaptive window. */
  get window(): number {
    const announced = this.link?.clientReceiveMaximum ?? 0;
    return announced < 65535 ? Math.min(announced, this.deps.maxInflight) : this.flow.size;
  }

  /** Room for one more QoS 1/2 message (a full window marks the round window-limited). */
  private hasRoom(): boolean {
    if (this.inflight.size < this.window) return true;
    this.flow.full();
    return false;
  }

  canReceive(): boolean {
    return this.link?.writable() === true && this.hasRoom();
  }

  /** Could this session take one more message at `qos` right now? */
  canAccept(qos: QoS): boolean {
    if (this.link === null || !this.link.writable()) return false;
    return qos === 0 || this.hasRoom();
  }

  offer(msg: MqttMessage, offset: number, cursor: Cursor): OfferResult {
    if (cursor.outstanding.size > 0 && cursor.outstanding.has(offset)) return "skip"; // already in flight (restored PUBREL)
    const matched = this.trie.match(msg.topic);
    if (matched.length === 0) return "skip";
    let subs: readonly Subscription[];
    if (matched.length === 1) {
      // The common case, without allocating: one matching subscription (the trie's cached array).
      if (!this.receives(matched[0]!, msg, offset, cursor.key)) return "skip";
      subs = matched;
    } else {
      subs = matched.filter((s) => this.receives(s, msg, offset, cursor.key));
      if (subs.length === 0) return "skip";
    }
    if (this.readCheck !== null && !this.readCheck(msg.topic)) return "skip";
    // [MQTT-3.3.1-9] retain is 0 on live delivery unless Retain As Published [MQTT-3.3.1-12/13].
    const retain = msg.retain && subs.some((s) => s.retainAsPublished);
    const link = this.link;
    // The hot path: QoS 0 out, no properties, no topic alias — the shared encoded PUBLISH.
    if (link !== null && msg.qos === 0 && msg.messageExpiry === undefined && link.plainPublish()) {
      const v5 = link.protocolVersion === 5;
      if (!v5 || !hasV5Properties(msg, subs)) {
        if (!link.writable()) return "full";
        if (link.sendEncoded(encodeQos0(msg, retain, v5))) this.deps.stats.messagesOut[0]++;
        else this.deps.stats.dropped.tooLarge++;
        return "taken";
      }
    }
    return this.deliver(msg, subs, { retain, source: { cursor, offset, group: null } });
  }

  /** Does `sub` take the message at `offset` (subscribed before it; no-local [MQTT-3.8.3-3])? */
  private receives(sub: Subscription, msg: MqttMessage, offset: number, key: string): boolean {
    if (sub.noLocal && msg.clientId === this.clientId) return false;
    return sub.since.size === 0 || (sub.since.get(key) ?? 0) <= offset;
  }

  /** Send one message matched by `subs`; "full" when the window is closed for its QoS. */
  deliver(
    msg: MqttMessage,
    subs: readonly Subscription[],
    opts: { retain: boolean; source: DeliverySource },
  ): OfferResult {
    const link = this.link;
    if (link === null) return "full";
    // The delivered QoS is the minimum of the message's and the granted QoS [MQTT-3.8.4-8].
    let granted = 0;
    for (const s of subs) if (s.qos > granted) granted = s.qos;
    const qos = Math.min(msg.qos, granted) as QoS;
    if (!this.canAccept(qos)) return "full";
    const props = publishProperties(msg, subs, link.protocolVersion === 5, this.deps.clock.now());
    if (props === "expired") {
      // Expired messages are not sent [MQTT-3.3.2-5] (to any protocol version).
      this.deps.stats.dropped.expired++;
      return "skip";
    }
    if (props === null && link.plainPublish()) return this.deliverPlain(link, msg, qos, opts);
    const packet: IPublishPacket = {
      cmd: "publish",
      topic: msg.topic,
      payload: Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength),
      qos,
      dup: false,
      retain: opts.retain,
    };
    if (props !== null) packet.properties = props;
    if (qos === 0) {
      if (link.sendPublish(packet)) this.deps.stats.messagesOut[0]++;
      else this.deps.stats.dropped.tooLarge++;
      return "taken";
    }
    packet.messageId = this.allocatePacketId();
    const entry: Inflight = {
      ...opts.source,
      packetId: packet.messageId,
      qos,
      state: "publish",
      packet,
      sentAt: this.flow.now(),
    };
    // A packet too large for the client is discarded as if delivered [MQTT-3.1.2-25].
    if (!link.sendPublish(packet)) {
      this.deps.stats.dropped.tooLarge++;
      return "skip";
    }
    this.deps.stats.messagesOut[qos]++;
    this.inflight.set(packet.messageId, entry);
    opts.source.cursor?.outstanding.add(opts.source.offset);
    this.deps.onInflightChange(this);
    return "taken";
  }

  /** deliver() for a PUBLISH without properties: encoded by publish-encoder.ts, QoS 0 bytes shared. */
  private deliverPlain(
    link: SessionLink,
    msg: MqttMessage,
    qos: QoS,
    opts: { retain: boolean; source: DeliverySource },
  ): OfferResult {
    const v5 = link.protocolVersion === 5;
    if (qos === 0) {
      const bytes = encodeQos0(msg, opts.retain, v5);
      if (link.sendEncoded(bytes)) this.deps.stats.messagesOut[0]++;
      else this.deps.stats.dropped.tooLarge++;
      return "taken";
    }
    const packetId = this.allocatePacketId();
    // A packet too large for the client is discarded as if delivered [MQTT-3.1.2-25].
    if (!link.sendPlainPublish(msg, { qos, retain: opts.retain, dup: false, packetId, v5 })) {
      this.deps.stats.dropped.tooLarge++;
      return "skip";
    }
    this.deps.stats.messagesOut[qos]++;
    const entry: Inflight = {
      ...opts.source,
      packetId,
      qos,
      state: "publish",
      packet: null,
      msg,
      retain: opts.retain,
      sentAt: this.flow.now(),
    };
    this.inflight.set(packetId, entry);
    opts.source.cursor?.outstanding.add(opts.source.offset);
    this.deps.onInflightChange(this);
    return "taken";
  }

  /** PUBACK for a QoS 1 delivery [MQTT-4.3.2-1]. */
  onPuback(packetId: number): void {
    const entry = this.inflight.get(packetId);
    if (entry?.qos !== 1) return;
    if (entry.sentAt !== undefined) this.flow.acked(entry.sentAt);
    this.complete(entry);
  }

  /** PUBREC: answer PUBREL and wait for PUBCOMP [MQTT-4.3.3-4]; a failure reason ends the delivery. */
  onPubrec(packetId: number, reasonCode: number | undefined): boolean {
    const entry = this.inflight.get(packetId);
    if (entry?.qos !== 2) return false;
    if (entry.state === "publish" && entry.sentAt !== undefined) {
      this.flow.acked(entry.sentAt);
      delete entry.sentAt;
    }
    if ((reasonCode ?? 0) >= 0x80) {
      this.complete(entry);
      return true;
    }
    if (entry.state !== "pubrel") {
      entry.state = "pubrel";
      // The message itself is never sent again, only PUBREL [MQTT-4.3.3-4]: free its copy.
      entry.packet = null;
      delete entry.msg;
      this.deps.onInflightChange(this);
    }
    this.link?.sendPubrel(packetId);
    return true;
  }

  onPubcomp(packetId: number): void {
    const entry = this.inflight.get(packetId);
    if (entry?.state !== "pubrel") return;
    this.complete(entry);
  }

  /** Send a retained message on SUBSCRIBE with RETAIN = 1 [MQTT-3.3.1-8], after earlier ones. */
  sendRetained(msg: MqttMessage, sub: Subscription): void {
    this.retainedBacklog.push({ msg, sub });
    this.drainRetained();
  }

  private drainRetained(): void {
    while (this.retainedBacklog.length > 0) {
      const { msg, sub } = this.retainedBacklog[0]!;
      const result = this.deliver(msg, [sub], {
        retain: true,
        source: { cursor: null, offset: -1, group: null },
      });
      if (result === "full") return;
      this.retainedBacklog.shift();
    }
  }

  private complete(entry: Inflight): void {
    this.inflight.delete(entry.packetId);
    if (entry.group && entry.cursor) entry.group.release(entry.cursor, entry.offset, false);
    else if (entry.cursor) {
      entry.cursor.outstanding.delete(entry.offset);
      this.dirty = true;
    }
    this.deps.onInflightChange(this);
    this.drainRetained();
    this.deps.onRoom(this);
  }

  /** Room in the socket again (write queue drained). */
  drained(): void {
    this.drainRetained();
    this.deps.onRoom(this);
  }

  /** Attach a new connection: resend unacknowledged messages first [MQTT-4.4.0-1], then resume. */
  attach(link: SessionLink): void {
    this.link = link;
    this.disconnectedAt = null;
    this.flow.reset();
    for (const entry of this.inflight.values()) this.resend(link, entry);
    this.drainRetained();
    this.deps.onRoom(this);
  }

  /**
   * Resend one unacknowledged delivery on a new connection: PUBREL after PUBREC
   * [MQTT-4.3.3-4], else the PUBLISH with DUP = 1 and its original packet id
   * [MQTT-4.4.0-1][MQTT-3.3.1-1]. Entries restored after a restart carry only the
   * message (read back from the log); their properties are rebuilt for this link.
   */
  private resend(link: SessionLink, entry: Inflight): void {
    entry.sentAt = this.flow.now();
    if (entry.state === "pubrel") {
      delete entry.sentAt;
      link.sendPubrel(entry.packetId);
      return;
    }
    if (entry.packet) {
      link.sendPublish({ ...entry.packet, dup: true });
      return;
    }
    const msg = entry.msg;
    if (!msg) return;
    const retain = entry.retain ?? false;
    const subs = [...this.trie.match(msg.topic)];
    const found = publishProperties(msg, subs, link.protocolVersion === 5, this.deps.clock.now());
    // Onward delivery has started: an expired message is still completed, without an expiry property.
    const props = found === "expired" ? null : found;
    if (props === null && link.plainPublish()) {
      const v5 = link.protocolVersion === 5;
      link.sendPlainPublish(msg, { qos: entry.qos, retain, dup: true, packetId: entry.packetId, v5 });
      return;
    }
    const packet: IPublishPacket = {
      cmd: "publish",
      topic: msg.topic,
      payload: Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength),
      qos: entry.qos,
      dup: true,
      retain,
      messageId: entry.packetId,
    };
    if (props !== null) packet.properties = props;
    link.sendPublish(packet);
  }

  /** The connection ended; shared-group deliveries go back to their group for another member. */
  detach(now: number): void {
    this.link = null;
    this.disconnectedAt = now;
    this.retainedBacklog.length = 0;
    for (const entry of [...this.inflight.values()]) {
      if (entry.group && entry.cursor) {
        this.inflight.delete(entry.packetId);
        entry.group.release(entry.cursor, entry.offset, true);
      }
    }
  }

  /** End the session for good: give back shared deliveries, stop following. */
  destroy(): void {
    this.detach(this.disconnectedAt ?? 0);
    this.follower.closed = true;
    this.inflight.clear();
  }

  private allocatePacketId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new Error("no free packet identifier");
  }
}

/**
 * The properties of a PUBLISH of `msg` to these subscriptions: null when it
 * has none, "expired" when its Message Expiry Interval has passed. v5 gets
 * the remaining expiry [MQTT-3.3.2-6]; older versions get no properties.
 */
function publishProperties(
  msg: MqttMessage,
  subs: readonly Subscription[],
  v5: boolean,
  now: number,
): NonNullable<IPublishPacket["properties"]> | null | "expired" {
  if (msg.messageExpiry === undefined && (!v5 || !hasV5Properties(msg, subs))) return null;
  const props: NonNullable<IPublishPacket["properties"]> = {};
  let hasProps = false;
  if (msg.messageExpiry !== undefined) {
    const left = msg.messageExpiry - Math.floor((now - msg.timestamp) / 1000);
    if (left <= 0) return "expired";
    if (v5) {
      props.messageExpiryInterval = left;
      hasProps = true;
    }
  }
  if (v5 && hasV5Properties(msg, subs)) {
    hasProps = true;
    if (msg.contentType !== undefined) props.contentType = msg.contentType;
    if (msg.payloadFormatUtf8) props.payloadFormatIndicator = true;
    if (msg.responseTopic !== undefined) props.responseTopic = msg.responseTopic;
    if (msg.correlationData !== undefined) props.correlationData = Buffer.from(msg.correlationData);
    const user = toUserProperties(msg.userProperties);
    if (user) props.userProperties = user;
    const ids = subs.flatMap((s) => (s.identifier === undefined ? [] : [s.identifier]));
    if (ids.length > 0) props.subscriptionIdentifier = ids.length === 1 ? ids[0]! : ids;
  }
  return hasProps ? props : null;
}

/** Would an MQTT 5.0 PUBLISH of `msg` to these subscriptions carry properties (besides expiry)? */
function hasV5Properties(msg: MqttMessage, subs: readonly Subscription[]): boolean {
  if (
    msg.contentType !== undefined ||
    msg.payloadFormatUtf8 ||
    msg.responseTopic !== undefined ||
    msg.correlationData !== undefined ||
    msg.userProperties.length > 0
  ) {
    return true;
  }
  for (const s of subs) if (s.identifier !== undefined) return true;
  return false;
}
