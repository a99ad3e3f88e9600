/**
 * The leader's shared read for follower fetches (src/cluster/replica-read-cache.ts):
 * the second follower asking for the same range gets the first one's bytes
 * (no second log read), and it never gets bytes that no longer describe the log.
 */
import { describe, expect, it } from "bun:test";
import { Partition } from "../../src/broker/partition.ts";
import { ReplicaReadCache } from "../../src/cluster/replica-read-cache.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { encodeBatch, readBatchHeader } from "../../src/log/record-batch.ts";
import { DEFAULT_LOG_CONFIG, Durability, type PartitionLog } from "../../src/log/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

const enc = new TextEncoder();

async function partitionWith(
  batches: number,
  perBatch: number,
): Promise<{ p: Partition; reads: () => number }> {
  const store = createMemoryLogStore({ clock: systemClock });
  const log = await store.open("t", 0, { ...DEFAULT_LOG_CONFIG, durability: Durability.MEMORY });
  let count = 0;
  const read = log.read.bind(log);
  (log as { read: PartitionLog["read"] }).read = (...args) => {
    count++;
    return read(...args);
  };
  const p = new Partition({ log, logger: silentLogger, onAdvance: () => {} });
  for (let b = 0; b < batches; b++) {
    await p.append(
      encodeBatch(Array.from({ length: perBatch }, (_, i) => ({ value: enc.encode(`b${b}r${i}`) }))),
    );
  }
  return { p, reads: () => count };
}

function firstOffset(bytes: Uint8Array): number {
  return readBatchHeader(bytes, 0).baseOffset;
}

describe("ReplicaReadCache", () => {
  it("serves the other follower the same range without a second log read", async () => {
    const { p, reads } = await partitionWith(4, 10);
    const cache = new ReplicaReadCache();
    const end = p.tracker.logEndOffset;
    const req = { offset: 20, maxBytes: 1 << 20, end, followers: 2, now: 0 };
    const a = await cache.read(p, req);
    const b = await cache.read(p, req);
    expect(reads()).toBe(1);
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    expect(firstOffset(b)).toBe(20);
    // Used by every other follower: the entry is gone, the next fetch reads the log.
    expect(cache.size).toBe(0);
    await cache.read(p, req);
    expect(reads()).toBe(2);
  });

  it("starts at the batch holding a later offset and honours maxBytes (at least one batch)", async () => {
    const { p, reads } = await partitionWith(4, 10);
    const cache = new ReplicaReadCache();
    const end = p.tracker.logEndOffset;
    const all = await cache.read(p, { offset: 0, maxBytes: 1 << 20, end, followers: 3, now: 0 });
    const later = await cache.read(p, { offset: 25, maxBytes: 1 << 20, end, followers: 3, now: 0 });
    expect(reads()).toBe(1);
    expect(firstOffset(later)).toBe(20);
    expect(later.length).toBe(all.length / 2);
    const one = await cache.read(p, { offset: 0, maxBytes: 1, end, followers: 3, now: 0 });
    expect(reads()).toBe(1);
    expect(readBatchHeader(one, 0).lastOffsetDelta).toBe(9);
    expect(one.length).toBe(all.length / 4);
    expect(cache.size).toBe(0); // both other followers used it
  });

  it("reads the log again once the log end moved, and forgets stale entries", async () => {
    const { p, reads } = await partitionWith(2, 5);
    const cache = new ReplicaReadCache();
    const first = await cache.read(p, { offset: 0, maxBytes: 1 << 20, end: 10, followers: 2, now: 0 });
    await p.append(encodeBatch([{ value: enc.encode("late") }]));
    const moved = await cache.read(p, { offset: 0, maxBytes: 1 << 20, end: 11, followers: 2, now: 0 });
    expect(reads()).toBe(2);
    expect(moved.length).toBeGreaterThan(first.length);
    // An entry nobody came back for is swept after a second.
    expect(cache.size).toBe(1);
    cache.sweep(500);
    expect(cache.size).toBe(1);
    cache.sweep(1_500);
    expect(cache.size).toBe(0);
    // forget() drops it at once (role or epoch change).
    await cache.read(p, { offset: 0, maxBytes: 1 << 20, end: 11, followers: 2, now: 0 });
    cache.forget(p);
    await cache.read(p, { offset: 0, maxBytes: 1 << 20, end: 11, followers: 2, now: 0 });
    expect(reads()).toBe(4);
  });

  it("keeps nothing for a single follower", async () => {
    const { p, reads } = await partitionWith(1, 3);
    const cache = new ReplicaReadCache();
    await cache.read(p, { offset: 0, maxBytes: 1 << 20, end: 3, followers: 1, now: 0 });
    await cache.read(p, { offset: 0, maxBytes: 1 << 20, end: 3, followers: 1, now: 0 });
    expect(reads()).toBe(2);
    expect(cache.size).toBe(0);
  });
});
