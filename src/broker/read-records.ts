/**
 * Decoded reads for HTTP, the CLI and bridges: records from one partition,
 * starting at `offset` (records below it in the first batch, and control
 * batches, are skipped), at most maxRecords, only committed ones (below the
 * high watermark, or the last stable offset for read_committed, which also
 * drops records of aborted transactions). Waits up to
 * maxWaitMs when nothing is there yet. Errors are thrown (TOPIC_NOT_FOUND,
 * PARTITION_NOT_FOUND, OFFSET_OUT_OF_RANGE).
 *
 * Also waitForData: resolve true once a partition's high watermark passes an offset.
 *
 * Cluster mode (KIP-392-style follower reads): any node holding a replica
 * serves it, the leader or a follower, never beyond the high watermark this
 * node knows (a follower learns it from the leader's fetch responses, and
 * its advances wake waiters and onAppend listeners here as on the leader).
 * A node holding no replica forwards both calls to one that does
 * (`remote`, src/cluster/read-forwarder.ts).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { decodeRecords } from "../log/record-batch.ts";
import type { StoredRecord } from "../log/types.ts";
import { decodeCommittedRecords } from "../txn/read-committed.ts";
import type { BrokerContext } from "./context.ts";
import { isAbsentLog } from "./absent-log.ts";
import { notLeaderError } from "./epochs.ts";
import { DEFAULT_PARTITION_MAX_BYTES, nonNegative } from "./fetch.ts";
import type { Partition } from "./partition.ts";
import type { BrokerApi, IsolationLevel } from "./types.ts";
import { partitionKey } from "./waiters.ts";

export const DEFAULT_MAX_RECORDS = 500;

type ReadRecordsRequest = Parameters<BrokerApi["readRecords"]>[0];
type ReadRecordsResult = Awaited<ReturnType<BrokerApi["readRecords"]>>;
type WaitRequest = {
  topic: string;
  partition: number;
  offset: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
};

/** Cluster mode: where reads go for a partition this node holds no replica of. */
export interface RemoteReads {
  readRecords(p: Partition, req: ReadRecordsRequest): Promise<ReadRecordsResult>;
  waitForData(p: Partition, req: WaitRequest): Promise<boolean>;
}

/** A partition without a local replica: forward (when possible) or refuse with NOT_LEADER. */
function noReplicaHere(p: Partition, remote: RemoteReads | undefined): RemoteReads {
  if (remote) return remote;
  throw (
    notLeaderError(p) ??
    new EddyError(ErrorCode.NOT_LEADER, `this node holds no replica of ${p.topic}-${p.id}`)
  );
}

export async function readRecords(
  ctx: BrokerContext,
  req: ReadRecordsRequest,
  remote?: RemoteReads,
): Promise<ReadRecordsResult> {
  const maxRecords = req.maxRecords ?? DEFAULT_MAX_RECORDS;
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `maxRecords must be a positive integer, got ${maxRecords}`,
    );
  }
  const maxBytes = nonNegative(req.maxBytes ?? DEFAULT_PARTITION_MAX_BYTES, "maxBytes");
  const maxWaitMs = nonNegative(req.maxWaitMs ?? 0, "maxWaitMs");
  const isolation = req.isolation ?? "read_uncommitted";
  const key = partitionKey(req.topic, req.partition);
  const start = ctx.clock.monotonic();
  let waited = false;
  for (;;) {
    const partition = ctx.topics.partition(req.topic, req.partition);
    if (isAbsentLog(partition.log)) {
      const left = Math.max(0, maxWaitMs - (ctx.clock.monotonic() - start));
      return noReplicaHere(partition, remote).readRecords(partition, {
        ...req,
        maxWaitMs: waited ? 0 : left,
      });
    }
    const { limit, ...result } = await readOnce(ctx, partition, req.offset, {
      maxRecords,
      maxBytes,
      isolation,
    });
    const remaining = maxWaitMs - (ctx.clock.monotonic() - start);
    const progressed = result.records.length > 0 || result.nextOffset > req.offset;
    if (progressed || waited || remaining <= 0 || req.signal?.aborted || ctx.closing()) return result;
    if (visibleEnd(partition, isolation) !== limit) continue;
    const outcome = await ctx.waiters.wait([key], remaining, req.signal);
    if (ctx.closing()) return result;
    // After a timeout or abort, read once more (data may have just landed) and answer.
    if (outcome !== "data") waited = true;
  }
}

