/**
 * A shared, decoded window over the recent records of each MQTT-visible stream
 * partition, so that N followers (sessions, shared groups) reading the same
 * offsets cost one read and one decode, not N. Each window is a contiguous
 * offset range [start, end) whose records have been read (with readRecords:
 * committed records only) and turned into MQTT messages (null for records
 * that are not MQTT-visible), or filled in by the bridge's own appends. Reading at `end` extends it (one read in flight
 * per partition; concurrent readers wait for it); a follower behind `start`
 * reads past the window on its own (no caching: a catching-up session must
 * not evict what live followers share). The window keeps at most `maxEntries`
 * committed messages, dropping the oldest ones down to half when full (not yet
 * committed ones, see below, do not count), and trim() releases what no
 * connected reader needs any more (entries before the slowest reader inside
 * the window; the whole window when no reader is inside it: subscribers left,
 * fell behind it or are all offline). Followers holding an older slice keep
 * using it safely (eviction and trim replace the array, appends only add to
 * its end).
 *
 * Messages in the window are shared between followers: treat them as
 * immutable (the encoded-PUBLISH caches in publish-encoder.ts are the only
 * thing added to them).
 *
 * Append-side fill: the MQTT bridge's own batches enter the window as they
 * are appended (fill(): the inbound messages themselves, no read back and no
 * decode). They may be ahead of the high watermark: a read never hands out
 * anything at or past the partition's last stable offset (committed, and no
 * open transaction before it). A batch that does not join the window's end
 * (another frontend appended in between, or a log read is in flight) waits
 * in `ahead` until a log read reaches its base offset, then joins. A change of
 * leader epoch or a log shorter than the window (truncated, or the topic
 * recreated) starts the window over. A reader at the window's end while a
 * batch of ours is being appended (expectFill) does not read the log: the
 * fill is about to bring those records (with the "write" and "memory"
 * policies they are visible before the append returns), and fill() reports
 * that a reader waited so the bridge wakes the followers again.
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

interface AheadBatch {
  base: number;
  end: number;
  entries: WindowEntry[];
}

interface PartitionWindow {
  entries: WindowEntry[];
  start: number;
  /** Every offset in [start, end) is covered (entries may skip offsets); end may pass the high watermark (fill). */
  end: number;
  loading: Promise<void> | null;
  /** Appended batches past `end`, in offset order, waiting to join. */
  ahead: AheadBatch[];
  aheadEntries: number;
  /** The leader epoch the window was built under. */
  epoch: number;
  /** Appends of ours under way (expectFill), and whether a reader waited for them. */
  pendingFills: number;
  fillWaited: boolean;
}

/** What fill() takes: one appended batch (produce-batcher.ts's AppendedHook argument). */
export interface AppendedBatch {
  topic: string;
  partition: number;
  baseOffset: number;
  logAppendTime: number;
  items: ReadonlyArray<{ msg: MqttMessage | null }>;
}

