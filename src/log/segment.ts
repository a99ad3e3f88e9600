/**
 * One segment: a .log file of back-to-back RecordBatch v2 bytes plus its
 * sparse offset and time indexes. Writes are positional (fs.writeSync at
 * `size`), reads are positional readSync calls; no per-record decoding.
 */
import fs from "node:fs";
import { INDEX_SUFFIX, segmentFileName, TIME_INDEX_SUFFIX } from "./format.ts";
import { type LogIo, readFully, writeFully } from "./io.ts";
import { OffsetIndex } from "./offset-index.ts";
import { BATCH_HEADER_SIZE, BATCH_LOG_OVERHEAD, BatchField } from "./record-batch.ts";
import { TimeIndex } from "./time-index.ts";

const TWO_32 = 4294967296;
const MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD;
const WALK_CHUNK = 16 * 1024;

export function i32(b: Uint8Array, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}
export function i64(b: Uint8Array, p: number): number {
  return i32(b, p) * TWO_32 + (i32(b, p + 4) >>> 0);
}

/** The header fields the storage engine needs, parsed without allocating a BatchHeader. */
export interface BatchRef {
  pos: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

/** Read the BatchRef at `p` of an in-memory buffer, or null if no whole sane header is there. */
export function batchRefAt(b: Uint8Array, p: number, end: number, filePos: number): BatchRef | null {
  if (end - p < BATCH_HEADER_SIZE) return null;
  const len = i32(b, p + BatchField.BATCH_LENGTH);
  if (len < MIN_BATCH_LENGTH) return null;
  const baseOffset = i64(b, p);
  return {
    pos: filePos,
    size: len + BATCH_LOG_OVERHEAD,
    baseOffset,
    lastOffset: baseOffset + i32(b, p + BatchField.LAST_OFFSET_DELTA),
    maxTimestamp: i64(b, p + BatchField.MAX_TIMESTAMP),
  };
}

/** Scratch buffer for header walks (single-threaded: reused across calls). */
const walkBuf = Buffer.allocUnsafeSlow(WALK_CHUNK);

export class Segment {
  size = 0;
  /** Offset after the last batch (the base offset when empty). */
  nextOffset: number;
  /** Largest batch maxTimestamp in the segment (-1 if none) and the base offset of that batch. */
  maxTimestamp = -1;
  offsetOfMaxTimestamp = -1;
  /** maxTimestamp of the first batch (roll by age), -1 when empty. */
  firstBatchTimestamp = -1;
  /** Bytes appended since the last offset-index entry. */
  bytesSinceIndex = 0;
  /** Written bytes not yet fdatasync'd. */
  unsynced = false;
  /** The fdatasync in flight on this fd, if any (close waits for it). */
  syncing: Promise<void> | null = null;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  readonly logPath: string;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    public fd: number,
    private readonly io: LogIo,
  ) {
    this.nextOffset = baseOffset;
    this.logPath = `${dir}/${segmentFileName(baseOffset)}`;
    this.offsetIndex = new OffsetIndex(`${dir}/${segmentFileName(baseOffset, INDEX_SUFFIX)}`, baseOffset);
    this.timeIndex = new TimeIndex(`${dir}/${segmentFileName(baseOffset, TIME_INDEX_SUFFIX)}`, baseOffset);
  }

  /** A new, empty segment (replaces any leftover files of the same name). */
  static create(dir: string, baseOffset: number, io: LogIo): Segment {
    const fd = fs.openSync(`${dir}/${segmentFileName(baseOffset)}`, "w+");
    const seg = new Segment(dir, baseOffset, fd, io);
    seg.offsetIndex.remove();
    seg.timeIndex.remove();
    return seg;
  }

  /** Open an existing .log file; indexes and offsets are set up by recovery. */
  static open(dir: string, baseOffset: number, io: LogIo): Segment {
    const fd = fs.openSync(`${dir}/${segmentFileName(baseOffset)}`, "r+");
    const seg = new Segment(dir, baseOffset, fd, io);
    seg.size = fs.fstatSync(fd).size;
    return seg;
  }

  /**
   * Append one batch's bytes at the end. On failure the file is cut back to
   * its previous size and the error rethrown; the segment is unchanged.
   */
  append(buf: Uint8Array, len: number, ref: BatchRef, indexIntervalBytes: number): void {
    const pos = this.size;
    try {
      writeFully(this.io, this.fd, buf, 0, len, pos);
    } catch (err) {
      try {
        fs.ftruncateSync(this.fd, pos);
      } catch {
        // the size we track is still right; recovery cuts any tail on the next open
      }
      throw err;
    }
    ref.pos = pos;
    this.noteBatch(ref, indexIntervalBytes);
    this.size = pos + len;
  }

