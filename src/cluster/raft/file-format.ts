/**
 * On-disk format of the Raft storage (format version 1).
 *
 * `raft.log`: the 8-byte magic "EDDYRFT1", then records
 *   [u32 BE bodyLength][u32 BE crc32c(body)][body]
 * where body[0] is the record type:
 *   1 HARD_STATE f64 term, f64 votedFor (-1 = none), f64 commit
 *   2 ENTRY      f64 index, f64 term, u8 kind, data…
 *   3 TRUNCATE   f64 fromIndex
 *   4 BASE       f64 index, f64 term   (the log starts after this point)
 * Recovery stops at the first short or corrupt record and truncates the file
 * there (a torn tail: the write was never acknowledged).
 *
 * `snapshot.bin`: the magic "EDDYSNP1", then one record whose body is
 *   f64 index, f64 term, u32 configLength, config JSON, data…
 * written to a temporary file, fsynced and renamed into place.
 */
import { crc32c } from "../../util/crc32c.ts";
import type { ClusterConfig, EntryKind, HardState, LogEntry, Snapshot } from "./types.ts";

export const LOG_MAGIC = new TextEncoder().encode("EDDYRFT1");
export const SNAPSHOT_MAGIC = new TextEncoder().encode("EDDYSNP1");

export const RecordType = { HARD_STATE: 1, ENTRY: 2, TRUNCATE: 3, BASE: 4 } as const;

export type LogRecord =
  | { type: typeof RecordType.HARD_STATE; hardState: HardState }
  | { type: typeof RecordType.ENTRY; entry: LogEntry }
  | { type: typeof RecordType.TRUNCATE; from: number }
  | { type: typeof RecordType.BASE; index: number; term: number };

function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  dv.setUint32(4, crc32c(body));
  out.set(body, 8);
  return out;
}

export function encodeRecord(r: LogRecord): Uint8Array {
  let body: Uint8Array;
  switch (r.type) {
    case RecordType.HARD_STATE: {
      body = new Uint8Array(25);
      const dv = new DataView(body.buffer);
      dv.setFloat64(1, r.hardState.term);
      dv.setFloat64(9, r.hardState.votedFor ?? -1);
      dv.setFloat64(17, r.hardState.commit);
      break;
    }
    case RecordType.ENTRY: {
      body = new Uint8Array(18 + r.entry.data.length);
      const dv = new DataView(body.buffer);
      dv.setFloat64(1, r.entry.index);
      dv.setFloat64(9, r.entry.term);
      dv.setUint8(17, r.entry.kind);
      body.set(r.entry.data, 18);
      break;
    }
    case RecordType.TRUNCATE: {
      body = new Uint8Array(9);
      new DataView(body.buffer).setFloat64(1, r.from);
      break;
    }
    case RecordType.BASE: {
      body = new Uint8Array(17);
      const dv = new DataView(body.buffer);
      dv.setFloat64(1, r.index);
      dv.setFloat64(9, r.term);
      break;
    }
  }
  body[0] = r.type;
  return frame(body);
}

function decodeBody(body: Uint8Array): LogRecord | null {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (body[0]) {
    case RecordType.HARD_STATE: {
      if (body.length !== 25) return null;
      const voted = dv.getFloat64(9);
      return {
        type: RecordType.HARD_STATE,
        hardState: { term: dv.getFloat64(1), votedFor: voted < 0 ? null : voted, commit: dv.getFloat64(17) },
      };
    }
    case RecordType.ENTRY: {
      if (body.length < 18) return null;
      const kind = dv.getUint8(17);
      if (kind !== 0 && kind !== 1) return null;
      return {
        type: RecordType.ENTRY,
        entry: {
          index: dv.getFloat64(1),
          term: dv.getFloat64(9),
          kind: kind as EntryKind,
          data: body.slice(18),
        },
      };
    }
    case RecordType.TRUNCATE:
      return body.length === 9 ? { type: RecordType.TRUNCATE, from: dv.getFloat64(1) } : null;
    case RecordType.BASE:
      return body.length === 17
        ? { type: RecordType.BASE, index: dv.getFloat64(1), term: dv.getFloat64(9) }
        : null;
    default:
      return null;
  }
}

/** Decode records after the magic; `validLength` is where the last good record ends. */
export function decodeRecords(buf: Uint8Array): { records: LogRecord[]; validLength: number } {
  const records: LogRecord[] = [];
  let pos = LOG_MAGIC.length;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (pos + 8 <= buf.length) {
    const len = dv.getUint32(pos);
    const crc = dv.getUint32(pos + 4);
    if (len === 0 || pos + 8 + len > buf.length) break;
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (crc32c(body) !== crc) break;
    const rec = decodeBody(body);
    if (!rec) break;
    records.push(rec);
    pos += 8 + len;
  }
  return { records, validLength: pos };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const config = new TextEncoder().encode(JSON.stringify(s.meta.config));
  const body = new Uint8Array(20 + config.length + s.data.length);
  const dv = new DataView(body.buffer);
  dv.setFloat64(0, s.meta.index);
  dv.setFloat64(8, s.meta.term);
  dv.setUint32(16, config.length);
  body.set(config, 20);
  body.set(s.data, 20 + config.length);
  const framed = frame(body);
  const out = new Uint8Array(SNAPSHOT_MAGIC.length + framed.length);
  out.set(SNAPSHOT_MAGIC, 0);
  out.set(framed, SNAPSHOT_MAGIC.length);
  return out;
}

/** Decode a snapshot file, or null when it is damaged. */
export function decodeSnapshot(buf: Uint8Array): Snapshot | null {
  const m = SNAPSHOT_MAGIC.length;
  if (buf.length < m + 8 || !hasMagic(buf, SNAPSHOT_MAGIC)) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = dv.getUint32(m);
  if (buf.length !== m + 8 + len || len < 20) return null;
  const body = buf.subarray(m + 8);
  if (crc32c(body) !== dv.getUint32(m + 4)) return null;
  const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const clen = bv.getUint32(16);
  if (20 + clen > body.length) return null;
  const config = JSON.parse(new TextDecoder().decode(body.subarray(20, 20 + clen))) as ClusterConfig;
  return {
    meta: { index: bv.getFloat64(0), term: bv.getFloat64(8), config },
    data: body.slice(20 + clen),
  };
}

export function hasMagic(buf: Uint8Array, magic: Uint8Array): boolean {
  if (buf.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (buf[i] !== magic[i]) return false;
  return true;
}
