/**
 * Kafka record-batch compression codecs (attributes bits 0-2), sans-IO and
 * synchronous: the records section of a batch is compressed as a whole.
 *
 * - gzip (1): node:zlib.
 * - snappy (2): snappyjs (pure JS) for the raw Snappy block format. Encode
 *   writes xerial framing as Java's SnappyOutputStream does (magic
 *   "\x82SNAPPY\0", version 1, compatible 1, then [int32 length, raw block]
 *   per 32 KiB of input); decode accepts xerial-framed and raw Snappy (which
 *   librdkafka and others may send), like Kafka.
 * - lz4 (3): LZ4 frame format (./lz4.ts), as Kafka's KafkaLZ4BlockOutputStream.
 * - zstd (4): node:zlib's zstd (Bun native). Bun 1.4.5's zlib zstd returns
 *   partial output for truncated input without an error, and Bun.zstdDecompressSync
 *   has no output limit, so the frame structure is walked first
 *   (`zstdFramesComplete`) and zlib then decompresses with `maxOutputLength`.
 *
 * Decompression is bounded by `maxOutput` (default 256 MiB) so that a small
 * hostile batch cannot exhaust memory. Unknown codecs throw
 * UNSUPPORTED_COMPRESSION; malformed compressed data throws CORRUPT_RECORD.
 */
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { compress as snappyCompress, uncompress as snappyUncompress } from "snappyjs";
import { EddyError } from "../errors.ts";
import { lz4CompressFrame, lz4DecompressFrame } from "./lz4.ts";

export const Codec = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];

export const CODEC_NAMES: Readonly<Record<Codec, string>> = {
  0: "none",
  1: "gzip",
  2: "snappy",
  3: "lz4",
  4: "zstd",
};

export const DEFAULT_MAX_DECOMPRESSED = 256 * 1024 * 1024;

const XERIAL_MAGIC = Uint8Array.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_BLOCK = 32 * 1024;

function unsupported(codec: number): never {
  throw new EddyError(
    "UNSUPPORTED_COMPRESSION",
    `compression codec ${codec} is not supported; use none, gzip, snappy, lz4 or zstd`,
    { codec },
  );
}

function isXerial(data: Uint8Array, pos: number): boolean {
  if (data.length - pos < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[pos + i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

function readU32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** Snappy with xerial framing, as Java's SnappyOutputStream writes it. */
export function snappyXerialCompress(data: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = XERIAL_HEADER_SIZE;
  for (let s = 0; s < data.length; s += XERIAL_BLOCK) {
    const c = snappyCompress(data.subarray(s, Math.min(data.length, s + XERIAL_BLOCK)));
    chunks.push(c);
    total += 4 + c.length;
  }
  const out = new Uint8Array(total);
  out.set(XERIAL_MAGIC, 0);
  out.set([0, 0, 0, 1, 0, 0, 0, 1], 8);
  let p = XERIAL_HEADER_SIZE;
  for (const c of chunks) {
    out.set([c.length >>> 24, (c.length >>> 16) & 255, (c.length >>> 8) & 255, c.length & 255], p);
    out.set(c, p + 4);
    p += 4 + c.length;
  }
  return out;
}

/** Decode xerial-framed or raw Snappy. */
export function snappyDecompress(data: Uint8Array, maxOutput = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  if (!isXerial(data, 0)) return snappyUncompress(data, maxOutput);
  const parts: Uint8Array[] = [];
  let total = 0;
  let p = 0;
  while (p < data.length) {
    if (isXerial(data, p)) {
      p += XERIAL_HEADER_SIZE; // concatenated streams repeat the header
      continue;
    }
    if (p + 4 > data.length) throw new Error("truncated xerial chunk length");
    const len = readU32(data, p);
    p += 4;
    if (p + len > data.length) throw new Error("truncated xerial chunk");
    const part = snappyUncompress(data.subarray(p, p + len), maxOutput - total);
    parts.push(part);
    total += part.length;
    p += len;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

function readU24LE(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16);
}

/**
 * True if `data` is a sequence of complete zstd frames (and skippable frames):
 * every block header and block, and the optional checksum, are present, and
 * nothing follows. Declared content sizes above `maxOutput` count as incomplete.
 */
export function zstdFramesComplete(data: Uint8Array, maxOutput = DEFAULT_MAX_DECOMPRESSED): boolean {
  const n = data.length;
  let p = 0;
  if (n === 0) return false;
  while (p < n) {
    if (p + 4 > n) return false;
    const magic = (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24)) >>> 0;
    p += 4;
    if (magic >>> 4 === 0x184d2a5) {
      if (p + 4 > n) return false;
      const size = (data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24)) >>> 0;
      p += 4 + size;
      if (p > n) return false;
      continue;
    }
    if (magic !== 0xfd2fb528 || p >= n) return false;
    const fhd = data[p++]!;
    const fcsFlag = fhd >>> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    if (fhd & 0x08) return false; // reserved bit
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
    p += (singleSegment ? 0 : 1) + dictBytes;
    if (p + fcsBytes > n) return false;
    let fcs = 0;
    for (let i = fcsBytes - 1; i >= 0; i--) fcs = fcs * 256 + data[p + i]!;
    if (fcsBytes === 2) fcs += 256;
    if (fcs > maxOutput) return false;
    p += fcsBytes;
    for (;;) {
      if (p + 3 > n) return false;
      const bh = readU24LE(data, p);
      p += 3;
      const type = (bh >>> 1) & 3;
      if (type === 3) return false;
      p += type === 1 ? 1 : bh >>> 3;
      if (p > n) return false;
      if (bh & 1) break;
    }
    if (checksum) p += 4;
    if (p > n) return false;
  }
  return true;
}

/** Compress a batch's records section with `codec` (NONE returns the input). */
export function compress(codec: number, data: Uint8Array): Uint8Array {
  switch (codec) {
    case Codec.NONE:
      return data;
    case Codec.GZIP:
      return gzipSync(data);
    case Codec.SNAPPY:
      return snappyXerialCompress(data);
    case Codec.LZ4:
      return lz4CompressFrame(data);
    case Codec.ZSTD:
      return zstdCompressSync(data);
    default:
      return unsupported(codec);
  }
}

/**
 * Decompress a batch's records section. Throws UNSUPPORTED_COMPRESSION for an
 * unknown codec and CORRUPT_RECORD for malformed or oversized data.
 */
export function decompress(
  codec: number,
  data: Uint8Array,
  maxOutput = DEFAULT_MAX_DECOMPRESSED,
): Uint8Array {
  if (codec === Codec.NONE) return data;
  if (codec < 0 || codec > 4) unsupported(codec);
  try {
    // Every codec's smallest valid output is non-empty (zlib's zstd returns nothing for empty input).
    if (data.length === 0) throw new Error("no compressed bytes");
    switch (codec) {
      case Codec.GZIP:
        return gunzipSync(data, { maxOutputLength: maxOutput });
      case Codec.SNAPPY:
        return snappyDecompress(data, maxOutput);
      case Codec.LZ4:
        return lz4DecompressFrame(data, maxOutput);
      default:
        if (!zstdFramesComplete(data, maxOutput)) throw new Error("truncated or malformed zstd frame");
        return zstdDecompressSync(data, { maxOutputLength: maxOutput });
    }
  } catch (err) {
    const name = CODEC_NAMES[codec as Codec];
    throw new EddyError(
      "CORRUPT_RECORD",
      `${name} data could not be decompressed (${err instanceof Error ? err.message : String(err)}); the producer sent a malformed batch`,
      { codec },
      { cause: err },
    );
  }
}
