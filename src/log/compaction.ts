/**
 * Log compaction (cleanup.policy=compact), sans-IO: batches in, batches out.
 * Used by both PartitionLog implementations; they decide which batches to
 * feed (sealed segments only) and store what comes back.
 *
 * As in Kafka's log cleaner (LogCleaner / MemoryRecords.filterTo):
 * 1. `buildOffsetMap` scans the batches and records, per key, the offset of
 *    its latest record. Keys are compared as bytes (the map key is the key's
 *    latin1 string, one char per byte). Null keys, control batches and
 *    transactional batches are ignored (see below).
 * 2. `compactBatch` keeps a record iff it is not superseded: its key is null,
 *    absent from the map, or its offset >= the map's offset for the key
 *    (records beyond the map's range are kept). Records newer than
 *    minCompactionLagMs (now - timestamp < lag) are always kept. A tombstone
 *    (null value) that is the latest for its key is kept until it is older
 *    than deleteRetentionMs (now - timestamp > deleteRetentionMs), then dropped.
 *
 * The rewritten batch, like Kafka's for v2, keeps baseOffset, lastOffsetDelta,
 * baseTimestamp, partitionLeaderEpoch, producerId/epoch, baseSequence,
 * attributes and compression; kept records are copied byte for byte (their
 * offset and timestamp deltas stay valid), so every kept record keeps its
 * offset and the batch still spans the same offset range (the producer's last
 * sequence stays derivable, and offset indexes stay valid). recordCount,
 * batchLength, maxTimestamp (CreateTime: the largest kept timestamp) and the
 * CRC-32C are recomputed. A batch with nothing left is dropped (null).
 *
 * Not compacted, returned as they are:
 * - control batches (transaction markers): the transaction state machine
 *   needs them; Kafka removes them only once the transaction's data is gone.
 * - transactional batches: whether they committed or aborted is not known
 *   here, so they are kept whole and never supersede anything (an aborted
 *   value must not delete the committed one before it).
 * - batches in a codec this build cannot (de)compress (UNSUPPORTED_COMPRESSION).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { crc32c } from "../util/crc32c.ts";
import { ByteReader } from "../util/varint.ts";
import { compress, decompress } from "./compression.ts";
import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  type BatchHeader,
  BatchField,
  Compression,
  compressionOf,
  isControl,
  isLogAppendTime,
  isTransactional,
  iterateBatches,
  readBatchHeader,
} from "./record-batch.ts";

/** Latest offset per key (key bytes as a latin1 string). */
export type OffsetMap = Map<string, number>;

export interface OffsetMapOptions {
  /** Map only records with offset < endOffset (e.g. the active segment's base). */
  endOffset?: number;
  /** Add to this map instead of a new one (to build it across several calls). */
  into?: OffsetMap;
}

export interface CompactOptions {
  /** The cleaner's clock, in ms since the epoch. */
  now: number;
  /** Tombstones older than this (ms) are dropped. */
  deleteRetentionMs: number;
  /** Records newer than this (ms) are never removed. Default 0. */
  minCompactionLagMs?: number;
}

export interface CompactBatchesResult {
  /** The compacted batches, in order (unchanged batches are the same objects). */
  batches: Uint8Array[];
  removedRecords: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** The map key for a record key: one latin1 char per byte, so distinct bytes give distinct strings. */
export function offsetMapKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString("latin1");
}

interface ScannedRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  tombstone: boolean;
  /** Span of the whole record (length prefix included) in the records data. */
  start: number;
  end: number;
}

/** The uncompressed records section of the batch at `pos`, or null if its codec is unsupported. */
function recordsData(buf: Uint8Array, pos: number, header: BatchHeader): Uint8Array | null {
  const section = buf.subarray(pos + BATCH_HEADER_SIZE, pos + header.batchLength + BATCH_LOG_OVERHEAD);
  const codec = compressionOf(header.attributes);
  if (codec === Compression.NONE) return section;
  try {
    return decompress(codec, section);
  } catch (err) {
    if (err instanceof EddyError && err.code === ErrorCode.UNSUPPORTED_COMPRESSION) return null;
    throw new EddyError(
      ErrorCode.CORRUPT_RECORD,
      `batch at offset ${header.baseOffset} could not be decompressed for compaction (codec ${codec})`,
      { baseOffset: header.baseOffset, codec },
      { cause: err },
    );
  }
}

/** Walk the records of a batch, reading only what compaction needs. Throws CORRUPT_RECORD. */
function* scanRecords(data: Uint8Array, header: BatchHeader): Generator<ScannedRecord> {
  const r = new ByteReader(data);
  const logAppend = isLogAppendTime(header.attributes);
  for (let i = 0; i < header.recordCount; i++) {
    const start = r.pos;
    const len = r.readVarint();
    if (len < 1 || len > r.remaining) r.fail(`record length ${len}`);
    const end = r.pos + len;
    r.end = end;
    r.pos += 1; // record attributes
    const tsDelta = r.readVarlong();
    const offsetDelta = r.readVarint();
    const keyLen = r.readVarint();
    const key = keyLen < 0 ? null : r.readBytes(keyLen);
    const valueLen = r.readVarint();
    r.end = data.length;
    yield {
      offset: header.baseOffset + offsetDelta,
      timestamp: logAppend ? header.maxTimestamp : header.baseTimestamp + tsDelta,
      key,
      tombstone: valueLen < 0,
      start,
      end,
    };
    r.pos = end;
  }
}

