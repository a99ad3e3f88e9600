/**
 * The follower side of partition replication (used by replica-manager.ts):
 * truncate by leader epoch against the leader (KIP-101/279: to the smaller of
 * the leader's end of the largest common epoch and this log's end of it),
 * then fetch in a long-poll loop, append the leader's batches as they are
 * (offsets and leader epochs kept), keep the leader-epoch cache and the
 * producer state, take the leader's high watermark and log start offset.
 * Any disagreement (out of range, a batch not at the log end) truncates again.
 */
import { type BatchHeader, readBatchHeader } from "../log/record-batch.ts";
import type { LeaderEpochEntry, MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { Partition } from "../broker/partition.ts";
import { applyLoggedBatch } from "../txn/logged-batch.ts";
import { loadProducerState, saveProducerSnapshot } from "../txn/producer-snapshot.ts";
import { type ChunkReader, decodeFetchBody } from "./fetch-body.ts";
import {
  decodeJson,
  type EpochAnswer,
  type EpochQuery,
  encodeJson,
  PeerPath,
  type PeerRpc,
  type ReplicaFetchRequest,
} from "./peer-protocol.ts";
import { sleep } from "../util/sleep.ts";

export interface FollowerProgress {
  /** The follower's log end offset (its last fetch offset); -1 until it fetched in this epoch. */
  leo: number;
  caughtUpAt: number;
  leoAtLastResponse: number;
  lastResponseAt: number;
  sentHw: number;
}

export type Role = "leader" | "follower" | "none";

/** One local replica of a partition, as the replica manager tracks it. */
export interface ReplicaState {
  p: Partition;
  role: Role;
  epoch: number;
  leader: number;
  replicas: number[];
  isr: number[];
  epochs: LeaderEpochEntry[];
  followers: Map<number, FollowerProgress>;
  pendingIsr: number[] | null;
  /** Log end offset when this node became leader in `epoch`. */
  epochStart: number;
  wakers: Set<() => void>;
  fetcher: { ac: AbortController; done: Promise<void> } | null;
}

/** What the follower loop needs from the replica manager. */
export interface FollowerDeps {
  o: {
    store: MetadataStore;
    rpc: PeerRpc;
    clock: Clock;
    logger: Logger;
    fetchMaxWaitMs: number;
    fetchMaxBytes?: number;
    retryBackoffMs?: number;
  };
  closed(): boolean;
}

/**
 * Bytes one replica fetch may bring back (at least one batch). A follower
 * moves at most this much per round trip: 1 MiB (Kafka's per-partition
 * replica.fetch.max.bytes) capped a follower near 80-100 MB/s under load on
 * the benchmark machine (scripts/bench/replication.ts, BENCHMARKS.md).
 */
export const DEFAULT_FETCH_MAX_BYTES = 4 * 1024 * 1024;

export async function runFetcher(
  d: FollowerDeps,
  st: ReplicaState,
  leader: number,
  epoch: number,
  signal: AbortSignal,
): Promise<void> {
  const p = st.p;
  let truncated = false;
  const backoff = d.o.retryBackoffMs ?? 50;
  while (!signal.aborted && !d.closed()) {
    try {
      if (!truncated) {
        await truncateByEpoch(d, st, leader, epoch, signal);
        truncated = true;
      }
      const req: ReplicaFetchRequest = {
        topic: p.topic,
        partition: p.id,
        offset: p.log.offsets().logEndOffset,
        epoch,
        maxWaitMs: d.o.fetchMaxWaitMs,
        maxBytes: d.o.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES,
      };
      // The body's chunks as they arrived (no joined copy); a carrier without chunks gives the body.
      const sink: Uint8Array[] = [];
      const body = await d.o.rpc(leader, PeerPath.FETCH, encodeJson(req), {
        timeoutMs: d.o.fetchMaxWaitMs + 5_000,
        signal,
        sink,
      });
      if (signal.aborted) break;
      const { header, batches: records } = decodeFetchBody(body ? [body] : sink);
      if (records.remaining === 0 && header.logStartOffset > req.offset) {
        await restartAtLeaderStart(d, st, header.logStartOffset);
        continue;
      }
      await appendFetched(d, st, records, signal);
      if (signal.aborted) break;
      p.replicationLimit = header.highWatermark;
      p.refresh();
      // Follow the leader's log start (retention, delete-records) within what this replica holds.
      const start = Math.min(header.logStartOffset, p.tracker.logEndOffset);
      if (start > p.tracker.logStartOffset) {
        await p.enqueue(async () => {
          await p.log.deleteRecordsBefore(start);
          p.refresh();
        });
      }
    } catch (err) {
      if (signal.aborted || d.closed()) break;
      // The logs may disagree (out of range, a batch not at our log end): truncate by epoch again first.
      truncated = false;
      d.o.logger.debug("replica fetch failed; retrying", {
        topic: p.topic,
        partition: p.id,
        leader,
        err,
      });
      await sleep(backoff, signal);
    }
  }
}

/**
 * Append a fetch response's batches in one queue step (Partition.
 * appendReplicatedBatches: one log write per segment, one offset update).
 * Batches wholly below the log end are skipped; a new leader epoch is added
 * to the cache (and saved) before the run is written, as before each batch.
 */
async function appendFetched(
  d: FollowerDeps,
  st: ReplicaState,
  records: ChunkReader,
  signal: AbortSignal,
): Promise<void> {
  const p = st.p;
  if (signal.aborted) return;
  const batches: Uint8Array[] = [];
  const headers: BatchHeader[] = [];
  let end = p.log.offsets().logEndOffset;
  let epochsChanged = false;
  for (let batch = records.nextBatch(); batch !== null; batch = records.nextBatch()) {
    // The CRC is checked once, by the log's append.
    const h = readBatchHeader(batch, 0);
    if (h.baseOffset + h.lastOffsetDelta < end) continue;
    const last = st.epochs.at(-1);
    if (h.partitionLeaderEpoch >= 0 && (!last || h.partitionLeaderEpoch > last.epoch)) {
      st.epochs.push({ epoch: h.partitionLeaderEpoch, startOffset: h.baseOffset });
      epochsChanged = true;
    }
    batches.push(batch);
    headers.push(h);
    end = h.baseOffset + h.lastOffsetDelta + 1;
  }
  if (epochsChanged) saveEpochs(d, st);
  if (batches.length === 0 || signal.aborted) return;
  // Offsets kept: the batches' own. Producer state follows each written batch inside the same step.
  try {
    await p.appendReplicatedBatches(batches, {
      onAppended: (count) => {
        const now = d.o.clock.now();
        for (let i = 0; i < count; i++) trackProducer(d, p, headers[i]!, batches[i]!, now);
      },
    });
  } catch (err) {
    // A refused batch ended the run: forget epochs that start at or past what was written.
    const leo = p.log.offsets().logEndOffset;
    const kept = st.epochs.filter((e) => e.startOffset < leo);
    if (kept.length !== st.epochs.length) {
      st.epochs = kept;
      saveEpochs(d, st);
    }
    throw err;
  }
}

/** Keep idempotent/transactional producer state on followers too, so a new leader deduplicates retries. */
function trackProducer(d: FollowerDeps, p: Partition, h: BatchHeader, batch: Uint8Array, now: number): void {
  try {
    applyLoggedBatch(p.producers, { header: h, bytes: batch, pos: 0, now });
  } catch (err) {
    d.o.logger.warn("follower producer state not updated", { topic: p.topic, partition: p.id, err });
  }
}

async function truncateByEpoch(
  d: FollowerDeps,
  st: ReplicaState,
  leader: number,
  epoch: number,
  signal: AbortSignal,
): Promise<void> {
  const p = st.p;
  const { logStartOffset, logEndOffset: leo } = p.log.offsets();
  // Nothing to compare or truncate: an empty log without epoch history (new, or just restarted at the leader's start).
  if (leo === 0 || (leo === logStartOffset && st.epochs.length === 0)) return;
  const asked = st.epochs.at(-1)?.epoch ?? 0;
  const q: EpochQuery = { topic: p.topic, partition: p.id, epoch: asked, currentEpoch: epoch };
  const body = await d.o.rpc(leader, PeerPath.EPOCH, encodeJson(q), { timeoutMs: 10_000, signal });
  const ans = decodeJson<EpochAnswer>(body, "leader epoch answer");
  let target = Math.min(ans.endOffset, leo);
  if (ans.epoch >= 0 && ans.epoch < asked) {
    const ownEnd = st.epochs.find((e) => e.epoch > ans.epoch)?.startOffset ?? leo;
    target = Math.min(target, ownEnd);
  }
  if (signal.aborted) return;
  if (target < leo) {
    d.o.logger.info("truncating divergent tail after a leader change", {
      topic: p.topic,
      partition: p.id,
      from: leo,
      to: target,
      leader,
      epoch,
    });
    await p.truncate(target);
    // Producer state (dedup windows, open transactions) must forget the truncated batches.
    await p.enqueue(async () => {
      p.producers.clear();
      await loadProducerState(p, {
        metadata: d.o.store,
        logger: d.o.logger,
        now: d.o.clock.now(),
      });
    });
  }
  const kept = st.epochs.filter((e) => e.startOffset < target);
  if (kept.length !== st.epochs.length) {
    st.epochs = kept;
    saveEpochs(d, st);
  }
}

/**
 * This log ends below the leader's log start (the leader deleted records by
 * retention or delete-records while this replica was away): Kafka's
 * OFFSET_OUT_OF_RANGE handling. Drop the whole log and restart it, empty, at
 * the leader's log start; the partition, its directory and its place among
 * the replicas stay. The leader-epoch cache and the producer state describe
 * the dropped records: both start over (a fresh, empty producer snapshot
 * replaces the stored one), and fill again from the leader's batches.
 */
async function restartAtLeaderStart(d: FollowerDeps, st: ReplicaState, start: number): Promise<void> {
  const p = st.p;
  d.o.logger.info("replica log ends below the leader's log start; restarting it there", {
    topic: p.topic,
    partition: p.id,
    logEndOffset: p.log.offsets().logEndOffset,
    leaderLogStartOffset: start,
  });
  await p.truncateFullyAndStartAt(start);
  st.epochs = [];
  saveEpochs(d, st);
  await p.enqueue(() => saveProducerSnapshot(p, d.o.store, d.o.clock.now()));
}

/** Persist a replica's leader-epoch cache (logged, not thrown, on failure). */
export function saveEpochs(d: FollowerDeps, st: ReplicaState): void {
  try {
    d.o.store.setLeaderEpochs(st.p.topic, st.p.id, st.epochs);
  } catch (err) {
    d.o.logger.warn("could not save the leader-epoch cache", {
      topic: st.p.topic,
      partition: st.p.id,
      err,
    });
  }
}
