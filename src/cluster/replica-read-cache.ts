/**
 * A leader's last log read for a follower fetch, kept for the other
 * followers (used by replica-manager.ts). With RF=3 both followers usually
 * ask for the same range right after the same append: the second fetch is
 * served from the first one's bytes instead of a second read of the log.
 *
 * An entry is dropped once every other follower has used it, when a read
 * replaces it, or after MAX_AGE_MS (sweep), so memory stays bounded by one
 * recent fetch per partition. It is used only while it still describes the
 * log: the offset is within what it holds, at or above the log start, and
 * either the log end has not moved since or the read was cut by maxBytes.
 * A leader never truncates its log while it leads; the replica manager
 * forgets a partition's entry whenever its role or epoch changes.
 */
import type { Partition } from "../broker/partition.ts";
import { batchSizeAt, readBatchHeader } from "../log/record-batch.ts";

const MAX_AGE_MS = 1_000;

interface Entry {
  /** The offset the read was asked for; `bytes` holds every batch from the one containing it. */
  start: number;
  /** Offset after the last record in `bytes`. */
  next: number;
  bytes: Uint8Array;
  /** The log end the read was bounded by. */
  logEnd: number;
  /** Other followers that may still use it. */
  readers: number;
  at: number;
}

export interface SharedReadRequest {
  offset: number;
  maxBytes: number;
  /** Read below this offset (the log end when the fetch started). */
  end: number;
  /** How many followers fetch this partition (the entry is kept for the others). */
  followers: number;
  now: number;
}

export class ReplicaReadCache {
  private readonly entries = new Map<Partition, Entry>();

  /** Whole batches from the one containing `offset`, up to `end` and about `maxBytes` (at least one batch). */
  async read(p: Partition, r: SharedReadRequest): Promise<Uint8Array> {
    const hit = this.lookup(p, r);
    if (hit) return hit;
    const read = await p.log.read(r.offset, r.maxBytes, { maxOffset: r.end, minOneBatch: true });
    if (r.followers > 1 && read.batchCount > 0) {
      this.entries.set(p, {
        start: r.offset,
        next: read.nextOffset,
        bytes: read.bytes,
        logEnd: r.end,
        readers: r.followers - 1,
        at: r.now,
      });
    }
    return read.bytes;
  }

  forget(p: Partition): void {
    this.entries.delete(p);
  }

  /** Drop entries older than MAX_AGE_MS (a follower that never came back for one). */
  sweep(now: number): void {
    for (const [p, e] of this.entries) if (now - e.at > MAX_AGE_MS) this.entries.delete(p);
  }

  get size(): number {
    return this.entries.size;
  }

  private lookup(p: Partition, r: SharedReadRequest): Uint8Array | null {
    const e = this.entries.get(p);
    if (!e) return null;
    const usable =
      r.offset >= e.start &&
      r.offset < e.next &&
      r.offset >= p.tracker.logStartOffset &&
      (e.logEnd === r.end || e.next < e.logEnd);
    if (!usable) return null;
    const bytes = e.bytes;
    let pos = 0;
    // Skip to the batch containing the offset.
    while (pos < bytes.length) {
      const h = readBatchHeader(bytes, pos);
      if (h.baseOffset + h.lastOffsetDelta >= r.offset) break;
      pos += batchSizeAt(bytes, pos);
    }
    // Whole batches within maxBytes (at least one), as the log's read would.
    let stop = pos;
    while (stop < bytes.length) {
      const size = batchSizeAt(bytes, stop);
      if (stop > pos && stop + size - pos > r.maxBytes) break;
      stop += size;
    }
    if (--e.readers <= 0) this.entries.delete(p);
    return stop > pos ? bytes.subarray(pos, stop) : null;
  }
}
