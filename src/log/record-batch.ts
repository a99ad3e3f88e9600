/**
 * Kafka RecordBatch v2 codec (sans-IO). CONTRACT ONLY — the implementation is
 * being written; signatures here are fixed, other modules code against them.
 *
 * Layout (KIP-98): baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
 * magic int8 (=2) | crc uint32 (CRC-32C over attributes..end) | attributes int16 |
 * lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
 * producerEpoch int16 | baseSequence int32 | recordCount int32 | records...
 */
import type { RecordInput, StoredRecord } from "./types.ts";

export const BATCH_HEADER_SIZE = 61;
/** Bytes before batchLength's count starts (baseOffset + batchLength). */
export const BATCH_LOG_OVERHEAD = 12;
export const MAGIC_V2 = 2;

export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export type Compression = (typeof Compression)[keyof typeof Compression];

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
  /** Used for records without a timestamp. */
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

export declare function readBatchHeader(buf: Uint8Array, pos?: number): BatchHeader;
/** Total bytes of the batch starting at pos (batchLength + 12). */
export declare function batchSizeAt(buf: Uint8Array, pos?: number): number;
/** Validate length, magic and CRC-32C of the batch at pos (bytes up to `end`). */
export declare function checkBatch(buf: Uint8Array, pos?: number, end?: number): BatchCheck;
export declare function setBaseOffset(buf: Uint8Array, pos: number, offset: number): void;
export declare function setPartitionLeaderEpoch(buf: Uint8Array, pos: number, epoch: number): void;
/** Mark LogAppendTime (attribute bit 3), set maxTimestamp, recompute the CRC. */
export declare function setLogAppendTime(buf: Uint8Array, pos: number, timestamp: number): void;
export declare function compressionOf(attributes: number): Compression;
export declare function isTransactional(attributes: number): boolean;
export declare function isControl(attributes: number): boolean;
export declare function isLogAppendTime(attributes: number): boolean;
export declare function encodeBatch(records: RecordInput[], opts?: EncodeOptions): Uint8Array;
/** Decode one batch (decompressing); record offsets are absolute. */
export declare function decodeBatch(buf: Uint8Array, pos?: number): { header: BatchHeader; records: StoredRecord[] };
/** Walk concatenated batches without verifying CRCs; stops at a short tail. */
export declare function iterateBatches(
  buf: Uint8Array,
  pos?: number,
  end?: number,
): Generator<{ header: BatchHeader; pos: number; size: number }>;
/** Decode all data records in concatenated batches, skipping control batches and offsets < fromOffset. */
export declare function decodeRecords(buf: Uint8Array, fromOffset?: number): StoredRecord[];
