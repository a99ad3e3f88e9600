/**
 * Kafka RecordBatch v2 codec (sans-IO): bytes in, values out, and back.
 *
 * Layout (KIP-98, Kafka protocol docs "Record Batch"), big-endian:
 *
 *   off  field                 type
 *    0   baseOffset            int64
 *    8   batchLength           int32   bytes after this field (size - 12)
 *   12   partitionLeaderEpoch  int32
 *   16   magic                 int8    = 2
 *   17   crc                   uint32  CRC-32C over [21, end)
 *   21   attributes            int16   bits 0-2 compression, 3 timestampType
 *                                      (1 = LogAppendTime), 4 transactional, 5 control
 *   23   lastOffsetDelta       int32
 *   27   baseTimestamp         int64
 *   35   maxTimestamp          int64
 *   43   producerId            int64
 *   51   producerEpoch         int16
 *   53   baseSequence          int32
 *   57   recordCount           int32
 *   61   records               (compressed as a whole when bits 0-2 are set)
 *
 * Record: length varint | attributes int8 | timestampDelta varlong |
 * offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint |
 * value | headerCount varint | headers (keyLength varint, utf8 key,
 * valueLength varint (-1 = null), value).
 *
 * baseOffset and partitionLeaderEpoch are outside the CRC (the broker rewrites
 * them), as in Kafka.
 *
 * Decoded records' `key`, `value` and header values are views (subarray) into
 * the input buffer, or into the decompressed records for a compressed batch;
 * they are not copies. Copy them if the input buffer will be reused.
 */
import { EddyError } from "../errors.ts";
import { crc32c } from "../util/crc32c.ts";
import { compress, decompress } from "./compression.ts";
import { parseRecords, recordsSizeOf, writeRecords } from "./record-codec.ts";
import type { RecordInput, StoredRecord } from "./types.ts";

export { utf8Length } from "./record-codec.ts";

export const BATCH_HEADER_SIZE = 61;
/** Bytes before batchLength's count starts (baseOffset + batchLength). */
export const BATCH_LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;

export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

/** Attribute bits of a v2 batch. */
export const BatchAttribute = {
  COMPRESSION_MASK: 0x07,
  LOG_APPEND_TIME: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
  DELETE_HORIZON: 0x40,
} as const;

/** Field offsets within a batch (relative to its start). */
export const BatchField = {
  BASE_OFFSET: 0,
  BATCH_LENGTH: 8,
  PARTITION_LEADER_EPOCH: 12,
  MAGIC: 16,
  CRC: 17,
  ATTRIBUTES: 21,
  LAST_OFFSET_DELTA: 23,
  BASE_TIMESTAMP: 27,
  MAX_TIMESTAMP: 35,
  PRODUCER_ID: 43,
  PRODUCER_EPOCH: 51,
  BASE_SEQUENCE: 53,
  RECORD_COUNT: 57,
  RECORDS: 61,
} as const;

/** Kafka's "no timestamp" value. */
export const NO_TIMESTAMP = -1;

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export type BatchCheck =
  | { ok: true; header: BatchHeader; size: number }
  | { ok: false; reason: "short" | "length" | "magic" | "crc"; message: string };

export interface EncodeOptions {
  baseOffset?: number;
  /** Used for records without a timestamp (default -1, Kafka's NO_TIMESTAMP); also the LogAppendTime. */
  now?: number;
  compression?: Compression;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  control?: boolean;
  partitionLeaderEpoch?: number;
  logAppendTime?: boolean;
}

const TWO_32 = 4294967296;
const MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD;

// ---------------------------------------------------------------- byte helpers

function readI16(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16)) >> 16;
}

function readI32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

function readI64(b: Uint8Array, p: number): number {
  return readI32(b, p) * TWO_32 + (readI32(b, p + 4) >>> 0);
}

function writeI16(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 8;
  b[p + 1] = v;
}

function writeI32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

function writeI64(b: Uint8Array, p: number, v: number): void {
  writeI32(b, p, Math.floor(v / TWO_32));
  writeI32(b, p + 4, v >>> 0);
}

