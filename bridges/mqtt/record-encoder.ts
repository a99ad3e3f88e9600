/**
 * The inbound hot path's RecordBatch v2 encoder: many MQTT messages (and the
 * odd ready-made record) → one uncompressed batch, written straight into one
 * buffer, CRC-32C included, with the byte layout of the broker's own
 * encodeBatch (src/log/record-batch.ts: baseOffset 0, leader epoch -1, no
 * producer id) so the log takes it as is (offsets are assigned on append).
 *
 * A plain message (no v5 properties: what nearly every device sends) is
 * written field by field with pre-encoded header names: the headers are the
 * ones message.ts's messageHeaders() builds — mqtt.topic, mqtt.qos,
 * mqtt.retain, mqtt.client-id — in that order, byte for byte. A message with
 * properties goes through messageHeaders() itself, so the header contract has
 * one definition.
 */
import type { RecordInput } from "../../src/broker/index.ts";
import { crc32c } from "../../src/util/crc32c.ts";
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from "../../src/util/varint.ts";
import { H, messageToRecord, type MqttMessage } from "./message.ts";
import { wire } from "./publish-encoder.ts";

/** One record to encode: a message with its key, or a ready-made record (`msg` null). */
export interface EncodeItem {
  msg: MqttMessage | null;
  key: Uint8Array | null;
  record: RecordInput | null;
}

const BATCH_HEADER_SIZE = 61;
const BATCH_LOG_OVERHEAD = 12;
const MAGIC_V2 = 2;

const enc = new TextEncoder();
/** Buffer's copy works on any Uint8Array and is several times faster than TypedArray.set for small copies in Bun. */
const copy = Buffer.prototype.copy;
const K_TOPIC = enc.encode(H.TOPIC);
const K_QOS = enc.encode(H.QOS);
const K_RETAIN = enc.encode(H.RETAIN);
const K_CLIENT_ID = enc.encode(H.CLIENT_ID);
/** The header count byte + the qos and retain headers (name lengths, names, 1-byte values). */
const FIXED_HEADERS =
  1 + sizeOfVarint(K_QOS.length) + K_QOS.length + 2 + sizeOfVarint(K_RETAIN.length) + K_RETAIN.length + 2;

/** Encoded client ids and header names, shared by every batch (bounded). */
const CACHE_LIMIT = 4096;
const clientIds = new Map<string, Uint8Array>();

function cached(map: Map<string, Uint8Array>, s: string): Uint8Array {
  let b = map.get(s);
  if (b === undefined) {
    if (map.size >= CACHE_LIMIT) map.clear();
    b = enc.encode(s);
    map.set(s, b);
  }
  return b;
}

/** The UTF-8 topic name of a message (the inbound frame's bytes when the parser kept them). */
const topicBytes = (msg: MqttMessage): Uint8Array => wire(msg).topic;

/**
 * The encoded header section of a plain message — count, mqtt.topic, mqtt.qos,
 * mqtt.retain, mqtt.client-id — for one topic and client id; the qos and
 * retain value bytes are patched per record.
 */
interface HeaderBlock {
  clientId: string | null;
  bytes: Uint8Array;
  qosAt: number;
  retainAt: number;
}

const blocks = new Map<string, HeaderBlock>();

function headerBlock(msg: MqttMessage): HeaderBlock {
  const b = blocks.get(msg.topic);
  if (b !== undefined && b.clientId === msg.clientId) return b;
  const topic = topicBytes(msg);
  const cid = msg.clientId === null ? null : cached(clientIds, msg.clientId);
  let size = FIXED_HEADERS + 1 + K_TOPIC.length + bytesSize(topic);
  if (cid !== null) size += 1 + K_CLIENT_ID.length + bytesSize(cid);
  const out = new Uint8Array(size);
  let pos = 0;
  out[pos++] = cid !== null ? 8 : 6; // zigzag(4) / zigzag(3) headers
  pos = writeName(out, pos, K_TOPIC);
  pos = writeBytes(out, pos, topic);
  pos = writeName(out, pos, K_QOS);
  out[pos++] = 2; // zigzag(1)
  const qosAt = pos++;
  pos = writeName(out, pos, K_RETAIN);
  out[pos++] = 2;
  const retainAt = pos++;
  if (cid !== null) {
    pos = writeName(out, pos, K_CLIENT_ID);
    pos = writeBytes(out, pos, cid);
  }
  const block = { clientId: msg.clientId, bytes: out, qosAt, retainAt };
  if (blocks.size >= CACHE_LIMIT) blocks.clear();
  blocks.set(msg.topic, block);
  return block;
}

/** True when the message's record has only the four fixed headers (no v5 properties to carry). */
export function isPlain(msg: MqttMessage): boolean {
  return (
    msg.userProperties.length === 0 &&
    msg.contentType === undefined &&
    !msg.payloadFormatUtf8 &&
    msg.responseTopic === undefined &&
    msg.correlationData === undefined &&
    msg.messageExpiry === undefined
  );
}

const bytesSize = (b: Uint8Array | null | undefined): number =>
  b == null ? 1 : sizeOfVarint(b.length) + b.length;

function writeBytes(out: Uint8Array, pos: number, b: Uint8Array | null | undefined): number {
  if (b == null) {
    out[pos] = 1; // zigzag(-1): null
    return pos + 1;
  }
  const n = b.length;
  pos = writeVarint(out, pos, n);
  if (n < 8) for (let k = 0; k < n; k++) out[pos + k] = b[k]!;
  else copy.call(b, out, pos);
  return pos + n;
}

