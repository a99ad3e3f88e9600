/**
 * One MQTT network connection: framing and parsing of inbound bytes, packet
 * dispatch in arrival order, the outbound write queue, keep-alive, topic
 * aliases in both directions, and the end of the connection (will, session
 * detach). Malformed input ends the connection with DISCONNECT 0x81 (v5,
 * after CONNACK) or a plain close (3.1.1 / before CONNACK) [MQTT-4.13.1-1];
 * it never throws into the listener.
 */
import mqttPacket, { type IPublishPacket, type Packet } from "mqtt-packet";
import type { Logger } from "../../src/observability/logger.ts";
import type { MqttBridge } from "./bridge.ts";
import { FrameError, Framer } from "./framing.ts";
import { dispatch } from "./handlers/index.ts";
import type { MqttMessage } from "./message.ts";
import type { ResolvedOptions } from "./options.ts";
import { parseFrame } from "./packet-parser.ts";
import {
  type PublishFlags,
  publishFirstByte,
  publishRemaining,
  publishSize,
  wire,
} from "./publish-encoder.ts";
import { parsePlainAck, parsePlainPublish, TopicMemo } from "./publish-parser.ts";
import { MqttProtocolError, Reason } from "./reason-codes.ts";
import type { Session, SessionLink } from "./session.ts";
import { type RawSocket, WriteQueue } from "./write-queue.ts";

// mqtt-packet fills a 65,536-entry table of 2-byte buffers on its first generate (several MB of
// RSS); PUBLISH and acknowledgements on the hot paths no longer go through it.
mqttPacket.writeToStream.cacheNumbers = false;

export interface ConnectionDeps {
  bridge: MqttBridge;
  options: ResolvedOptions;
  logger: Logger;
  /** Called once when the connection is gone. */
  onClosed(conn: Connection): void;
  /** End the underlying socket. */
  end(): void;
}

export const ConnState = { AWAITING_CONNECT: 0, CONNECTING: 1, CONNECTED: 2, CLOSED: 3 } as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

export class Connection implements SessionLink {
  state: ConnState = ConnState.AWAITING_CONNECT;
  protocolVersion = 4;
  clientReceiveMaximum = 65535;
  clientMaxPacketSize = Number.POSITIVE_INFINITY;
  clientTopicAliasMaximum = 0;
  /** Effective keep-alive in seconds; 0 = off. */
  keepAlive = 0;
  lastActivity: number;
  private readonly openedAt: number;
  clientId = "";
  /** The authenticated user name (from the auth hook), if any. */
  user: string | null = null;
  session: Session | null = null;
  will: { msg: MqttMessage; delay: number } | null = null;
  /** Inbound QoS 1/2 publishes being stored (Receive Maximum accounting; inboundStarted/inboundSettled). */
  inboundPending = 0;
  readonly inboundAliases = new Map<number, string>();
  private readonly outboundAliases = new Map<string, number>();
  private readonly framer: Framer;
  private readonly queue: WriteQueue;
  /** Parsed packets not yet handled: inbox[inboxHead..] (no shift() per packet). */
  private inbox: Array<Packet | undefined> = [];
  private inboxHead = 0;
  /** The last inbound topic name (publishers repeat theirs): no UTF-8 decode per PUBLISH. */
  private readonly topicMemo = new TopicMemo();
  /** The last inbound topic name found valid (handlers/publish.ts checks each new one). */
  validTopic: string | null = null;
  /** When the chunk being handled arrived (ms since the epoch): the timestamp of its messages. */
  receivedAt = 0;
  /** The completion of every QoS 0 store of this connection (one callback, not one per message). */
  readonly qos0Stored = (err: unknown): void => {
    if (err !== null) {
      this.bridge.stats.dropped.notStored++;
      this.deps.logger.debug("mqtt qos 0 publish not stored", { err, clientId: this.clientId });
    }
    this.qos0Settled();
  };
  private processing = false;
  /** QoS 0 publishes not yet durable (input pauses above options.maxInboundQos0). */
  private storing = 0;
  private inputPaused = false;
  /** How often inbound flow control stopped reading the socket (metrics, tests). */
  inputPauses = 0;
  /** The server decided to end the connection: ignore further input. */
  private ending = false;

