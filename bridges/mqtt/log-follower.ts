/**
 * Follows stream partitions for one consumer (a session or a shared group):
 * one cursor per partition, reading through the shared MessageWindows
 * (message-window.ts: one read and decode per record for all followers) when woken by
 * broker.onAppend or by an acknowledgement, so MQTT delivery order is log
 * order. The consumer decides per record whether it takes it, skips it (no
 * matching subscription) or is full (in-flight window, backpressure) — then
 * reading stops and the cursor stays, so a slow client's backlog lives in
 * the log, not in memory.
 *
 * A cursor's committed offset is the lowest offset still awaiting an
 * acknowledgement (or `next` when none): that is what persistent sessions save.
 */
import { type BrokerApi, ErrorCode, isEddyError } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { TopicMapping } from "./mapping.ts";
import type { MqttMessage } from "./message.ts";
import type { MessageWindows, WindowSlice } from "./message-window.ts";

export interface Cursor {
  topic: string;
  partition: number;
  /** partitionKey(topic, partition). */
  key: string;
  /** Next offset to read. */
  next: number;
  /** Offsets handed out at QoS > 0 and not yet acknowledged. */
  outstanding: Set<number>;
}

export type OfferResult = "taken" | "skip" | "full";

export interface FollowerConsumer {
  canReceive(): boolean;
  offer(msg: MqttMessage, offset: number, cursor: Cursor): OfferResult;
}

export interface FollowerDeps {
  broker: BrokerApi;
  mapping: TopicMapping;
  logger: Logger;
  /** Decoded records shared by every follower of a partition. */
  windows: MessageWindows;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class LogFollower {
  readonly cursors = new Map<string, Cursor>();
  /** Stream topics followed (every partition, including ones added later). */
  readonly topics = new Set<string>();
  /** A cursor moved since the owner last cleared this (for batched session saves). */
  changed = false;
  private running = false;
  private again = false;
  closed = false;

  constructor(
    private readonly deps: FollowerDeps,
    private readonly consumer: FollowerConsumer,
  ) {}

  /** Start following every partition of `topic` at `at` ("latest" = high watermark) unless already followed. */
  async follow(topic: string, at: "latest" | "earliest"): Promise<void> {
    this.topics.add(topic);
    let partitions: number;
    try {
      partitions = (await this.deps.broker.describeTopic(topic)).partitions.length;
    } catch (err) {
      if (isEddyError(err) && err.code === ErrorCode.TOPIC_NOT_FOUND) return;
      throw err;
    }
    for (let p = 0; p < partitions; p++) this.ensureCursor(topic, p, at);
  }

  ensureCursor(topic: string, partition: number, at: "latest" | "earliest" | number): Cursor {
    const key = partitionKey(topic, partition);
    let cursor = this.cursors.get(key);
    if (!cursor) {
      let next: number;
      if (typeof at === "number") next = at;
      else {
        const state = this.deps.broker.partitionState(topic, partition);
        next = at === "latest" ? state.highWatermark : state.logStartOffset;
      }
      cursor = { topic, partition, key, next, outstanding: new Set() };
      this.cursors.set(key, cursor);
      this.topics.add(topic);
    }
    return cursor;
  }

  /** Lowest offset not yet fully delivered, per cursor. */
  committed(): Array<{ topic: string; partition: number; offset: number }> {
    return [...this.cursors.values()].map((c) => ({
      topic: c.topic,
      partition: c.partition,
      offset: c.outstanding.size === 0 ? c.next : Math.min(...c.outstanding),
    }));
  }

  /** Read and offer until caught up or the consumer is full. Safe to call any time. */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pump()
      .catch((err) => this.deps.logger.error("mqtt delivery failed", { err }))
      .finally(() => {
        this.running = false;
        if (this.again && !this.closed && this.consumer.canReceive()) this.wake();
      });
  }

  private async pump(): Promise<void> {
    do {
      this.again = false;
      // A Map iterator survives changes made meanwhile (deleted cursors are skipped, new ones visited).
      for (const cursor of this.cursors.values()) {
        if (this.closed || !this.consumer.canReceive()) return;
        if (await this.pumpCursor(cursor)) this.again = true;
      }
    } while (this.again && !this.closed);
  }

  /** One read from a cursor (through the shared message window); true when more may be waiting. */
  private async pumpCursor(cursor: Cursor): Promise<boolean> {
    const { broker, windows } = this.deps;
    let state: ReturnType<BrokerApi["partitionState"]>;
    try {
      state = broker.partitionState(cursor.topic, cursor.partition);
    } catch {
      this.cursors.delete(partitionKey(cursor.topic, cursor.partition));
      return false;
    }
    if (cursor.next < state.logStartOffset) cursor.next = state.logStartOffset;
    if (cursor.next >= state.highWatermark) return false;
    const from = cursor.next;
    let slice: WindowSlice;
    try {
      slice = await windows.read(cursor.topic, cursor.partition, from);
    } catch (err) {
      if (isEddyError(err) && err.code === ErrorCode.OFFSET_OUT_OF_RANGE) {
        cursor.next = broker.partitionState(cursor.topic, cursor.partition).logStartOffset;
        return true;
      }
      throw err;
    }
    // A shared group may have rewound the cursor while we read: read again from there.
    if (cursor.next !== from) return true;
    const { entries, end } = slice;
    const consumer = this.consumer;
    for (let i = slice.index; i < entries.length; i++) {
      if (this.closed) return false;
      const entry = entries[i]!;
      const offset = entry.offset;
      if (offset >= end) break; // not committed yet (appended, filled into the window)
      if (offset < cursor.next) continue;
      if (entry.msg !== null && consumer.offer(entry.msg, offset, cursor) === "full") {
        this.changed = true;
        return false;
      }
      cursor.next = offset + 1;
    }
    if (slice.end > cursor.next) cursor.next = slice.end;
    if (cursor.next !== from) this.changed = true;
    return cursor.next < slice.highWatermark;
  }
}