export interface MessageWindowOptions {
  /** Most committed messages kept per partition (not yet committed ones come on top). Default 32768. */
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
    this.maxEntries = opts.maxEntries ?? 32768;
    this.readBytes = opts.readBytes ?? 256 * 1024;
  }

  /** Messages from `offset` on. Throws what readRecords throws (OFFSET_OUT_OF_RANGE, TOPIC_NOT_FOUND). */
  async read(topic: string, partition: number, offset: number): Promise<WindowSlice> {
    const key = partitionKey(topic, partition);
    let w = this.windows.get(key);
    if (!w) {
      const epoch = this.broker.partitionState(topic, partition).leaderEpoch;
      w = {
        entries: [],
        start: offset,
        end: offset,
        loading: null,
        ahead: [],
        aheadEntries: 0,
        epoch,
        pendingFills: 0,
        fillWaited: false,
      };
      this.windows.set(key, w);
    }
    for (;;) {
      const state = this.broker.partitionState(topic, partition);
      if (state.logEndOffset < w.end || state.leaderEpoch !== w.epoch) {
        // The log is shorter than what we hold (truncated, or the topic deleted and created again),
        // or leadership changed (what we filled may be truncated): start over.
        restart(w, offset, state.leaderEpoch);
      }
      const visible = state.lastStableOffset;
      if (offset >= visible) return { entries: EMPTY, index: 0, end: offset, highWatermark: visible };
      if (offset >= w.start && offset < w.end) return this.slice(w, offset, visible);
      if (w.loading) {
        await w.loading;
        continue;
      }
      if (w.entries.length > 0 && offset < w.start) return this.readAround(topic, partition, offset);
      if (offset > w.end || (w.entries.length === 0 && offset !== w.end)) {
        // Nothing shared worth keeping before `offset`: restart the window there (batches appended
        // after it stay ahead).
        w.entries = [];
        w.start = offset;
        w.end = offset;
        this.join(w, visible);
        if (offset < w.end) continue;
      }
      if (w.pendingFills > 0 && offset === w.end) {
        // Our append in progress brings the next records: wait for fill() instead of reading the log.
        w.fillWaited = true;
        return { entries: EMPTY, index: 0, end: offset, highWatermark: offset };
      }
      const loading = this.extend(w, topic, partition);
      w.loading = loading;
      try {
        await loading;
      } finally {
        w.loading = null;
      }
      if (w.end <= offset) {
        const limit = this.broker.partitionState(topic, partition).lastStableOffset;
        return { entries: EMPTY, index: 0, end: offset, highWatermark: limit };
      }
    }
  }

  /**
   * A batch the bridge just appended (not yet committed): its messages join
   * the partition's window if one is open (someone reads the partition here),
   * at its end or, when not contiguous, ahead of it.
   */
  /** One of our appends to topic-partition starts; fill() ends it. */
  expectFill(topic: string, partition: number): void {
    const w = this.windows.get(partitionKey(topic, partition));
    if (w !== undefined) w.pendingFills++;
  }

  /**
   * The end of an append announced by expectFill (baseOffset -1: it failed).
   * Returns true when a reader waited for it: wake the partition's followers.
   */
  fill(batch: AppendedBatch): boolean {
    const w = this.windows.get(partitionKey(batch.topic, batch.partition));
    if (w === undefined) return false;
    if (w.pendingFills > 0) w.pendingFills--;
    const waited = w.fillWaited && w.pendingFills === 0;
    if (waited) w.fillWaited = false;
    this.add(w, batch);
    return waited;
  }

  private add(w: PartitionWindow, batch: AppendedBatch): void {
    const items = batch.items;
    const n = items.length;
    const base = batch.baseOffset;
    if (n === 0 || base < w.end) return;
    const entries: WindowEntry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const msg = items[i]!.msg;
      if (msg === null) return; // a record we hold no message for: the log read covers it
      if (batch.logAppendTime >= 0) msg.timestamp = batch.logAppendTime;
      entries[i] = { offset: base + i, msg };
    }
    if (base === w.end && w.loading === null && w.ahead.length === 0) {
      this.push(w, entries, this.visible(batch.topic, batch.partition));
      w.end = base + n;
      return;
    }
    const last = w.ahead.at(-1);
    if (last !== undefined && last.end === base) {
      for (const e of entries) last.entries.push(e);
      last.end = base + n;
    } else w.ahead.push({ base, end: base + n, entries });
    w.aheadEntries += n;
    while (w.aheadEntries > this.maxEntries && w.ahead.length > 1) {
      w.aheadEntries -= w.ahead.shift()!.entries.length; // the log read covers what is dropped
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

  /** Entries up to `visible` (the last stable offset): readers stop at `end`. */
  private slice(w: PartitionWindow, offset: number, visible: number): WindowSlice {
    const entries = w.entries;
    const index = lowerBound(entries, offset);
    return { entries, index, end: Math.min(w.end, visible), highWatermark: visible };
  }

  /**
   * Add entries at the end. Past `maxEntries` committed entries (below
   * `visible`), the oldest committed ones go until half remain; entries not
   * yet committed never count (their number is bounded by the inbound flow
   * control, and live readers are about to need them).
   */
  private push(w: PartitionWindow, add: readonly WindowEntry[], visible: number): void {
    let entries = w.entries;
    if (entries.length + add.length > this.maxEntries) {
      const committed = lowerBound(entries, visible);
      if (committed > this.maxEntries >> 1 && committed + add.length > this.maxEntries) {
        entries = entries.slice(committed - (this.maxEntries >> 1));
        w.start = entries[0]!.offset;
      }
    }
    for (const e of add) entries.push(e);
    w.entries = entries;
  }

  private visible(topic: string, partition: number): number {
    return this.broker.partitionState(topic, partition).lastStableOffset;
  }

  /** Join the batches ahead that now continue the window (drop the ones it already passed). */
  private join(w: PartitionWindow, visible: number): void {
    while (w.ahead.length > 0) {
      const a = w.ahead[0]!;
      if (a.base > w.end) return;
      w.ahead.shift();
      w.aheadEntries -= a.entries.length;
      if (a.end <= w.end) continue;
      const from = a.base === w.end ? a.entries : a.entries.filter((e) => e.offset >= w.end);
      this.push(w, from, visible);
      w.end = a.end;
    }
  }

  private async extend(w: PartitionWindow, topic: string, partition: number): Promise<void> {
    const visible = this.visible(topic, partition);
    this.join(w, visible);
    const from = w.end;
    if (from >= visible) return;
    const stopAt = w.ahead.length > 0 ? w.ahead[0]!.base : Number.POSITIVE_INFINITY;
    const res = await this.broker.readRecords({
      topic,
      partition,
      offset: from,
      maxRecords: Math.max(1, Math.min(100_000, stopAt - from)),
      maxBytes: this.readBytes,
      // Devices see committed records only: never an open or aborted transaction's.
      isolation: "read_committed",
    });
    if (w.end !== from) return; // restarted meanwhile
    // Stop where a batch we appended ourselves begins: it joins as it is.
    const stop = w.ahead.length > 0 ? w.ahead[0]!.base : Number.POSITIVE_INFINITY;
    const next = Math.min(Math.max(res.nextOffset, from), Math.max(stop, from));
    if (next === from && res.records.length === 0) return;
    const add: WindowEntry[] = [];
    for (const record of res.records) {
      if (record.offset < from) continue;
      if (record.offset >= next) break;
      add.push({ offset: record.offset, msg: recordToMessage(record, topic, this.mapping) });
    }
    const now = this.visible(topic, partition);
    this.push(w, add, now);
    w.end = next;
    this.join(w, now);
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

function restart(w: PartitionWindow, offset: number, epoch: number): void {
  w.entries = [];
  w.start = offset;
  w.end = offset;
  w.ahead = [];
  w.aheadEntries = 0;
  w.epoch = epoch;
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