async function readOnce(
  ctx: BrokerContext,
  partition: Partition,
  offset: number,
  opts: { maxRecords: number; maxBytes: number; isolation: IsolationLevel },
): Promise<ReadRecordsResult & { limit: number }> {
  const t = partition.tracker;
  const limit = visibleEnd(partition, opts.isolation);
  const answer = (records: StoredRecord[], nextOffset: number) => ({
    records,
    nextOffset,
    highWatermark: t.highWatermark,
    logStartOffset: t.logStartOffset,
    limit,
  });
  if (!Number.isSafeInteger(offset) || offset < t.logStartOffset || offset > t.logEndOffset) {
    throw new EddyError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${offset} is outside ${partition.topic}-${partition.id}'s range ${t.logStartOffset}..${t.logEndOffset}: read from ${t.logStartOffset} (earliest) or ${t.highWatermark} (latest)`,
      { logStartOffset: t.logStartOffset, highWatermark: t.highWatermark },
    );
  }
  if (offset >= limit) return answer([], offset);
  const read = await partition.log.read(offset, opts.maxBytes, { maxOffset: limit, minOneBatch: true });
  ctx.stats.fetchedBytes += read.bytes.length;
  ctx.observer.onFetch(read.bytes.length);
  const decoded =
    opts.isolation === "read_committed"
      ? decodeCommittedRecords(read.bytes, offset, partition.producers)
      : decodeRecords(read.bytes, offset);
  let records = decoded.filter((r) => r.offset < limit);
  let nextOffset = Math.max(offset, Math.min(read.nextOffset, limit));
  if (records.length > opts.maxRecords) {
    records = records.slice(0, opts.maxRecords);
    nextOffset = records.at(-1)!.offset + 1;
  } else if (records.length > 0) {
    nextOffset = Math.max(nextOffset, records.at(-1)!.offset + 1);
  }
  return answer(records, nextOffset);
}

function visibleEnd(partition: Partition, isolation: IsolationLevel): number {
  return isolation === "read_committed"
    ? partition.tracker.lastStableOffset
    : partition.tracker.highWatermark;
}

/** True once the high watermark of the partition exceeds `offset`; false on timeout, abort or close. */
export async function waitForData(
  ctx: BrokerContext,
  req: WaitRequest,
  remote?: RemoteReads,
): Promise<boolean> {
  const timeoutMs = nonNegative(req.timeoutMs, "timeoutMs");
  const key = partitionKey(req.topic, req.partition);
  const start = ctx.clock.monotonic();
  for (;;) {
    if (ctx.closing()) return false;
    const partition = ctx.topics.partition(req.topic, req.partition);
    if (isAbsentLog(partition.log)) {
      const left = Math.max(0, timeoutMs - (ctx.clock.monotonic() - start));
      return noReplicaHere(partition, remote).waitForData(partition, { ...req, timeoutMs: left });
    }
    const hw = partition.tracker.highWatermark;
    if (hw > req.offset) return true;
    const remaining = timeoutMs - (ctx.clock.monotonic() - start);
    if (remaining <= 0 || req.signal?.aborted || ctx.closing()) return false;
    const outcome = await ctx.waiters.wait([key], remaining, req.signal);
    if (outcome !== "data") {
      const p = ctx.topics.get(req.topic)?.partitions[req.partition];
      return p !== undefined && p.tracker.highWatermark > req.offset;
    }
  }
}
