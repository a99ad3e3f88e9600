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
 */
import type { MqttMessage, QoS } from "./message.ts";

/** Per-message encoding cache (on MqttMessage.wire). */
export interface WireCache {
  topic: Uint8Array;
  /** QoS 0 packets by (v5 ? 2 : 0) + (retain ? 1 : 0). */
  qos0: Array<Uint8Array | undefined>;
}

const enc = new TextEncoder();

function wire(msg: MqttMessage): WireCache {
  let w = msg.wire;
  if (w === undefined) {
    w = { topic: enc.encode(msg.topic), qos0: [] };
    msg.wire = w;
  }
  return w;
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
  const w = wire(msg);
  if (f.qos === 0 && !f.dup) {
    const slot = (f.v5 ? 2 : 0) + (f.retain ? 1 : 0);
    const cached = w.qos0[slot];
    if (cached !== undefined) return cached;
    const bytes = build(w.topic, msg.payload, f);
    w.qos0[slot] = bytes;
    return bytes;
  }
  return build(w.topic, msg.payload, f);
}

function build(topic: Uint8Array, payload: Uint8Array, f: PublishFlags): Uint8Array {
  const remaining = 2 + topic.length + (f.qos > 0 ? 2 : 0) + (f.v5 ? 1 : 0) + payload.length;
  let lenBytes = 1;
  for (let n = remaining; n >= 128; n = Math.floor(n / 128)) lenBytes++;
  const out = new Uint8Array(1 + lenBytes + remaining);
  out[0] = 0x30 | (f.dup ? 0x08 : 0) | (f.qos << 1) | (f.retain ? 1 : 0);
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
  out.set(topic, pos);
  pos += topic.length;
  if (f.qos > 0) {
    out[pos++] = f.packetId >> 8;
    out[pos++] = f.packetId & 0xff;
  }
  if (f.v5) out[pos++] = 0;
  out.set(payload, pos);
  return out;
}