  constructor(
    private readonly socket: RawSocket,
    readonly deps: ConnectionDeps,
    readonly remote: string,
  ) {
    this.framer = new Framer(deps.options.maxPacketSize);
    this.queue = new WriteQueue(socket, () => this.session?.drained(), deps.options.writeHighWaterBytes);
    this.lastActivity = deps.bridge.deps.clock.monotonic();
    this.openedAt = this.lastActivity;
  }

  isClosed(): boolean {
    return this.state === ConnState.CLOSED;
  }

  get bridge(): MqttBridge {
    return this.deps.bridge;
  }

  onData(chunk: Uint8Array): void {
    if (this.state === ConnState.CLOSED || this.ending) return;
    const clock = this.bridge.deps.clock;
    this.lastActivity = clock.monotonic();
    this.receivedAt = clock.now();
    const { packets, error } = this.framer.push(chunk);
    for (const bytes of packets) {
      if (this.isClosed() || this.ending) return;
      if (
        this.state === ConnState.AWAITING_CONNECT &&
        this.inboxHead === this.inbox.length &&
        !this.processing
      ) {
        if (!this.precheckConnect(bytes)) return;
      }
      if (this.state === ConnState.CONNECTED) {
        const type = bytes[0]! >> 4;
        const fast =
          type === 3
            ? parsePlainPublish(bytes, this.protocolVersion, this.topicMemo)
            : type >= 4 && type <= 7
              ? parsePlainAck(bytes)
              : null;
        if (fast !== null) {
          this.inbox.push(fast);
          continue;
        }
      }
      const { packets: parsed, error: malformed } = parseFrame(bytes, this.protocolVersion);
      for (const packet of parsed) this.inbox.push(packet);
      if (malformed !== null) {
        this.clearInbox();
        this.protocolFailure(Reason.MALFORMED_PACKET, malformed.message);
        return;
      }
    }
    if (error === FrameError.TOO_LARGE) {
      this.protocolFailure(Reason.PACKET_TOO_LARGE, "packet exceeds the maximum packet size");
    } else if (error === FrameError.MALFORMED_LENGTH) {
      this.protocolFailure(Reason.MALFORMED_PACKET, "malformed remaining length");
    }
    void this.drainInbox();
  }

  /** The first packet must be CONNECT [MQTT-3.1.0-1]; an unknown protocol level gets CONNACK 0x01/0x84 [MQTT-3.1.2-2]. */
  private precheckConnect(bytes: Uint8Array): boolean {
    if (bytes[0] !== 0x10) {
      this.close();
      return false;
    }
    let i = 1;
    while (i < bytes.length && (bytes[i]! & 0x80) !== 0) i++;
    i++;
    const nameLen = ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
    const name = new TextDecoder().decode(bytes.subarray(i + 2, i + 2 + nameLen));
    const level = bytes[i + 2 + nameLen];
    if ((name !== "MQTT" && name !== "MQIsdp") || level === undefined) {
      this.close();
      return false;
    }
    const lvl = level & 0x7f; // bit 7 = bridge flag (mosquitto)
    if (lvl !== 3 && lvl !== 4 && lvl !== 5) {
      this.protocolVersion = 4;
      this.queue.enqueue(mqttPacket.generate({ cmd: "connack", returnCode: 1, sessionPresent: false }));
      this.ending = true;
      this.closeAfterFlush();
      return false;
    }
    return true;
  }