/** Whether compaction leaves this batch alone (see the header). */
function untouchable(header: BatchHeader): boolean {
  return isControl(header.attributes) || isTransactional(header.attributes);
}

/**
 * Build the key → latest offset map from batches (each element may hold one
 * or several concatenated batches).
 */
export function buildOffsetMap(batches: Iterable<Uint8Array>, opts: OffsetMapOptions = {}): OffsetMap {
  const map: OffsetMap = opts.into ?? new Map();
  const endOffset = opts.endOffset ?? Number.POSITIVE_INFINITY;
  for (const buf of batches) {
    for (const b of iterateBatches(buf)) {
      const h = b.header;
      if (untouchable(h) || h.baseOffset >= endOffset) continue;
      const data = recordsData(buf, b.pos, h);
      if (data === null) continue;
      for (const rec of scanRecords(data, h)) {
        if (rec.key === null || rec.offset >= endOffset) continue;
        const k = offsetMapKey(rec.key);
        const prev = map.get(k);
        if (prev === undefined || rec.offset > prev) map.set(k, rec.offset);
      }
    }
  }
  return map;
}

function keep(rec: ScannedRecord, map: ReadonlyMap<string, number>, opts: CompactOptions): boolean {
  if (rec.key === null) return true;
  if (opts.now - rec.timestamp < (opts.minCompactionLagMs ?? 0)) return true;
  const latest = map.get(offsetMapKey(rec.key));
  if (latest === undefined) return true;
  if (rec.offset < latest) return false;
  // The latest record for its key (or beyond the map): only an expired tombstone goes.
  return !(rec.tombstone && rec.offset === latest && opts.now - rec.timestamp > opts.deleteRetentionMs);
}

function writeI32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

function writeI64(b: Uint8Array, p: number, v: number): void {
  writeI32(b, p, Math.floor(v / 4294967296));
  writeI32(b, p + 4, v >>> 0);
}

/**
 * Compact one batch (the batch at the start of `batch`). Returns the batch
 * itself when nothing is removed, a rewritten batch when some records go, or
 * null when none remain. Throws CORRUPT_RECORD on malformed records.
 */
export function compactBatch(
  batch: Uint8Array,
  map: ReadonlyMap<string, number>,
  opts: CompactOptions,
): Uint8Array | null {
  const header = readBatchHeader(batch, 0);
  if (untouchable(header)) return batch;
  const data = recordsData(batch, 0, header);
  if (data === null) return batch;
  const kept: ScannedRecord[] = [];
  let total = 0;
  for (const rec of scanRecords(data, header)) {
    total++;
    if (keep(rec, map, opts)) kept.push(rec);
  }
  if (kept.length === total) return batch;
  if (kept.length === 0) return null;

  let rawSize = 0;
  for (const rec of kept) rawSize += rec.end - rec.start;
  const raw = new Uint8Array(rawSize);
  let p = 0;
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (const rec of kept) {
    raw.set(data.subarray(rec.start, rec.end), p);
    p += rec.end - rec.start;
    if (rec.timestamp > maxTimestamp) maxTimestamp = rec.timestamp;
  }
  const codec = compressionOf(header.attributes);
  const records = codec === Compression.NONE ? raw : compress(codec, raw);

  const out = new Uint8Array(BATCH_HEADER_SIZE + records.length);
  out.set(batch.subarray(0, BATCH_HEADER_SIZE));
  out.set(records, BATCH_HEADER_SIZE);
  writeI32(out, BatchField.BATCH_LENGTH, out.length - BATCH_LOG_OVERHEAD);
  if (!isLogAppendTime(header.attributes)) writeI64(out, BatchField.MAX_TIMESTAMP, maxTimestamp);
  writeI32(out, BatchField.RECORD_COUNT, kept.length);
  writeI32(out, BatchField.CRC, crc32c(out, BatchField.ATTRIBUTES, out.length));
  return out;
}

/** Compact a run of single batches with one map; counts what went. */
export function compactBatches(
  batches: Iterable<Uint8Array>,
  map: ReadonlyMap<string, number>,
  opts: CompactOptions,
): CompactBatchesResult {
  const out: Uint8Array[] = [];
  let removedRecords = 0;
  let bytesBefore = 0;
  let bytesAfter = 0;
  for (const batch of batches) {
    const before = readBatchHeader(batch, 0).recordCount;
    bytesBefore += batch.length;
    const result = compactBatch(batch, map, opts);
    if (result === null) {
      removedRecords += before;
      continue;
    }
    if (result !== batch) removedRecords += before - readBatchHeader(result, 0).recordCount;
    bytesAfter += result.length;
    out.push(result);
  }
  return { batches: out, removedRecords, bytesBefore, bytesAfter };
}
