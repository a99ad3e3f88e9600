/**
 * LZ4 frame format (lz4 frame spec v1.6) as Kafka uses it for compression
 * type 3 (Java's KafkaLZ4BlockOutputStream, librdkafka's LZ4F): pure TypeScript.
 *
 * Encode: 64 KiB independent blocks, no block or content checksums, header
 * checksum = byte 1 of xxHash32(descriptor) (FLG 0x60, BD 0x40), exactly as
 * Java writes it. Blocks that do not shrink are stored raw.
 * Decode: any block size (64 KiB .. 4 MiB), independent or linked blocks,
 * optional content size, block and content checksums (verified); dictionary
 * IDs are rejected. Only the first frame is read; trailing bytes are ignored.
 * Malformed input throws Lz4Error (never reads or writes out of bounds).
 */
import { xxhash32 } from "../util/xxhash32.ts";

export class Lz4Error extends Error {
  override name = "Lz4Error";
}

const MAGIC = 0x184d2204;
const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const BLOCK_SIZE = 64 * 1024;
const MAX_OFFSET = 65535;

const table = new Int32Array(1 << 16);

function read32(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
}

function write32(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}

function writeLength(dst: Uint8Array, d: number, n: number): number {
  while (n >= 255) {
    dst[d++] = 255;
    n -= 255;
  }
  dst[d++] = n;
  return d;
}

/** Compress src[s0, s1) into dst at d0 as one LZ4 block; returns the end position in dst. */
function compressBlock(src: Uint8Array, s0: number, s1: number, dst: Uint8Array, d0: number): number {
  const len = s1 - s0;
  let d = d0;
  let anchor = s0;
  if (len > MF_LIMIT) {
    let bits = 16;
    while (bits > 10 && 1 << (bits - 2) > len) bits--;
    const shift = 32 - bits;
    table.fill(0, 0, 1 << bits);
    const mfLimit = s1 - MF_LIMIT;
    const matchLimit = s1 - LAST_LITERALS;
    let s = s0;
    let searches = 1 << 6;
    while (s < mfLimit) {
      const seq = read32(src, s);
      const h = Math.imul(seq, 2654435761) >>> shift;
      let ref = table[h]! - 1;
      table[h] = s + 1;
      if (ref < s0 || s - ref > MAX_OFFSET || read32(src, ref) !== seq) {
        s += searches++ >> 6;
        continue;
      }
      searches = 1 << 6;
      // Extend backwards over literals, then forwards.
      while (s > anchor && ref > s0 && src[s - 1] === src[ref - 1]) {
        s--;
        ref--;
      }
      let m = s + MIN_MATCH;
      let r = ref + MIN_MATCH;
      while (m < matchLimit && src[m] === src[r]) {
        m++;
        r++;
      }
      const lit = s - anchor;
      const ml = m - s - MIN_MATCH;
      const tokenPos = d++;
      let token = Math.min(ml, 15);
      if (lit >= 15) {
        token |= 0xf0;
        d = writeLength(dst, d, lit - 15);
      } else token |= lit << 4;
      dst[tokenPos] = token;
      dst.set(src.subarray(anchor, s), d);
      d += lit;
      const offset = s - ref;
      dst[d++] = offset;
      dst[d++] = offset >>> 8;
      if (ml >= 15) d = writeLength(dst, d, ml - 15);
      s = m;
      anchor = s;
      if (s - 2 > s0) table[Math.imul(read32(src, s - 2), 2654435761) >>> shift] = s - 2 + 1;
    }
  }
  const lit = s1 - anchor;
  if (lit >= 15) {
    dst[d++] = 0xf0;
    d = writeLength(dst, d, lit - 15);
  } else dst[d++] = lit << 4;
  dst.set(src.subarray(anchor, s1), d);
  return d + lit;
}

/** Compress into one LZ4 frame, as Kafka's Java client writes it. */
export function lz4CompressFrame(src: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(src.length / BLOCK_SIZE));
  // Worst case per block: the raw bytes plus the 4-byte block size.
  const bound = 7 + src.length + Math.ceil(src.length / 255) + 16 + blocks * 4 + 4;
  const out = new Uint8Array(bound);
  write32(out, 0, MAGIC);
  out[4] = 0x60; // version 01, block independence
  out[5] = 0x40; // block max size 64 KiB
  out[6] = (xxhash32(out, 4, 6) >>> 8) & 0xff;
  let d = 7;
  for (let s = 0; s < src.length; s += BLOCK_SIZE) {
    const end = Math.min(src.length, s + BLOCK_SIZE);
    const n = compressBlock(src, s, end, out, d + 4) - (d + 4);
    if (n >= end - s) {
      write32(out, d, (end - s) | 0x80000000);
      out.set(src.subarray(s, end), d + 4);
      d += 4 + (end - s);
    } else {
      write32(out, d, n);
      d += 4 + n;
    }
  }
  write32(out, d, 0);
  return out.slice(0, d + 4);
}