  private async drainInbox(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.inboxHead < this.inbox.length && this.state !== ConnState.CLOSED && !this.ending) {
        // Over the QoS 0 limit: the rest of what was read waits here too, not only the socket, so one
        // big read cannot keep the event loop (and the fsync completions behind it) waiting.
        if (this.inputPaused) break;
        const packet = this.inbox[this.inboxHead]!;
        this.inbox[this.inboxHead++] = undefined;
        try {
          const pending = dispatch(this, packet);
          if (pending) await pending;
        } catch (err) {
          if (err instanceof MqttProtocolError) this.protocolFailure(err.reason, err.message);
          else {
            this.deps.logger.error("mqtt packet handler failed", { err, clientId: this.clientId });
            this.protocolFailure(Reason.UNSPECIFIED_ERROR, "internal error");
          }
        }
      }
    } finally {
      this.processing = false;
      if (this.inboxHead === this.inbox.length) {
        this.inbox.length = 0;
        this.inboxHead = 0;
      }
    }
  }

  private clearInbox(): void {
    this.inbox = [];
    this.inboxHead = 0;
  }

  /** Later packets are parsed (and generated) for the negotiated protocol version. */
  setProtocolVersion(version: number): void {
    this.protocolVersion = version;
  }

  send(packet: Packet): void {
    if (this.state === ConnState.CLOSED) return;
    this.queue.enqueue(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  /**
   * A QoS 0 store started; stop reading the socket while too many are not
   * yet durable, so a flood cannot outrun the disk or grow memory. Pair with qos0Settled().
   */
  qos0Started(): void {
    this.storing++;
    this.pauseIfOver();
  }

  qos0Settled(): void {
    this.storing--;
    this.resumeIfUnder();
  }

  /**
   * A QoS 1/2 publish is being stored (pair with inboundSettled()). MQTT 5
   * clients keep to our Receive Maximum (handlers/publish.ts refuses more);
   * MQTT 3.1.1 has none, so for it the same limit paces the input instead.
   */
  inboundStarted(): void {
    this.inboundPending++;
    this.pauseIfOver();
  }

  inboundSettled(): void {
    this.inboundPending--;
    this.resumeIfUnder();
  }

  /** 3.1.1 QoS 1/2 stores are paced by the Receive Maximum (v5 clients are held to it instead). */
  private get pacedInbound(): number {
    return this.protocolVersion === 5 ? 0 : this.inboundPending;
  }

  private pauseIfOver(): void {
    const o = this.deps.options;
    const over = this.storing >= o.maxInboundQos0 || this.pacedInbound >= o.receiveMaximum;
    if (over && !this.inputPaused && this.socket.pause) {
      this.inputPaused = true;
      this.inputPauses++;
      this.socket.pause();
    }
  }

  private resumeIfUnder(): void {
    const o = this.deps.options;
    if (!this.inputPaused) return;
    if (this.storing > o.maxInboundQos0 >> 1 || this.pacedInbound > o.receiveMaximum >> 1) return;
    this.inputPaused = false;
    if (this.state !== ConnState.CLOSED) {
      this.socket.resume?.();
      // What was read before the pause goes first (it may pause the socket again).
      if (this.inboxHead < this.inbox.length) void this.drainInbox();
    }
  }

  /** PUBACK / PUBREC / PUBCOMP with reason Success and no properties: 4 bytes, no mqtt-packet (MQTT 5.0 section 3.4.2.1 allows it). */
  sendPlainAck(type: 4 | 5 | 7, packetId: number): void {
    if (this.state === ConnState.CLOSED) return;
    this.queue.enqueueAck(type << 4, packetId);
  }

  /** Bytes waiting for the socket. */
  get queuedBytes(): number {
    return this.queue.pending;
  }

  writable(): boolean {
    return (
      this.state === ConnState.CONNECTED &&
      !this.ending &&
      this.queue.pending < this.deps.options.writeHighWaterBytes
    );
  }

  sendPublish(packet: IPublishPacket): boolean {
    if (this.state !== ConnState.CONNECTED || this.ending) return true;
    let out = packet;
    if (this.protocolVersion === 5 && this.clientTopicAliasMaximum > 0) {
      const alias = this.outboundAliases.get(packet.topic);
      if (alias !== undefined) {
        out = { ...packet, topic: "", properties: { ...packet.properties, topicAlias: alias } };
      } else if (this.outboundAliases.size < this.clientTopicAliasMaximum) {
        const next = this.outboundAliases.size + 1;
        this.outboundAliases.set(packet.topic, next);
        out = { ...packet, properties: { ...packet.properties, topicAlias: next } };
      }
    }
    const bytes = mqttPacket.generate(out, { protocolVersion: this.protocolVersion });
    if (bytes.length > this.clientMaxPacketSize) return false;
    this.queue.enqueue(bytes);
    return true;
  }

  plainPublish(): boolean {
    return this.protocolVersion !== 5 || this.clientTopicAliasMaximum === 0;
  }

  sendEncoded(bytes: Uint8Array): boolean {
    if (this.state !== ConnState.CONNECTED || this.ending) return true;
    if (bytes.length > this.clientMaxPacketSize) return false;
    this.queue.enqueue(bytes);
    return true;
  }

  sendPlainPublish(msg: MqttMessage, f: PublishFlags): boolean {
    if (this.state !== ConnState.CONNECTED || this.ending) return true;
    const topic = wire(msg).topic;
    const remaining = publishRemaining(topic, msg.payload, f.qos, f.v5);
    if (publishSize(remaining) > this.clientMaxPacketSize) return false;
    this.queue.enqueuePublish({
      first: publishFirstByte(f),
      remaining,
      topic,
      packetId: f.packetId,
      v5: f.v5,
      payload: msg.payload,
    });
    return true;
  }

  sendPubrel(packetId: number): void {
    this.send({ cmd: "pubrel", messageId: packetId });
  }

  onDrain(): void {
    this.queue.flush();
  }

  /** Keep-alive: no packet for 1.5 × Keep Alive ends the connection [MQTT-3.1.2-22]. */
  checkKeepAlive(nowMonotonic: number): void {
    this.queue.release(); // the periodic sweep: an idle connection keeps no write buffer
    if (this.state === ConnState.AWAITING_CONNECT) {
      // No CONNECT in reasonable time: close (section 3.1.4, "SHOULD").
      if (nowMonotonic - this.openedAt > this.deps.options.connectTimeoutMs) this.close();
      return;
    }
    if (this.state !== ConnState.CONNECTED || this.keepAlive === 0) return;
    if (nowMonotonic - this.lastActivity > this.keepAlive * 1500) {
      this.protocolFailure(Reason.KEEP_ALIVE_TIMEOUT, "keep alive timeout");
    }
  }

  /** End the connection because of an error: DISCONNECT with a reason (v5, after CONNACK) or close. */
  protocolFailure(reason: number, message: string): void {
    if (this.state === ConnState.CLOSED) return;
    this.deps.logger.debug("mqtt connection closed by server", { clientId: this.clientId, reason, message });
    this.serverDisconnect(reason, message);
  }

  serverDisconnect(reason: number, reasonString?: string): void {
    if (this.state === ConnState.CLOSED || this.ending) return;
    this.ending = true;
    this.clearInbox();
    if (this.protocolVersion === 5 && this.state === ConnState.CONNECTED) {
      this.send({
        cmd: "disconnect",
        reasonCode: reason,
        ...(reasonString ? { properties: { reasonString } } : {}),
      });
    }
    this.closeAfterFlush();
  }

  private closeAfterFlush(): void {
    this.queue.flush();
    queueMicrotask(() => {
      this.queue.flush();
      this.close();
    });
  }

  /** Close the socket; the listener's close handler calls onSocketClosed. */
  close(): void {
    if (this.state === ConnState.CLOSED) return;
    this.onSocketClosed();
    this.deps.end();
  }

  /** The socket is gone (either side): publish the will unless suppressed, detach or end the session. */
  onSocketClosed(): void {
    if (this.state === ConnState.CLOSED) return;
    const wasConnected = this.state === ConnState.CONNECTED;
    this.state = ConnState.CLOSED;
    this.queue.closed = true;
    this.queue.clear();
    if (wasConnected) this.bridge.connectionEnded(this);
    this.deps.onClosed(this);
  }
}
