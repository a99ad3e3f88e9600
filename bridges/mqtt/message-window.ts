/**
 * A shared, decoded window over the recent records of each MQTT-visible stream
 * partition, so that N followers (sessions, shared groups) reading the same
 * offsets cost one read and one decode, not N. Each window is a contiguous
 * offset range [start, end) whose records have been read (with readRecords:
 * committed records only) and turned into MQTT messages (null for records
 * that are not MQTT-visible). Reading at `end` extends it (one read in flight
 * per partition; concurrent readers wait for it); a follower behind `start`
 * reads past the window on its own (no caching: a catching-up session must
 * not evict what live followers share). The window keeps at most `maxEntries`
 * messages, dropping the oldest half when full, and trim() releases what no
 * connected reader needs any more (entries before the slowest reader inside
 * the window; the whole window when no reader is inside it: subscribers left,
 * fell behind it or are all offline). Followers holding an older slice keep
 * using it safely (eviction and trim replace the array, appends only add to
 * its end).
 *
 * Messages in the window are shared between followers: treat them as
 * immutable (the encoded-PUBLISH caches in publish-encoder.ts are the only
 * thing added to them).
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import type { TopicMapping } from "./mapping.ts";
import { type MqttMessage, recordToMessage } from "./message.ts";

export interface WindowEntry {
  offset: number;
  msg: MqttMessage | null;
}

/** What a read returns: entries[index..] are at or after the offset asked for, in offset order. */
export interface WindowSlice {
  entries: readonly WindowEntry[];
  index: number;
  /** The offset after the last record covered by this slice (entries may skip offsets). */
  end: number;
  highWatermark: number;
}

interface PartitionWindow {
  entries: WindowEntry[];
  start: number;
  end: number;
  loading: Promise<void> | null;
}

export interface MessageWindowOptions {
  /** Most decoded messages kept per partition. Default 16384. */
  maxEntries?: number;
  /** Bytes asked of readRecords per extension. Default 256 KiB. */
  readBytes?: number;
}

const EMPTY: WindowEntry[] = [];
const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class MessageWindows {
  private readonly windows = new Map<string, PartitionWindow>();
  private readonly maxEntries: number;
  private readonly readBytes: number;

  constructor(
    private readonly broker: BrokerApi,
    private readonly mapping: TopicMapping,
    opts: MessageWindowOptions = {},
  ) {
    this.maxEntries = opts.maxEntries ?? 16384;
    this.readBytes = opts.readBytes ?? 256 * 1024;
  }

  /** Messages from `offset` on. Throws what readRecords throws (OFFSET_OUT_OF_RANGE, TOPIC_NOT_FOUND). */
  async read(topic: string, partition: number, offset: number): Promise<WindowSlice> {
    const key = partitionKey(topic, partition);
    let w = this.windows.get(key);
    if (!w) {
      w = { entries: [], start: offset, end: offset, loading: null };
      this.windows.set(key, w);
    }
    for (;;) {
      if (this.highWatermark(topic, partition) < w.end) {
        // The log is shorter than what we hold (the topic was deleted and created again): start over.
        w.entries = [];
        w.start = offset;
        w.end = offset;
      }
      if (offset >= w.start && offset < w.end) return this.slice(w, offset, topic, partition);
      if (w.loading) {
        await w.loading;
        continue;
      }
      if (w.entries.length > 0 && offset < w.start) return this.readAround(topic, partition, offset);
      if (offset > w.end || w.entries.length === 0) {
        // Nothing shared worth keeping before `offset`: restart the window there.
        w.entries = [];
        w.start = offset;
        w.end = offset;
      }
      const hw = this.broker.partitionState(topic, partition).highWatermark;
      if (w.end >= hw) return { entries: EMPTY, index: 0, end: offset, highWatermark: hw };
      const loading = this.extend(w, topic, partition);
      w.loading = loading;
      try {
        await loading;
      } finally {
        w.loading = null;
      }
      if (w.end <= offset) {
        return { entries: EMPTY, index: 0, end: offset, highWatermark: this.highWatermark(topic, partition) };
      }
    }
  }

  /**
   * Release entries no reader needs. `readers` maps a partition key (as
   * log-follower.ts's partitionKey) to the next offsets of the followers
   * reading it now; readers before the window read past it on their own.
   */
  trim(readers: ReadonlyMap<string, readonly number[]>): void {
    for (const [key, w] of this.windows) {
      if (w.loading) continue;
      let low = Number.POSITIVE_INFINITY;
      for (const next of readers.get(key) ?? []) if (next >= w.start && next < low) low = next;
      if (low === Number.POSITIVE_INFINITY) {
        this.windows.delete(key);
        continue;
      }
      if (low <= w.start) continue;
      if (low >= w.end) {
        w.entries = [];
        w.start = w.end;
        continue;
      }
      const at = lowerBound(w.entries, low);
      if (at > 0) w.entries = w.entries.slice(at);
      w.start = low;
    }
  }

  /** Decoded messages held, for metrics and tests. */
  size(): { partitions: number; entries: number } {
    let entries = 0;
    for (const w of this.windows.values()) entries += w.entries.length;
    return { partitions: this.windows.size, entries };
  }

  /** Forget a partition's window (topic deleted). */
  drop(topic: string, partition: number): void {
    this.windows.delete(partitionKey(topic, partition));
  }

  private highWatermark(topic: string, partition: number): number {
    return this.broker.partitionState(topic, partition).highWatermark;
  }

  private slice(w: PartitionWindow, offset: number, topic: string, partition: number): WindowSlice {
    const entries = w.entries;
    const index = lowerBound(entries, offset);
    return { entries, index, end: w.end, highWatermark: this.highWatermark(topic, partition) };
  }

  private async extend(w: PartitionWindow, topic: string, partition: number): Promise<void> {
    const from = w.end;
    const res = await this.broker.readRecords({
      topic,
      partition,
      offset: from,
      maxRecords: 100_000,
      maxBytes: this.readBytes,
      // Devices see committed records only: never an open or aborted transaction's.
      isolation: "read_committed",
    });
    if (w.end !== from) return; // restarted meanwhile
    const next = Math.max(res.nextOffset, from);
    if (next === from && res.records.length === 0) return;
    let entries = w.entries;
    if (entries.length + res.records.length > this.maxEntries) {
      const keep = Math.min(entries.length, this.maxEntries >> 1);
      entries = entries.slice(entries.length - keep);
      w.start = entries.length > 0 ? entries[0]!.offset : from;
    }
    for (const record of res.records) {
      if (record.offset < from) continue;
      entries.push({ offset: record.offset, msg: recordToMessage(record, topic, this.mapping) });
    }
    w.entries = entries;
    w.end = next;
  }

  /** A read outside the shared window (a follower catching up): decoded for this caller only. */
  private async readAround(topic: string, partition: number, offset: number): Promise<WindowSlice> {
    const res = await this.broker.readRecords({
      topic,
      partition,
      offset,
      maxRecords: 100_000,
      maxBytes: this.readBytes,
      // Devices see committed records only: never an open or aborted transaction's.
      isolation: "read_committed",
    });
    const entries: WindowEntry[] = [];
    for (const record of res.records) {
      if (record.offset < offset) continue;
      entries.push({ offset: record.offset, msg: recordToMessage(record, topic, this.mapping) });
    }
    return { entries, index: 0, end: Math.max(res.nextOffset, offset), highWatermark: res.highWatermark };
  }
}

/** Index of the first entry at or after `offset`. */
function lowerBound(entries: readonly WindowEntry[], offset: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