function corrupt(message: string, details?: Record<string, unknown>): EddyError {
  return new EddyError("CORRUPT_RECORD", message, details);
}

// ---------------------------------------------------------------- header access

export function readBatchHeader(buf: Uint8Array, pos = 0): BatchHeader {
  if (pos < 0 || buf.length - pos < BATCH_HEADER_SIZE) {
    throw corrupt(`a record batch header needs ${BATCH_HEADER_SIZE} bytes; ${buf.length - pos} remain`, {
      pos,
    });
  }
  return {
    baseOffset: readI64(buf, pos),
    batchLength: readI32(buf, pos + 8),
    partitionLeaderEpoch: readI32(buf, pos + 12),
    magic: (buf[pos + 16]! << 24) >> 24,
    crc: readI32(buf, pos + 17) >>> 0,
    attributes: readI16(buf, pos + 21),
    lastOffsetDelta: readI32(buf, pos + 23),
    baseTimestamp: readI64(buf, pos + 27),
    maxTimestamp: readI64(buf, pos + 35),
    producerId: readI64(buf, pos + 43),
    producerEpoch: readI16(buf, pos + 51),
    baseSequence: readI32(buf, pos + 53),
    recordCount: readI32(buf, pos + 57),
  };
}

/** Total bytes of the batch starting at pos (batchLength + 12). */
export function batchSizeAt(buf: Uint8Array, pos = 0): number {
  if (pos < 0 || buf.length - pos < BATCH_LOG_OVERHEAD) {
    throw corrupt(`a record batch needs at least ${BATCH_LOG_OVERHEAD} bytes; ${buf.length - pos} remain`, {
      pos,
    });
  }
  return readI32(buf, pos + 8) + BATCH_LOG_OVERHEAD;
}

/**
 * Validate length, magic and CRC-32C of the batch at pos (bytes up to `end`).
 * `verifyCrc = false` skips the CRC (the caller has just checked it).
 */
export function checkBatch(buf: Uint8Array, pos = 0, end = buf.length, verifyCrc = true): BatchCheck {
  const avail = Math.min(end, buf.length) - pos;
  if (avail < BATCH_LOG_OVERHEAD) {
    return {
      ok: false,
      reason: "short",
      message: `only ${Math.max(avail, 0)} bytes at ${pos}; a batch needs more`,
    };
  }
  const batchLength = readI32(buf, pos + 8);
  if (batchLength < MIN_BATCH_LENGTH) {
    return {
      ok: false,
      reason: "length",
      message: `batch length ${batchLength} at ${pos} is smaller than a v2 batch header`,
    };
  }
  if (avail > BATCH_LOG_OVERHEAD + 4 && buf[pos + 16] !== MAGIC_V2) {
    return {
      ok: false,
      reason: "magic",
      message: `batch at ${pos} has magic ${buf[pos + 16]}; only RecordBatch v2 (magic 2) is supported`,
    };
  }
  const size = batchLength + BATCH_LOG_OVERHEAD;
  if (avail < size) {
    return { ok: false, reason: "short", message: `batch at ${pos} needs ${size} bytes; ${avail} available` };
  }
  if (!verifyCrc) return { ok: true, header: readBatchHeader(buf, pos), size };
  const stored = readI32(buf, pos + 17) >>> 0;
  const actual = crc32c(buf, pos + 21, pos + size);
  if (stored !== actual) {
    return {
      ok: false,
      reason: "crc",
      message: `batch at ${pos} fails its CRC-32C check (stored ${stored.toString(16)}, computed ${actual.toString(16)})`,
    };
  }
  return { ok: true, header: readBatchHeader(buf, pos), size };
}

export function setBaseOffset(buf: Uint8Array, pos: number, offset: number): void {
  writeI64(buf, pos, offset);
}

export function setPartitionLeaderEpoch(buf: Uint8Array, pos: number, epoch: number): void {
  writeI32(buf, pos + 12, epoch);
}