  /**
   * Append a run of whole batches, buf[0, len), with one write; `refs` give
   * each batch with its pos relative to the run (set to its file position
   * here). On failure the file is cut back and the segment is unchanged.
   */
  appendRun(buf: Uint8Array, len: number, refs: readonly BatchRef[], indexIntervalBytes: number): void {
    const pos = this.size;
    try {
      writeFully(this.io, this.fd, buf, 0, len, pos);
    } catch (err) {
      try {
        fs.ftruncateSync(this.fd, pos);
      } catch {
        // the size we track is still right; recovery cuts any tail on the next open
      }
      throw err;
    }
    for (const ref of refs) {
      ref.pos += pos;
      this.noteBatch(ref, indexIntervalBytes);
    }
    this.size = pos + len;
  }

  /** Account for a batch at ref.pos (append, or recovery/rebuild walking the file). */
  noteBatch(ref: BatchRef, indexIntervalBytes: number): void {
    if (this.bytesSinceIndex > indexIntervalBytes) {
      this.offsetIndex.append(ref.baseOffset, ref.pos);
      if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceIndex = 0;
    }
    this.bytesSinceIndex += ref.size;
    if (this.firstBatchTimestamp < 0 && ref.pos === 0) this.firstBatchTimestamp = ref.maxTimestamp;
    if (ref.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = ref.maxTimestamp;
      this.offsetOfMaxTimestamp = ref.baseOffset;
    }
    this.nextOffset = ref.lastOffset + 1;
  }

  /** Reset derived state before rebuilding it from the file. */
  resetIndexes(): void {
    this.offsetIndex.clear();
    this.timeIndex.clear();
    this.bytesSinceIndex = 0;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    this.firstBatchTimestamp = -1;
    this.nextOffset = this.baseOffset;
  }

  /**
   * Walk batch headers from file position `from` (no CRC checks). `visit`
   * returns false to stop. Returns the position where the walk ended (the end
   * of the last whole, sane batch visited, or where `visit` stopped).
   */
  walk(from: number, visit: (ref: BatchRef) => boolean, limit = this.size): number {
    let pos = from;
    let chunkStart = 0;
    let chunkEnd = 0;
    while (limit - pos >= BATCH_HEADER_SIZE) {
      if (pos < chunkStart || pos + BATCH_HEADER_SIZE > chunkEnd) {
        chunkStart = pos;
        chunkEnd = pos + readFully(this.fd, walkBuf, Math.min(WALK_CHUNK, limit - pos), pos);
      }
      const ref = batchRefAt(walkBuf, pos - chunkStart, chunkEnd - chunkStart, pos);
      if (!ref || pos + ref.size > limit) break;
      if (!visit(ref)) return pos;
      pos += ref.size;
    }
    return pos;
  }

  /** The first batch whose lastOffset >= offset, or null if none in this segment. */
  findBatch(offset: number): BatchRef | null {
    let found: BatchRef | null = null;
    this.walk(this.offsetIndex.lookup(offset), (ref) => {
      if (ref.lastOffset >= offset) {
        found = ref;
        return false;
      }
      return true;
    });
    return found;
  }

  /** Read file bytes [pos, pos+len) into a fresh buffer. */
  readBytes(pos: number, len: number): Buffer {
    const buf = Buffer.allocUnsafeSlow(len);
    const n = readFully(this.fd, buf, len, pos);
    return n === len ? buf : buf.subarray(0, n);
  }

  /** Rebuild indexes, offsets and timestamps by walking every header (no CRC). */
  rebuild(indexIntervalBytes: number): void {
    this.resetIndexes();
    const end = this.walk(0, (ref) => {
      this.noteBatch(ref, indexIntervalBytes);
      return true;
    });
    if (end < this.size) this.truncateToPosition(end);
  }

  /** Cut the file at `pos` (a batch boundary) and drop index entries beyond it. */
  truncateToPosition(pos: number): void {
    fs.ftruncateSync(this.fd, pos);
    this.size = pos;
    this.offsetIndex.truncateToPosition(pos);
  }

  /** Persist index entries (final time-index entry included); fsync when asked. */
  persistIndexes(sync: boolean): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
    this.offsetIndex.persist(sync);
    this.timeIndex.persist(sync);
  }

  async close(): Promise<void> {
    if (this.fd < 0) return;
    while (this.syncing) await this.syncing.catch(() => {});
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Close and remove the segment's files. */
  async delete(): Promise<void> {
    await this.close();
    fs.rmSync(this.logPath, { force: true });
    this.offsetIndex.remove();
    this.timeIndex.remove();
  }
}
