/**
 * Appends MQTT messages to stream topics in batches, pipelined. Messages
 * queued while a round of appends runs go together into the next round, in
 * submission order, so a client's messages keep their order [MQTT-4.6.0-5].
 *
 * A round places its records on partitions as the broker's produce would
 * (Kafka murmur2 of the key; keyless records sticky per round), encodes one
 * RecordBatch v2 per partition itself (record-encoder.ts: no RecordInput or
 * header objects per plain message) and appends it with
 * BrokerApi.appendBatch (acks=0, `trusted`: the CRC was just computed), so
 * appending never waits for durability. Each appended batch then waits for
 * the partition's high watermark to pass its last offset (the group commit
 * under the topic's durability policy: fsync by default), told by
 * `committed()` from the bridge's broker.onAppend listener — many publishers
 * and many rounds share one fsync. `done(null)` is called once the record is
 * durable (committed), round after round in submission order; `done(err)`
 * with the broker's error, or TIMEOUT when durability did not come within the
 * produce timeout.
 *
 * `onAppended` sees every appended batch with its base offset and messages
 * (the bridge fills the shared delivery window with them: message-window.ts).
 *
 * Cluster mode: a partition this node does not lead (appendBatch answers
 * NOT_LEADER) goes through broker.produce with acks=all for that batch, which
 * forwards it to the leader and resolves once committed there.
 */
import {
  type BrokerApi,
  EddyError,
  ErrorCode,
  isEddyError,
  type RecordInput,
} from "../../src/broker/index.ts";
import type { Clock } from "../../src/util/clock.ts";
import { kafkaPartition } from "../../src/util/murmur2.ts";
import { messageToRecord, type MqttMessage } from "./message.ts";
import { type EncodeItem, encodeItems } from "./record-encoder.ts";

/** Called once: null when the record is durable, else the error. */
export type StoreDone = (err: unknown) => void;

/**
 * Sees each batch appended: its base offset and its items (a null `msg` for a
 * ready-made record); baseOffset -1 (and no items) when the append failed.
 */
export type AppendedHook = (batch: {
  topic: string;
  partition: number;
  baseOffset: number;
  logAppendTime: number;
  items: readonly EncodeItem[];
}) => void;

interface Pending extends EncodeItem {
  done: StoreDone;
  error: unknown;
}

/** The batches of one drain: settled together once every part is committed, rounds in order. */
interface Round {
  items: Pending[];
  /** Partition parts not yet committed (or failed). */
  parts: number;
}

interface Wait {
  end: number;
  round: Round;
  /** The part's records (they get TIMEOUT when the commit does not come). */
  items: Pending[];
  deadline: number;
}

interface TopicQueue {
  topic: string;
  waiting: Pending[];
  busy: boolean;
  rounds: Round[];
  /** Appended batches waiting for the high watermark, per partition, in offset order. */
  waits: Map<number, Wait[]>;
  /** Partition count (0 = not known yet) and max.message.bytes, refreshed every REFRESH_MS. */
  partitions: number;
  maxBytes: number;
  refreshedAt: number;
  refreshing: Promise<void> | null;
  sticky: number;
}

export interface ProduceBatcherOptions {
  /** How long an appended record may wait for durability (ms) before its sender gets TIMEOUT. */
  timeoutMs: number;
  clock: Clock;
  /** Called right before each append to topic-partition; onAppended follows it. */
  onAppending?: (topic: string, partition: number) => void;
  onAppended?: AppendedHook;
}

/** Most records in one round. */
const MAX_ROUND = 4096;
/** How often the partition count and max.message.bytes of a topic are read again (ms). */
const REFRESH_MS = 1000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
/** Size of a reusable encoding buffer, and how many are kept. */
const BUFFER_SIZE = 1024 * 1024;
const MAX_BUFFERS = 8;