/** Mark LogAppendTime (attribute bit 3), set maxTimestamp, recompute the CRC. */
export function setLogAppendTime(buf: Uint8Array, pos: number, timestamp: number): void {
  const size = batchSizeAt(buf, pos);
  if (size < BATCH_HEADER_SIZE || buf.length - pos < size) {
    throw corrupt(`cannot stamp LogAppendTime: batch at ${pos} is incomplete`, { pos, size });
  }
  writeI16(buf, pos + 21, readI16(buf, pos + 21) | BatchAttribute.LOG_APPEND_TIME);
  writeI64(buf, pos + 35, timestamp);
  writeI32(buf, pos + 17, crc32c(buf, pos + 21, pos + size));
}

/** Set the whole attributes field and recompute the CRC. */
export function setAttributes(buf: Uint8Array, pos: number, attributes: number): void {
  const size = batchSizeAt(buf, pos);
  if (size < BATCH_HEADER_SIZE || buf.length - pos < size) {
    throw corrupt(`cannot set attributes: batch at ${pos} is incomplete`, { pos, size });
  }
  writeI16(buf, pos + 21, attributes);
  writeI32(buf, pos + 17, crc32c(buf, pos + 21, pos + size));
}

export function compressionOf(attributes: number): Compression {
  return (attributes & BatchAttribute.COMPRESSION_MASK) as Compression;
}

export function isTransactional(attributes: number): boolean {
  return (attributes & BatchAttribute.TRANSACTIONAL) !== 0;
}

export function isControl(attributes: number): boolean {
  return (attributes & BatchAttribute.CONTROL) !== 0;
}

export function isLogAppendTime(attributes: number): boolean {
  return (attributes & BatchAttribute.LOG_APPEND_TIME) !== 0;
}

/** Offset of the batch's last record (baseOffset + lastOffsetDelta). */
export function lastOffsetOf(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta;
}

// ---------------------------------------------------------------- encode

/**
 * Encode records into one RecordBatch v2. Timestamps default to `opts.now`;
 * baseTimestamp is the first record's timestamp, maxTimestamp the largest (or
 * `now` with logAppendTime). producerId/epoch/baseSequence default to -1.
 */
export function encodeBatch(records: RecordInput[], opts: EncodeOptions = {}): Uint8Array {
  const n = records.length;
  if (n === 0) throw new EddyError("INVALID_REQUEST", "a record batch needs at least one record");
  const now = opts.now ?? NO_TIMESTAMP;
  const codec = opts.compression ?? Compression.NONE;
  const baseTimestamp = records[0]!.timestamp ?? now;
  let maxTimestamp = baseTimestamp;
  for (let i = 1; i < n; i++) {
    const t = records[i]!.timestamp ?? now;
    if (t > maxTimestamp) maxTimestamp = t;
  }
  let attributes = codec & BatchAttribute.COMPRESSION_MASK;
  if (opts.logAppendTime) {
    attributes |= BatchAttribute.LOG_APPEND_TIME;
    maxTimestamp = now;
  }
  if (opts.transactional) attributes |= BatchAttribute.TRANSACTIONAL;
  if (opts.control) attributes |= BatchAttribute.CONTROL;

  const recordsSize = recordsSizeOf(records, baseTimestamp, now);
  let out: Uint8Array;
  if (codec === Compression.NONE) {
    out = new Uint8Array(BATCH_HEADER_SIZE + recordsSize);
    writeRecords(out, BATCH_HEADER_SIZE, records, baseTimestamp, now);
  } else {
    const raw = new Uint8Array(recordsSize);
    writeRecords(raw, 0, records, baseTimestamp, now);
    const packed = compress(codec, raw);
    out = new Uint8Array(BATCH_HEADER_SIZE + packed.length);
    out.set(packed, BATCH_HEADER_SIZE);
  }
  writeI64(out, 0, opts.baseOffset ?? 0);
  writeI32(out, 8, out.length - BATCH_LOG_OVERHEAD);
  writeI32(out, 12, opts.partitionLeaderEpoch ?? -1);
  out[16] = MAGIC_V2;
  writeI16(out, 21, attributes);
  writeI32(out, 23, n - 1);
  writeI64(out, 27, baseTimestamp);
  writeI64(out, 35, maxTimestamp);
  writeI64(out, 43, opts.producerId ?? -1);
  writeI16(out, 51, opts.producerEpoch ?? -1);
  writeI32(out, 53, opts.baseSequence ?? -1);
  writeI32(out, 57, n);
  writeI32(out, 17, crc32c(out, 21, out.length));
  return out;
}

