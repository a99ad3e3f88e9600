/**
 * Fetch (Kafka semantics, byte ranges, no per-record decode):
 * - per partition: read whole batches from the requested offset up to the
 *   high watermark (read_uncommitted) or last stable offset (read_committed);
 *   the first batch may start before the offset (clients skip, as in Kafka);
 * - per-partition errors (TOPIC_NOT_FOUND, PARTITION_NOT_FOUND,
 *   OFFSET_OUT_OF_RANGE, leader epoch) are reported in the result, not thrown;
 *   an offset between the high watermark and the log end is valid and empty;
 * - response-wide maxBytes: partitions are filled in request order; the first
 *   non-empty partition returns at least one whole batch even if it is larger,
 *   so a consumer never gets stuck;
 * - long-poll: until minBytes are available, maxWaitMs passes, the signal
 *   aborts, or the broker closes; woken by high-watermark advances. Any
 *   partition error answers at once.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { BrokerContext } from "./context.ts";
import { leaderEpochError } from "./epochs.ts";
import type {
  FetchPartitionRequest,
  FetchPartitionResult,
  FetchRequest,
  FetchResult,
  IsolationLevel,
} from "./types.ts";
import { partitionKey } from "./waiters.ts";

export const DEFAULT_PARTITION_MAX_BYTES = 1024 * 1024;
export const DEFAULT_RESPONSE_MAX_BYTES = 50 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

interface ReadPass {
  results: FetchPartitionResult[];
  bytes: number;
  /** The read limit (HW or LSO) used per partition, -1 when the partition errored. */
  limits: number[];
}

export async function fetch(ctx: BrokerContext, req: FetchRequest): Promise<FetchResult> {
  if (!Array.isArray(req.partitions))
    throw new EddyError(ErrorCode.INVALID_REQUEST, "partitions must be an array");
  const maxWaitMs = nonNegative(req.maxWaitMs ?? 0, "maxWaitMs");
  const minBytes = nonNegative(req.minBytes ?? 1, "minBytes");
  const maxBytes = nonNegative(req.maxBytes ?? DEFAULT_RESPONSE_MAX_BYTES, "maxBytes");
  const isolation = req.isolation ?? "read_uncommitted";
  const keys = req.partitions.map((p) => partitionKey(p.topic, p.partition));
  const start = ctx.clock.monotonic();
  let waited = false;
  for (;;) {
    const pass = await readAll(ctx, req.partitions, isolation, maxBytes);
    const remaining = maxWaitMs - (ctx.clock.monotonic() - start);
    const done =
      pass.bytes >= minBytes ||
      pass.results.some((r) => r.error !== null) ||
      remaining <= 0 ||
      waited ||
      req.signal?.aborted === true ||
      ctx.closing();
    if (done) {
      ctx.stats.fetchedBytes += pass.bytes;
      ctx.observer.onFetch(pass.bytes);
      return { partitions: pass.results };
    }
    if (limitsMoved(ctx, req.partitions, isolation, pass.limits)) continue;
    const outcome = await ctx.waiters.wait(keys, remaining, req.signal);
    if (ctx.closing()) return { partitions: pass.results };
    // After a timeout or abort, read once more (data may have just landed) and answer.
    if (outcome !== "data") waited = true;
  }
}

async function readAll(
  ctx: BrokerContext,
  partitions: readonly FetchPartitionRequest[],
  isolation: IsolationLevel,
  maxBytes: number,
): Promise<ReadPass> {
  const budget = { remaining: maxBytes, first: true };
  const results: FetchPartitionResult[] = [];
  const limits: number[] = [];
  let bytes = 0;
  for (const p of partitions) {
    const { result, limit } = await readPartition(ctx, p, isolation, budget);
    results.push(result);
    limits.push(limit);
    bytes += result.records.length;
  }
  return { results, bytes, limits };
}

async function readPartition(
  ctx: BrokerContext,
  req: FetchPartitionRequest,
  isolation: IsolationLevel,
  budget: { remaining: number; first: boolean },
): Promise<{ result: FetchPartitionResult; limit: number }> {
  const base = { topic: req.topic, partition: req.partition, abortedTransactions: [] };
  const failed = (code: ErrorCode, message: string, offsets = { hw: -1, lso: -1, start: -1 }) => ({
    result: {
      ...base,
      error: code,
      errorMessage: message,
      highWatermark: offsets.hw,
      lastStableOffset: offsets.lso,
      logStartOffset: offsets.start,
      records: EMPTY,
    },
    limit: -1,
  });
  const topic = ctx.topics.get(req.topic);
  if (!topic) return failed(ErrorCode.TOPIC_NOT_FOUND, `topic '${req.topic}' does not exist`);
  const partition = Number.isInteger(req.partition) ? topic.partitions[req.partition] : undefined;
  if (!partition) {
    return failed(ErrorCode.PARTITION_NOT_FOUND, `topic '${req.topic}' has no partition ${req.partition}`);
  }
  const epochError = leaderEpochError(partition, req.currentLeaderEpoch);
  if (epochError) return failed(epochError.code, epochError.message);

  const t = partition.tracker;
  const offsets = { hw: t.highWatermark, lso: t.lastStableOffset, start: t.logStartOffset };
  const limit = isolation === "read_committed" ? t.lastStableOffset : t.highWatermark;
  if (!Number.isSafeInteger(req.offset) || req.offset < t.logStartOffset || req.offset > t.logEndOffset) {
    return failed(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${req.offset} is outside ${req.topic}-${req.partition}'s range ${t.logStartOffset}..${t.logEndOffset}: reset to earliest or latest`,
      offsets,
    );
  }
  // read_committed: the aborted transactions overlapping the returned range, so
  // the client can drop their records (Kafka's FetchResponse.AbortedTransactions).
  const ok = (records: Uint8Array, nextOffset = req.offset) => ({
    result: {
      ...base,
      abortedTransactions:
        isolation === "read_committed" && records.length > 0
          ? partition.producers
              .abortedBetween(req.offset, nextOffset)
              .map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))
          : [],
      error: null,
      highWatermark: offsets.hw,
      lastStableOffset: offsets.lso,
      logStartOffset: offsets.start,
      records,
    },
    limit,
  });
  if (req.offset >= limit || budget.remaining <= 0) return ok(EMPTY);
  const maxBytes = Math.min(req.maxBytes ?? DEFAULT_PARTITION_MAX_BYTES, budget.remaining);
  try {
    const read = await partition.log.read(req.offset, maxBytes, {
      maxOffset: limit,
      minOneBatch: budget.first,
    });
    budget.remaining -= read.bytes.length;
    if (read.bytes.length > 0) budget.first = false;
    return ok(read.bytes, read.nextOffset);
  } catch (err) {
    if (err instanceof EddyError && err.code === ErrorCode.OFFSET_OUT_OF_RANGE) {
      return failed(err.code, err.message, offsets);
    }
    throw err;
  }
}

/** Did any partition's visible end move while we were reading? Then read again instead of waiting. */
function limitsMoved(
  ctx: BrokerContext,
  partitions: readonly FetchPartitionRequest[],
  isolation: IsolationLevel,
  limits: number[],
): boolean {
  return partitions.some((req, i) => {
    const p = ctx.topics.get(req.topic)?.partitions[req.partition];
    if (!p) return limits[i] !== -1;
    const limit = isolation === "read_committed" ? p.tracker.lastStableOffset : p.tracker.highWatermark;
    return limit !== limits[i];
  });
}

export function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `${name} must be a non-negative number, got ${String(value)}`,
    );
  }
  return value;
}