function writeName(out: Uint8Array, pos: number, name: Uint8Array): number {
  out[pos++] = name.length << 1; // zigzag varint of a length < 64
  for (let k = 0; k < name.length; k++) out[pos + k] = name[k]!;
  return pos + name.length;
}

const headerNameBytes = new Map<string, Uint8Array>();

/** Body size (after the length varint) of a ready-made record. */
function recordBodySize(r: RecordInput, delta: number, index: number): number {
  let body = 1 + sizeOfVarlong(delta) + sizeOfVarint(index) + bytesSize(r.key) + bytesSize(r.value);
  const headers = r.headers ?? [];
  body += sizeOfVarint(headers.length);
  for (const h of headers) {
    const name = cached(headerNameBytes, h.key);
    body += sizeOfVarint(name.length) + name.length + bytesSize(h.value);
  }
  return body;
}

function writeRecordBody(out: Uint8Array, pos: number, r: RecordInput, delta: number, index: number): number {
  out[pos++] = 0; // attributes
  pos = writeVarlong(out, pos, delta);
  pos = writeVarint(out, pos, index);
  pos = writeBytes(out, pos, r.key);
  pos = writeBytes(out, pos, r.value);
  const headers = r.headers ?? [];
  pos = writeVarint(out, pos, headers.length);
  for (const h of headers) {
    pos = writeBytes(out, pos, cached(headerNameBytes, h.key));
    pos = writeBytes(out, pos, h.value);
  }
  return pos;
}

let sizes = new Int32Array(1024);

/**
 * Encode items[from, to) as one batch: into the start of `into` when it is
 * large enough (the result is then a view of it), else into a new buffer.
 * Messages with properties get their record (messageToRecord) stored on the
 * item the first time, so a batch encoded twice (split after
 * RECORD_TOO_LARGE) builds it once.
 */
export function encodeItems(
  items: readonly EncodeItem[],
  from: number,
  to: number,
  now: number,
  into?: Uint8Array,
): Uint8Array {
  const n = to - from;
  if (sizes.length < n) sizes = new Int32Array(Math.max(n, sizes.length * 2));
  // As encodeBatch: the base timestamp is the first record's, the max the largest.
  let base = now;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = from; i < to; i++) {
    const it = items[i]!;
    if (it.msg !== null && it.record === null && !isPlain(it.msg))
      it.record = messageToRecord(it.msg, it.key);
    const t = it.msg !== null ? it.msg.timestamp : (it.record!.timestamp ?? now);
    if (i === from) base = t;
    if (t > max) max = t;
  }
  if (n === 0) max = now;
  let total = BATCH_HEADER_SIZE;
  for (let i = 0; i < n; i++) {
    const it = items[from + i]!;
    let body: number;
    if (it.record !== null) {
      const t = it.msg !== null ? it.msg.timestamp : (it.record.timestamp ?? now);
      body = recordBodySize(it.record, t - base, i);
    } else {
      const msg = it.msg!;
      body =
        1 +
        sizeOfVarlong(msg.timestamp - base) +
        (i < 64 ? 1 : sizeOfVarint(i)) +
        bytesSize(it.key) +
        bytesSize(msg.payload) +
        headerBlock(msg).bytes.length;
    }
    sizes[i] = body;
    total += sizeOfVarint(body) + body;
  }
  const out = into !== undefined && into.length >= total ? into.subarray(0, total) : new Uint8Array(total);
  let pos = BATCH_HEADER_SIZE;
  for (let i = 0; i < n; i++) {
    const it = items[from + i]!;
    pos = writeVarint(out, pos, sizes[i]!);
    if (it.record !== null) {
      const t = it.msg !== null ? it.msg.timestamp : (it.record.timestamp ?? now);
      pos = writeRecordBody(out, pos, it.record, t - base, i);
      continue;
    }
    const msg = it.msg!;
    out[pos++] = 0; // attributes
    pos = writeVarlong(out, pos, msg.timestamp - base);
    pos = writeVarint(out, pos, i);
    pos = writeBytes(out, pos, it.key);
    pos = writeBytes(out, pos, msg.payload);
    const block = headerBlock(msg);
    copy.call(block.bytes, out, pos);
    out[pos + block.qosAt] = 0x30 + msg.qos;
    out[pos + block.retainAt] = msg.retain ? 0x31 : 0x30;
    pos += block.bytes.length;
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  // baseOffset 0 (bytes 0-7 stay zero): the log assigns offsets.
  dv.setInt32(8, total - BATCH_LOG_OVERHEAD);
  dv.setInt32(12, -1); // partition leader epoch: set by the log
  out[16] = MAGIC_V2;
  // attributes (21-22) 0: no compression, CreateTime, not transactional
  dv.setInt32(23, n - 1);
  setI64(dv, 27, base);
  setI64(dv, 35, max);
  setI64(dv, 43, -1); // producer id
  dv.setInt16(51, -1); // producer epoch
  dv.setInt32(53, -1); // base sequence
  dv.setInt32(57, n);
  dv.setUint32(17, crc32c(out, 21, total));
  return out;
}

function setI64(dv: DataView, pos: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  dv.setInt32(pos, hi);
  dv.setUint32(pos + 4, v - hi * 4294967296);
}
