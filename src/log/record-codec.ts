/**
 * The records section of a RecordBatch v2 (sans-IO): sizing, writing and
 * parsing the varint-encoded records. Batch framing, CRC and compression live
 * in record-batch.ts, the public entry point.
 *
 * Record: length varint | attributes int8 | timestampDelta varlong |
 * offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint |
 * value | headerCount varint | headers (keyLength varint, utf8 key,
 * valueLength varint (-1 = null), value).
 *
 * Parsed keys, values and header values are subarray views into `data`.
 */
import { EddyError } from "../errors.ts";
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from "../util/varint.ts";
import type { BatchHeader } from "./record-batch.ts";
import type { RecordHeader, RecordInput, StoredRecord } from "./types.ts";

function corrupt(message: string, details?: Record<string, unknown>): EddyError {
  return new EddyError("CORRUPT_RECORD", message, details);
}

// ---------------------------------------------------------------- encode

/** UTF-8 byte length of a string, as TextEncoder would encode it (lone surrogates → U+FFFD). */
export function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        len += 2; // 4 bytes for 2 UTF-16 units
        i++;
      } else len += 2;
    } else len += 2;
  }
  return len;
}

const encoder = new TextEncoder();
/** Body size of each record, computed by recordsSizeOf and used by the next writeRecords. */
let sizes = new Int32Array(256);

/** Bytes of the records section for `records` (remembers each record's size for writeRecords). */
export function recordsSizeOf(records: RecordInput[], baseTimestamp: number, now: number): number {
  const n = records.length;
  if (sizes.length < n) sizes = new Int32Array(Math.max(n, sizes.length * 2));
  let total = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    const key = r.key;
    const value = r.value;
    let body = 1 + sizeOfVarlong((r.timestamp ?? now) - baseTimestamp) + (i < 64 ? 1 : sizeOfVarint(i));
    body += key == null ? 1 : sizeOfVarint(key.length) + key.length;
    body += value == null ? 1 : sizeOfVarint(value.length) + value.length;
    const headers = r.headers;
    if (headers === undefined || headers.length === 0) body += 1;
    else {
      body += sizeOfVarint(headers.length);
      for (let j = 0; j < headers.length; j++) {
        const h = headers[j]!;
        const kl = utf8Length(h.key);
        body += sizeOfVarint(kl) + kl;
        const hv = h.value;
        body += hv == null ? 1 : sizeOfVarint(hv.length) + hv.length;
      }
    }
    sizes[i] = body;
    total += sizeOfVarint(body) + body;
  }
  return total;
}

function writeBytes(out: Uint8Array, pos: number, bytes: Uint8Array | null | undefined): number {
  if (bytes == null) {
    out[pos] = 1; // zigzag(-1)
    return pos + 1;
  }
  const len = bytes.length;
  pos = writeVarint(out, pos, len);
  if (len < 16) {
    for (let k = 0; k < len; k++) out[pos + k] = bytes[k]!;
  } else out.set(bytes, pos);
  return pos + len;
}

/** Write the records sized by the last recordsSizeOf call; returns the end position. */
export function writeRecords(
  out: Uint8Array,
  pos: number,
  records: RecordInput[],
  base: number,
  now: number,
): number {
  const n = records.length;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    pos = writeVarint(out, pos, sizes[i]!);
    out[pos++] = 0;
    pos = writeVarlong(out, pos, (r.timestamp ?? now) - base);
    pos = writeVarint(out, pos, i);
    pos = writeBytes(out, pos, r.key);
    pos = writeBytes(out, pos, r.value);
    const headers = r.headers;
    if (headers === undefined || headers.length === 0) {
      out[pos++] = 0;
      continue;
    }
    pos = writeVarint(out, pos, headers.length);
    for (let j = 0; j < headers.length; j++) {
      const h = headers[j]!;
      const key = h.key;
      const kl = utf8Length(key);
      pos = writeVarint(out, pos, kl);
      if (kl === key.length) {
        for (let k = 0; k < kl; k++) out[pos + k] = key.charCodeAt(k);
      } else encoder.encodeInto(key, out.subarray(pos, pos + kl));
      pos += kl;
      pos = writeBytes(out, pos, h.value);
    }
  }
  return pos;
}

// ---------------------------------------------------------------- decode

const decoder = new TextDecoder();

function decodeUtf8(b: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let s = "";
    for (let i = start; i < end; i++) {
      const c = b[i]!;
      if (c >= 0x80) return decoder.decode(b.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(b.subarray(start, end));
}

/**
 * Parse `count` records from data[start, stop). A small hand-rolled cursor
 * (rather than ByteReader) keeps this loop allocation-free apart from the
 * records themselves.
 */
export function parseRecords(data: Uint8Array, start: number, stop: number, h: BatchHeader): StoredRecord[] {
  const count = h.recordCount;
  if (count < 0 || count > stop - start) {
    throw corrupt(`batch at offset ${h.baseOffset} declares ${count} records in ${stop - start} bytes`);
  }
  const logAppend = (h.attributes & 0x08) !== 0; // LogAppendTime: every record takes maxTimestamp
  const records: StoredRecord[] = new Array(count);
  let p = start;
  let end = stop;

  const fail = (what: string): never => {
    throw corrupt(`malformed record in batch at offset ${h.baseOffset}: ${what}`, {
      baseOffset: h.baseOffset,
    });
  };
  // Unsigned varint → zigzag-decoded int32.
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) fail("truncated varint");
      const b = data[p++]!;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return (result >>> 1) ^ -(result & 1);
    }
    return fail("varint longer than 5 bytes");
  };
  const varlong = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= end) fail("truncated varlong");
      const b = data[p++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      mul *= 128;
    }
    return fail("varlong longer than 10 bytes");
  };
  const bytes = (): Uint8Array | null => {
    const len = varint();
    if (len < 0) {
      if (len === -1) return null;
      fail(`negative length ${len}`);
    }
    if (p + len > end) fail(`length ${len} runs past the record`);
    const v = data.subarray(p, p + len);
    p += len;
    return v;
  };

  for (let i = 0; i < count; i++) {
    end = stop;
    const len = varint();
    if (len < 1 || p + len > stop) fail(`record length ${len} does not fit`);
    end = p + len;
    p++; // record attributes (unused in v2)
    const timestampDelta = varlong();
    const offsetDelta = varint();
    const key = bytes();
    const value = bytes();
    const headerCount = varint();
    if (headerCount < 0 || headerCount > end - p) fail(`header count ${headerCount}`);
    const headers: RecordHeader[] = [];
    for (let j = 0; j < headerCount; j++) {
      const kl = varint();
      if (kl < 0 || p + kl > end) fail(`header key length ${kl}`);
      const hk = decodeUtf8(data, p, p + kl);
      p += kl;
      headers.push({ key: hk, value: bytes() });
    }
    if (p !== end) fail(`record declares ${len} bytes but holds ${len - (end - p)}`);
    records[i] = {
      offset: h.baseOffset + offsetDelta,
      timestamp: logAppend ? h.maxTimestamp : h.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    };
  }
  if (p !== stop) fail(`${stop - p} bytes left after ${count} records`);
  return records;
}