function fail(what: string): never {
  throw new Lz4Error(`invalid LZ4 frame: ${what}`);
}

/** Decompress one block src[s, sEnd) into out at d (bounded by dEnd); returns the new d. */
function decompressBlock(
  src: Uint8Array,
  s: number,
  sEnd: number,
  out: Uint8Array,
  d: number,
  dEnd: number,
): number {
  for (;;) {
    if (s >= sEnd) fail("block ends without literals");
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= sEnd) fail("truncated literal length");
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (s + lit > sEnd || d + lit > dEnd) fail("literals overrun");
    out.set(src.subarray(s, s + lit), d);
    s += lit;
    d += lit;
    if (s === sEnd) return d;
    if (s + 2 > sEnd) fail("truncated match offset");
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d) fail("match offset out of range");
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (s >= sEnd) fail("truncated match length");
        b = src[s++]!;
        ml += b;
      } while (b === 255);
    }
    ml += MIN_MATCH;
    if (d + ml > dEnd) fail("match overruns the block");
    let r = d - offset;
    if (offset >= ml) {
      out.copyWithin(d, r, r + ml);
      d += ml;
    } else {
      const stop = d + ml;
      while (d < stop) out[d++] = out[r++]!;
    }
  }
}

/** Decompress the LZ4 frame in `src`; output larger than `maxOutput` bytes is an error. */
export function lz4DecompressFrame(src: Uint8Array, maxOutput = 256 * 1024 * 1024): Uint8Array {
  const n = src.length;
  if (n < 7 || read32(src, 0) !== MAGIC) fail("bad magic number");
  const flg = src[4]!;
  const bd = src[5]!;
  if (flg >>> 6 !== 1) fail(`unsupported version ${flg >>> 6}`);
  if (flg & 0x01) fail("dictionary IDs are not supported");
  const blockChecksum = (flg & 0x10) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const sizeCode = (bd >>> 4) & 7;
  if (sizeCode < 4) fail(`invalid block size code ${sizeCode}`);
  const blockMax = 1 << (8 + 2 * sizeCode);
  let s = 6;
  let contentSize = -1;
  if (hasContentSize) {
    if (n < 15) fail("truncated header");
    contentSize = read32(src, 6) >>> 0;
    if (read32(src, 10) !== 0) fail("content size too large");
    if (contentSize > maxOutput) fail(`content size ${contentSize} exceeds ${maxOutput}`);
    s = 14;
  }
  if (((xxhash32(src, 4, s) >>> 8) & 0xff) !== src[s]) fail("header checksum mismatch");
  s++;

  let out = new Uint8Array(contentSize >= 0 ? contentSize : Math.min(maxOutput, Math.max(1024, n * 4)));
  let d = 0;
  for (;;) {
    if (s + 4 > n) fail("truncated block size");
    const word = read32(src, s) >>> 0;
    s += 4;
    if (word === 0) break;
    const raw = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax) fail(`block of ${size} bytes exceeds the ${blockMax} maximum`);
    if (s + size + (blockChecksum ? 4 : 0) > n) fail("truncated block");
    if (blockChecksum && xxhash32(src, s, s + size) !== read32(src, s + size) >>> 0)
      fail("block checksum mismatch");
    const need = d + (raw ? size : blockMax);
    if (need > out.length) {
      if (contentSize >= 0 && d + (raw ? size : 0) > contentSize)
        fail("data exceeds the declared content size");
      const cap = Math.min(maxOutput, Math.max(need, out.length * 2));
      if (cap < d + (raw ? size : 1)) fail(`output exceeds ${maxOutput} bytes`);
      const grown = new Uint8Array(cap);
      grown.set(out.subarray(0, d));
      out = grown;
    }
    if (raw) {
      out.set(src.subarray(s, s + size), d);
      d += size;
    } else {
      d = decompressBlock(src, s, s + size, out, d, Math.min(out.length, d + blockMax));
    }
    s += size + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) {
    if (s + 4 > n) fail("truncated content checksum");
    if (xxhash32(out, 0, d) !== read32(src, s) >>> 0) fail("content checksum mismatch");
  }
  if (contentSize >= 0 && d !== contentSize)
    fail(`content size ${d} differs from the declared ${contentSize}`);
  return out.length > d * 2 ? out.slice(0, d) : out.subarray(0, d);
}