// ---------------------------------------------------------------- decode

/** Decode one batch (decompressing); record offsets are absolute. Throws CORRUPT_RECORD. */
export function decodeBatch(buf: Uint8Array, pos = 0): { header: BatchHeader; records: StoredRecord[] } {
  const check = checkBatch(buf, pos);
  if (!check.ok) throw corrupt(check.message, { reason: check.reason, pos });
  const header = check.header;
  const start = pos + BATCH_HEADER_SIZE;
  const stop = pos + check.size;
  const codec = compressionOf(header.attributes);
  if (codec === Compression.NONE) return { header, records: parseRecords(buf, start, stop, header) };
  let data: Uint8Array;
  try {
    data = decompress(codec, buf.subarray(start, stop));
  } catch (err) {
    if (err instanceof EddyError) throw err;
    throw new EddyError(
      "CORRUPT_RECORD",
      `batch at offset ${header.baseOffset} could not be decompressed (codec ${codec})`,
      { baseOffset: header.baseOffset, codec },
      { cause: err },
    );
  }
  return { header, records: parseRecords(data, 0, data.length, header) };
}

/**
 * Walk concatenated batches without verifying CRCs; stops at a short tail
 * (or at a batch whose length field is smaller than a header).
 */
export function* iterateBatches(
  buf: Uint8Array,
  pos = 0,
  end = buf.length,
): Generator<{ header: BatchHeader; pos: number; size: number }> {
  const stop = Math.min(end, buf.length);
  while (stop - pos >= BATCH_HEADER_SIZE) {
    const batchLength = readI32(buf, pos + 8);
    if (batchLength < MIN_BATCH_LENGTH) return;
    const size = batchLength + BATCH_LOG_OVERHEAD;
    if (pos + size > stop) return;
    yield { header: readBatchHeader(buf, pos), pos, size };
    pos += size;
  }
}

/**
 * Decode all data records in concatenated batches, skipping control batches
 * and offsets < fromOffset. A partial batch at the end is ignored (Kafka fetch
 * semantics); every complete batch has its CRC verified. Aborted transactional
 * records are not filtered here.
 */
export function decodeRecords(buf: Uint8Array, fromOffset = 0): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (const b of iterateBatches(buf)) {
    const h = b.header;
    if (isControl(h.attributes) || h.baseOffset + h.lastOffsetDelta < fromOffset) continue;
    const { records } = decodeBatch(buf, b.pos);
    for (const r of records) if (r.offset >= fromOffset) out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------- control batches

/** Control record types (the int16 after the version in a control record's key). */
export const ControlRecordType = { ABORT: 0, COMMIT: 1 } as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

export interface EndTxnMarkerOptions {
  commit: boolean;
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  timestamp: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
}

/**
 * A transaction marker batch, as Kafka writes it: a transactional control
 * batch with one record, key = version int16 (0) + type int16, value =
 * version int16 (0) + coordinatorEpoch int32.
 */
export function encodeEndTxnMarker(opts: EndTxnMarkerOptions): Uint8Array {
  const key = new Uint8Array(4);
  writeI16(key, 2, opts.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT);
  const value = new Uint8Array(6);
  writeI32(value, 2, opts.coordinatorEpoch);
  return encodeBatch([{ key, value, timestamp: opts.timestamp }], {
    baseOffset: opts.baseOffset ?? 0,
    producerId: opts.producerId,
    producerEpoch: opts.producerEpoch,
    partitionLeaderEpoch: opts.partitionLeaderEpoch ?? -1,
    transactional: true,
    control: true,
  });
}

/** Type of a control record (from its key), or null if the key is not a control key. */
export function controlRecordType(key: Uint8Array | null): number | null {
  if (key === null || key.length < 4) return null;
  return readI16(key, 2);
}
