/**
 * The inbound hot path's parsers: PUBLISH (MQTT 5.0 section 3.3) in the
 * common shape only, and acknowledgements carrying just a packet id. PUBLISH: QoS 0/1/2 with a well-formed UTF-8 topic name and, in
 * MQTT 5.0, an empty property list. It takes one whole frame (framing.ts) and
 * returns what mqtt-packet's parser would, or null for anything else — then
 * mqtt-packet parses it, so properties, and every malformed packet and its
 * error, keep one implementation.
 */
import type { IPublishPacket, Packet } from "mqtt-packet";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A PUBLISH from parsePlainPublish: `payload` is a Uint8Array view into the
 * frame; also the topic name's bytes (shared with the memo: do not modify)
 * and the whole frame (a view).
 */
export interface PlainPublishPacket extends IPublishPacket {
  topicBytes: Uint8Array;
  frame: Uint8Array;
}

/**
 * The topic names last seen, per connection: a publisher usually repeats its
 * topic, and comparing bytes is cheaper than decoding and validating UTF-8.
 */
export class TopicMemo {
  bytes: Uint8Array = new Uint8Array(0);
  topic = "";

  /** The topic of bytes[start, end), decoded (fatal UTF-8) or remembered; null when not valid UTF-8. */
  decode(bytes: Uint8Array, start: number, end: number): string | null {
    const last = this.bytes;
    const n = end - start;
    if (n === last.length && n > 0) {
      let same = true;
      for (let k = 0; k < n; k++) {
        if (bytes[start + k] !== last[k]) {
          same = false;
          break;
        }
      }
      if (same) return this.topic;
    }
    let topic: string;
    try {
      topic = utf8.decode(bytes.subarray(start, end));
    } catch {
      return null;
    }
    this.bytes = bytes.slice(start, end);
    this.topic = topic;
    return topic;
  }
}

const noMemo = new TopicMemo();

export function parsePlainPublish(
  bytes: Uint8Array,
  protocolVersion: number,
  memo: TopicMemo = noMemo,
): PlainPublishPacket | null {
  const b0 = bytes[0]!;
  if (b0 >> 4 !== 3) return null;
  const qos = (b0 >> 1) & 3;
  const dup = (b0 & 0x08) !== 0;
  if (qos === 3 || (dup && qos === 0)) return null;
  let i = 1;
  while (i < 5 && i < bytes.length && (bytes[i]! & 0x80) !== 0) i++;
  i++;
  const end = bytes.length;
  if (i + 2 > end) return null;
  const topicLength = (bytes[i]! << 8) | bytes[i + 1]!;
  let p = i + 2 + topicLength;
  if (p > end) return null;
  const topic = memo === noMemo ? decodeTopic(bytes, i + 2, p) : memo.decode(bytes, i + 2, p);
  if (topic === null) return null;
  const topicBytes = memo === noMemo ? bytes.subarray(i + 2, i + 2 + topicLength) : memo.bytes;
  let messageId: number | undefined;
  if (qos > 0) {
    if (p + 2 > end) return null;
    messageId = (bytes[p]! << 8) | bytes[p + 1]!;
    if (messageId === 0) return null;
    p += 2;
  }
  if (protocolVersion === 5) {
    if (p >= end || bytes[p] !== 0) return null;
    p++;
  }
  // A view, not a copy (and a plain Uint8Array even when the frame is a Buffer).
  const payload = new Uint8Array(bytes.buffer, bytes.byteOffset + p, end - p);
  const packet: PlainPublishPacket = {
    cmd: "publish",
    topic,
    payload: payload as unknown as Buffer,
    qos: qos as 0 | 1 | 2,
    dup,
    retain: (b0 & 0x01) !== 0,
    length: end - i,
    messageId,
    topicBytes,
    frame: bytes,
  };
  return packet;
}

function decodeTopic(bytes: Uint8Array, start: number, end: number): string | null {
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    return null;
  }
}

const ACK_COMMANDS = { 64: "puback", 80: "pubrec", 98: "pubrel", 112: "pubcomp" } as const;

/**
 * PUBACK / PUBREC / PUBREL / PUBCOMP with Remaining Length 2 (packet id only:
 * reason Success, no properties — every version), as mqtt-packet would return
 * it; null for anything else (reason codes, properties, bad flags [MQTT-3.6.1-1]).
 */
export function parsePlainAck(bytes: Uint8Array): Packet | null {
  if (bytes.length !== 4 || bytes[1] !== 2) return null;
  const cmd = ACK_COMMANDS[bytes[0] as keyof typeof ACK_COMMANDS];
  if (cmd === undefined) return null;
  const messageId = (bytes[2]! << 8) | bytes[3]!;
  if (messageId === 0) return null;
  return { cmd, messageId, length: 2, qos: cmd === "pubrel" ? 1 : 0, dup: false, retain: false } as Packet;
}
