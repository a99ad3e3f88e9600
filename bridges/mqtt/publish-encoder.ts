/**
 * The delivery hot path's PUBLISH encoder, for packets without properties
 * (MQTT 3.1.1, and 5.0 when there is nothing to put in the properties: the
 * Property Length is then a single 0): fixed header, topic name, packet id
 * (QoS > 0), payload — MQTT 5.0 section 3.3. Everything else (properties,
 * topic aliases) goes through mqtt-packet's generate.
 *
 * The encoded topic name is cached on the message, and so is the whole QoS 0
 * packet (per protocol level and RETAIN flag): one message delivered to N
 * subscribers at QoS 0 is encoded once, and the write queue copies the same
 * bytes N times. QoS 1/2 packets differ by packet id and are built per delivery.
 * A message that arrived as a plain PUBLISH carries its inbound topic bytes,
 * and a QoS 0 one its inbound frame as the cached QoS 0 packet
 * (handlers/publish.ts: `inboundWire`): delivering it encodes nothing.
 * Topic names of other messages are encoded once per name (bounded cache).
 */
import type { MqttMessage, QoS } from "./message.ts";

/** Per-message encoding cache (on MqttMessage.wire). QoS 0 packets are kept by slot (v5 ? 2 : 0) + (retain ? 1 : 0). */
export interface WireCache {
  topic: Uint8Array;
  /** The slot of `packet` (-1: none). */
  slot: number;
  /** The first QoS 0 packet cached (the inbound frame of a plain QoS 0 PUBLISH). */
  packet: Uint8Array | null;
  /** Packets of the other slots, once asked for. */
  more: Array<Uint8Array | undefined> | null;
}

const enc = new TextEncoder();
/** Buffer's copy works on any Uint8Array and is several times faster than TypedArray.set for small copies in Bun. */
const copy = Buffer.prototype.copy;
const TOPIC_CACHE_LIMIT = 4096;
const topicCache = new Map<string, Uint8Array>();

/** The UTF-8 bytes of a topic name (cached; do not modify them). */
export function encodeTopic(topic: string): Uint8Array {
  let b = topicCache.get(topic);
  if (b === undefined) {
    if (topicCache.size >= TOPIC_CACHE_LIMIT) topicCache.clear();
    b = enc.encode(topic);
    topicCache.set(topic, b);
  }
  return b;
}

export function wire(msg: MqttMessage): WireCache {
  let w = msg.wire;
  if (w === undefined) {
    w = { topic: encodeTopic(msg.topic), slot: -1, packet: null, more: null };
    msg.wire = w;
  }
  return w;
}

/**
 * The wire cache of a message received as a plain PUBLISH (publish-parser.ts):
 * its topic bytes, and for QoS 0 without RETAIN the frame itself, which is
 * exactly the QoS 0 PUBLISH a subscriber of the same protocol family gets.
 */
export function inboundWire(topic: Uint8Array, frame: Uint8Array, v5: boolean): WireCache {
  return (frame[0]! & 0x0f) === 0
    ? { topic, slot: v5 ? 2 : 0, packet: frame, more: null }
    : { topic, slot: -1, packet: null, more: null };
}

/** encodePublish for QoS 0 without DUP (the fan-out hot path): cached per message. */
export function encodeQos0(msg: MqttMessage, retain: boolean, v5: boolean): Uint8Array {
  const w = wire(msg);
  const slot = (v5 ? 2 : 0) + (retain ? 1 : 0);
  if (w.slot === slot) return w.packet!;
  const cached = w.more?.[slot];
  if (cached !== undefined) return cached;
  const bytes = build(w.topic, msg.payload, { qos: 0, retain, dup: false, packetId: 0, v5 });
  if (w.slot < 0) {
    w.slot = slot;
    w.packet = bytes;
  } else {
    w.more ??= [];
    w.more[slot] = bytes;
  }
  return bytes;
}

export interface PublishFlags {
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Required for QoS > 0. */
  packetId: number;
  /** MQTT 5.0: add the empty Property Length. */
  v5: boolean;
}

/** A PUBLISH for `msg` with no properties. QoS 0 results are cached and shared: do not modify them. */
export function encodePublish(msg: MqttMessage, f: PublishFlags): Uint8Array {
  if (f.qos === 0 && !f.dup) return encodeQos0(msg, f.retain, f.v5);
  return build(wire(msg).topic, msg.payload, f);
}

/** The Remaining Length of a PUBLISH without properties. */
export function publishRemaining(topic: Uint8Array, payload: Uint8Array, qos: QoS, v5: boolean): number {
  return 2 + topic.length + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length;
}

/** The whole length of a PUBLISH whose Remaining Length is `remaining`. */
export function publishSize(remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4) + remaining;
}

/** The fixed header's first byte of a PUBLISH. */
export function publishFirstByte(f: { qos: QoS; retain: boolean; dup: boolean }): number {
  return 0x30 | (f.dup ? 0x08 : 0) | (f.qos << 1) | (f.retain ? 1 : 0);
}

function build(topic: Uint8Array, payload: Uint8Array, f: PublishFlags): Uint8Array {
  const remaining = publishRemaining(topic, payload, f.qos, f.v5);
  let lenBytes = 1;
  for (let n = remaining; n >= 128; n = Math.floor(n / 128)) lenBytes++;
  const out = new Uint8Array(1 + lenBytes + remaining);
  out[0] = publishFirstByte(f);
  let pos = 1;
  let n = remaining;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out[pos++] = b;
  } while (n > 0);
  out[pos++] = topic.length >> 8;
  out[pos++] = topic.length & 0xff;
  copy.call(topic, out, pos);
  pos += topic.length;
  if (f.qos > 0) {
    out[pos++] = f.packetId >> 8;
    out[pos++] = f.packetId & 0xff;
  }
  if (f.v5) out[pos++] = 0;
  copy.call(payload, out, pos);
  return out;
}