export class ProduceBatcher {
  private readonly queues = new Map<string, TopicQueue>();
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly onAppending: ((topic: string, partition: number) => void) | undefined;
  private readonly onAppended: AppendedHook | undefined;
  private expiryTimer: ReturnType<typeof setInterval> | null = null;
  private waitCount = 0;
  /**
   * Encoding buffers free for reuse: a batch is copied by the log, so its
   * buffer is free again once appendBatch settled (a flood would otherwise
   * allocate ~200 MB/s of batches for the garbage collector).
   */
  private readonly buffers: Uint8Array[] = [];

  constructor(
    private readonly broker: BrokerApi,
    opts: ProduceBatcherOptions,
  ) {
    this.timeoutMs = opts.timeoutMs;
    this.clock = opts.clock;
    this.onAppending = opts.onAppending;
    this.onAppended = opts.onAppended;
  }

  /** Queue one ready-made record; resolves once it is durable under the topic's policy. */
  submit(topic: string, record: RecordInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.add(topic, {
        msg: null,
        key: null,
        record,
        done: (err) => (err === null ? resolve() : reject(err)),
        error: null,
      });
    });
  }

  /** Queue one message with its record key; `done(null)` once it is durable, `done(err)` if it failed. */
  enqueue(topic: string, msg: MqttMessage, key: Uint8Array | null, done: StoreDone): void {
    this.add(topic, { msg, key, record: null, done, error: null });
  }

  /** The high watermark of topic-partition reached `highWatermark` (from broker.onAppend). */
  committed(topic: string, partition: number, highWatermark: number): void {
    const q = this.queues.get(topic);
    if (q === undefined) return;
    if (partition >= q.partitions && q.partitions > 0) q.refreshedAt = Number.NEGATIVE_INFINITY; // grown
    const waits = q.waits.get(partition);
    if (waits === undefined || waits.length === 0 || waits[0]!.end > highWatermark) return;
    let i = 0;
    while (i < waits.length && waits[i]!.end <= highWatermark) waits[i++]!.round.parts--;
    waits.splice(0, i);
    this.waitCount -= i;
    this.settle(q);
  }

  /** Stop the timeout sweep (the bridge is closing). */
  close(): void {
    if (this.expiryTimer !== null) clearInterval(this.expiryTimer);
    this.expiryTimer = null;
  }

  private add(topic: string, p: Pending): void {
    let q = this.queues.get(topic);
    if (q === undefined) {
      q = {
        topic,
        waiting: [],
        busy: false,
        rounds: [],
        waits: new Map(),
        partitions: 0,
        maxBytes: DEFAULT_MAX_BYTES,
        refreshedAt: Number.NEGATIVE_INFINITY,
        refreshing: null,
        sticky: 0,
      };
      this.queues.set(topic, q);
    }
    q.waiting.push(p);
    if (!q.busy) {
      q.busy = true;
      const queue = q;
      queueMicrotask(() => void this.drain(queue));
    }
  }

  private async drain(q: TopicQueue): Promise<void> {
    try {
      while (q.waiting.length > 0) {
        if (q.partitions === 0) await this.refresh(q).catch(() => undefined);
        else if (this.clock.monotonic() - q.refreshedAt > REFRESH_MS)
          void this.refresh(q).catch(() => undefined);
        const items = q.waiting.length <= MAX_ROUND ? q.waiting : q.waiting.slice(0, MAX_ROUND);
        q.waiting = items === q.waiting ? [] : q.waiting.slice(MAX_ROUND);
        const round: Round = { items, parts: 0 };
        q.rounds.push(round);
        if (q.partitions === 0) {
          // The topic could not be described (deleted, auto-create off): produce reports why.
          round.parts = 1;
          await this.produceFallback(q, round, items, undefined);
          continue;
        }
        if (q.partitions === 1) {
          round.parts = 1;
          await this.appendPart(q, round, 0, items);
          continue;
        }
        const parts = this.place(q, items);
        round.parts = parts.size;
        const appends: Array<Promise<void>> = [];
        for (const [partition, list] of parts) appends.push(this.appendPart(q, round, partition, list));
        await Promise.all(appends);
      }
    } finally {
      q.busy = false;
    }
  }

  /** Records by partition, in submission order: murmur2 of the key; keyless records sticky for the round. */
  private place(q: TopicQueue, items: Pending[]): Map<number, Pending[]> {
    const n = q.partitions;
    const parts = new Map<number, Pending[]>();
    if (n === 1) {
      parts.set(0, items);
      return parts;
    }
    let keyless = -1;
    for (const it of items) {
      const key = it.msg !== null ? it.key : (it.record!.key ?? null);
      let p: number;
      if (key !== null) p = kafkaPartition(key, n);
      else {
        if (keyless < 0) {
          keyless = q.sticky % n;
          q.sticky = (q.sticky + 1) % n;
        }
        p = keyless;
      }
      const list = parts.get(p);
      if (list) list.push(it);
      else parts.set(p, [it]);
    }
    return parts;
  }

  /** Append one partition's records (split to fit max.message.bytes) and wait for their commit. */
  private async appendPart(q: TopicQueue, round: Round, partition: number, items: Pending[]): Promise<void> {
    const now = this.clock.now();
    const buffer = this.buffers.pop() ?? new Uint8Array(BUFFER_SIZE);
    let end = -1;
    // Usually the round fits one batch: no chunk list then.
    const whole = encodeItems(items, 0, items.length, now, buffer);
    if (whole.length <= q.maxBytes) end = await this.appendChunk(q, partition, whole, items);
    else {
      for (const chunk of this.encodeChunks(q, items, now, buffer)) {
        if (chunk.bytes === null) continue;
        const chunkEnd = await this.appendChunk(q, partition, chunk.bytes, chunk.items);
        if (chunkEnd >= 0) end = chunkEnd;
      }
    }
    if (this.buffers.length < MAX_BUFFERS) this.buffers.push(buffer); // appendBatch copied what it kept
    if (end < 0 || this.highWatermark(q.topic, partition) >= end) {
      round.parts--;
      this.settle(q);
      return;
    }
    let waits = q.waits.get(partition);
    if (waits === undefined) {
      waits = [];
      q.waits.set(partition, waits);
    }
    waits.push({ end, round, items, deadline: this.clock.monotonic() + this.timeoutMs });
    this.waitCount++;
    this.armExpiry();
  }

  /**
   * Append one encoded batch with acks=0 and tell onAppended. Returns the
   * offset after it, or -1 when it went elsewhere (forwarded to the leader)
   * or failed (the error is on its items).
   */
  private async appendChunk(
    q: TopicQueue,
    partition: number,
    batch: Uint8Array,
    items: Pending[],
  ): Promise<number> {
    this.onAppending?.(q.topic, partition);
    try {
      const res = await this.broker.appendBatch({ topic: q.topic, partition, batch, acks: 0, trusted: true });
      this.onAppended?.({
        topic: q.topic,
        partition,
        baseOffset: res.baseOffset,
        logAppendTime: res.logAppendTime,
        items,
      });
      return res.lastOffset + 1;
    } catch (err) {
      this.onAppended?.({ topic: q.topic, partition, baseOffset: -1, logAppendTime: -1, items: [] });
      if (isEddyError(err) && err.code === ErrorCode.NOT_LEADER) {
        await this.produceFallback(q, null, items, partition);
        return -1;
      }
      if (
        isEddyError(err) &&
        (err.code === ErrorCode.TOPIC_NOT_FOUND || err.code === ErrorCode.PARTITION_NOT_FOUND)
      ) {
        q.partitions = 0;
      }
      for (const it of items) it.error = err;
      return -1;
    }
  }

  /** Encoded batches of at most max.message.bytes; a record too large alone gets RECORD_TOO_LARGE. */
  private encodeChunks(
    q: TopicQueue,
    items: Pending[],
    now: number,
    buffer: Uint8Array,
  ): Array<{ bytes: Uint8Array | null; items: Pending[] }> {
    const out: Array<{ bytes: Uint8Array | null; items: Pending[] }> = [];
    const split = (list: Pending[]) => {
      // The first batch may use the reusable buffer; later ones (rare: a split) get their own.
      const bytes = encodeItems(list, 0, list.length, now, out.length === 0 ? buffer : undefined);
      if (bytes.length <= q.maxBytes) out.push({ bytes, items: list });
      else if (list.length === 1) {
        list[0]!.error = new EddyError(
          ErrorCode.RECORD_TOO_LARGE,
          `a record of ${bytes.length} bytes (as a batch) is over topic '${q.topic}' max.message.bytes=${q.maxBytes}: publish a smaller message or raise max.message.bytes`,
          { topic: q.topic, size: bytes.length, limit: q.maxBytes },
        );
        out.push({ bytes: null, items: list });
      } else {
        const half = Math.ceil(list.length / 2);
        split(list.slice(0, half));
        split(list.slice(half));
      }
    };
    split(items);
    return out;
  }

  /**
   * broker.produce for records this path cannot append itself (no leader
   * here, topic unknown): acks=all, resolved once committed. `round` null:
   * the caller's part accounting covers it.
   */
  private async produceFallback(
    q: TopicQueue,
    round: Round | null,
    items: Pending[],
    partition: number | undefined,
  ): Promise<void> {
    try {
      await this.broker.produce({
        topic: q.topic,
        ...(partition === undefined ? {} : { partition }),
        records: items.map((it) => it.record ?? messageToRecord(it.msg!, it.key)),
        acks: -1,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      for (const it of items) it.error = err;
    }
    if (round !== null) {
      round.parts--;
      this.settle(q);
    }
  }

  /** Call the dones of every round at the head whose parts are all committed (or failed). */
  private settle(q: TopicQueue): void {
    while (q.rounds.length > 0 && q.rounds[0]!.parts === 0) {
      const round = q.rounds.shift()!;
      for (const it of round.items) {
        try {
          it.done(it.error ?? null);
        } catch {
          // a sender's callback must not stop the others
        }
      }
    }
  }

  private highWatermark(topic: string, partition: number): number {
    try {
      return this.broker.partitionState(topic, partition).highWatermark;
    } catch {
      return -1;
    }
  }

  private refresh(q: TopicQueue): Promise<void> {
    q.refreshing ??= (async () => {
      try {
        await this.broker.ensureTopic(q.topic);
        const d = await this.broker.describeTopic(q.topic);
        q.partitions = d.partitions.length;
        q.maxBytes = d.configs["max.message.bytes"] ?? DEFAULT_MAX_BYTES;
        q.refreshedAt = this.clock.monotonic();
      } catch (err) {
        q.partitions = 0;
        throw err;
      } finally {
        q.refreshing = null;
      }
    })();
    return q.refreshing;
  }

  /** While batches wait for durability, fail the ones past the produce timeout. */
  private armExpiry(): void {
    if (this.expiryTimer !== null) return;
    const every = Math.max(10, Math.min(1000, this.timeoutMs >> 2));
    this.expiryTimer = setInterval(() => this.expire(), every);
    this.expiryTimer.unref?.();
  }

  private expire(): void {
    const now = this.clock.monotonic();
    for (const q of this.queues.values()) {
      let failed = false;
      for (const [partition, waits] of q.waits) {
        let i = 0;
        while (i < waits.length && waits[i]!.deadline <= now) {
          const w = waits[i++]!;
          const err = new EddyError(
            ErrorCode.TIMEOUT,
            `records on ${q.topic}-${partition} not durable within ${this.timeoutMs} ms: check the disk, or raise the produce timeout`,
          );
          for (const it of w.items) it.error ??= err;
          w.round.parts--;
          failed = true;
        }
        if (i > 0) {
          waits.splice(0, i);
          this.waitCount -= i;
        }
      }
      if (failed) this.settle(q);
    }
    if (this.waitCount === 0 && this.expiryTimer !== null) {
      clearInterval(this.expiryTimer);
      this.expiryTimer = null;
    }
  }
}
