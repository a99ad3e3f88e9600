/**
 * Producer state survives restarts: a snapshot per partition in the metadata
 * store (table producer_state: the state as of `snapshotOffset`), and on open
 * a replay of the log from that offset to the log end, reading only batch
 * headers (and the one record of each control batch).
 *
 * - Snapshots are taken on clean close and every SNAPSHOT_EVERY_CHANGES
 *   producer batches or SNAPSHOT_EVERY_BYTES appended bytes, after flushing
 *   the log, so the snapshot never claims offsets a crash could lose.
 * - If the snapshot is ahead of the log end anyway (durability=memory or
 *   write and a power loss) or unreadable, it is dropped and the whole log is
 *   replayed from the log start.
 * - Retention and delete-records only remove batches below the snapshot
 *   point; the state built from them is kept (producer ids expire after
 *   PRODUCER_EXPIRATION_MS of the broker's clock without a batch,
 *   aborted-transaction entries once they end below the log start).
 * - Compaction may remove batches below the snapshot point; the state built
 *   from them is kept too. Only a full replay (no usable snapshot) of a
 *   compacted log can miss producers whose batches were all compacted away;
 *   they are then unknown and accepted at any sequence (KIP-360).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { iterateBatches } from "../log/record-batch.ts";
import type { PartitionLog } from "../log/types.ts";
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import { applyLoggedBatch } from "./logged-batch.ts";
import type { AbortedTxn, ProducerEntry, ProducerStateManager } from "./producer-state.ts";

export const SNAPSHOT_EVERY_CHANGES = 1000;
export const SNAPSHOT_EVERY_BYTES = 64 * 1024 * 1024;
/** Kafka's producer.id.expiration.ms default (1 day). */
export const PRODUCER_EXPIRATION_MS = 24 * 3600 * 1000;
const REPLAY_CHUNK_BYTES = 1024 * 1024;

/** What the snapshot code needs of a partition. */
export interface SnapshotTarget {
  readonly topic: string;
  readonly id: number;
  readonly log: PartitionLog;
  readonly producers: ProducerStateManager;
}

/**
 * [producerId, epoch, lastTimestamp, txnFirstOffset, batches (4 ints each),
 * coordinatorEpoch, pendingMarkerOffset]; snapshots written before
 * coordinator fencing have the first five only (coordinator epoch unknown).
 */
type EntryJson = [number, number, number, number, number[], number, number];

export function serializeProducers(state: ProducerStateManager): { producers: string; aborted: string } {
  const producers: EntryJson[] = [...state.producers.values()].map((e) => [
    e.producerId,
    e.epoch,
    e.lastTimestamp,
    e.txnFirstOffset,
    e.batches.flatMap((b) => [b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset]),
    e.coordinatorEpoch,
    e.pendingMarkerOffset,
  ]);
  const aborted = state.aborted.map((a) => [a.producerId, a.firstOffset, a.lastOffset]);
  return { producers: JSON.stringify(producers), aborted: JSON.stringify(aborted) };
}

/** Fill `state` from a snapshot's JSON; throws STORAGE_ERROR when it is malformed. */
export function restoreProducers(state: ProducerStateManager, producers: string, aborted: string): void {
  const bad = () => new EddyError(ErrorCode.STORAGE_ERROR, "malformed producer state snapshot");
  const p = JSON.parse(producers) as unknown;
  const a = JSON.parse(aborted) as unknown;
  if (!Array.isArray(p) || !Array.isArray(a)) throw bad();
  const ints = (v: unknown, n: number): v is number[] =>
    Array.isArray(v) && v.length === n && v.every((x) => Number.isSafeInteger(x));
  state.clear();
  for (const row of p as unknown[]) {
    if (!Array.isArray(row) || (row.length !== 5 && row.length !== 7) || !ints(row.slice(0, 4), 4))
      throw bad();
    if (row.length === 7 && !ints(row.slice(5), 2)) throw bad();
    const flat = row[4] as unknown;
    if (!Array.isArray(flat) || flat.length % 4 !== 0 || !ints(flat, flat.length)) throw bad();
    const [producerId, epoch, lastTimestamp, txnFirstOffset] = row as number[];
    const entry: ProducerEntry = {
      producerId: producerId!,
      epoch: epoch!,
      lastTimestamp: lastTimestamp!,
      txnFirstOffset: txnFirstOffset!,
      batches: [],
      coordinatorEpoch: (row[5] as number | undefined) ?? -1,
      pendingMarkerOffset: (row[6] as number | undefined) ?? -1,
    };
    for (let i = 0; i < flat.length; i += 4) {
      const [firstSeq, lastSeq, baseOffset, lastOffset] = flat.slice(i, i + 4) as number[];
      entry.batches.push({
        firstSeq: firstSeq!,
        lastSeq: lastSeq!,
        baseOffset: baseOffset!,
        lastOffset: lastOffset!,
      });
    }
    state.restoreEntry(entry);
  }
  for (const row of a as unknown[]) {
    if (!ints(row, 3)) throw bad();
    const [producerId, firstOffset, lastOffset] = row as number[];
    state.aborted.push({ producerId, firstOffset, lastOffset } as AbortedTxn);
  }
}

/** Load a partition's producer state: snapshot + log replay. Run inside the partition's queue. */
export async function loadProducerState(
  p: SnapshotTarget,
  opts: { metadata: MetadataStore; logger: Logger; now: number },
): Promise<void> {
  const { metadata, logger } = opts;
  const { logStartOffset, logEndOffset } = p.log.offsets();
  let from = logStartOffset;
  const row = metadata.getProducerState(p.topic, p.id);
  if (row !== null) {
    try {
      if (row.snapshotOffset > logEndOffset) {
        throw new EddyError(
          ErrorCode.STORAGE_ERROR,
          `snapshot at ${row.snapshotOffset} is past the log end ${logEndOffset}`,
        );
      }
      restoreProducers(p.producers, row.producers, row.aborted);
      from = Math.max(row.snapshotOffset, logStartOffset);
    } catch (err) {
      logger.warn("producer state snapshot unusable; rebuilding it from the whole log", {
        topic: p.topic,
        partition: p.id,
        err,
      });
      p.producers.clear();
      from = logStartOffset;
    }
  }
  await replay(p, { from, to: logEndOffset, now: opts.now });
  p.producers.changesSinceSnapshot = 0;
  p.producers.loaded = true;
}

/** Apply the log's producer batches and markers in [from, to); replayed producers count as active `now`. */
async function replay(p: SnapshotTarget, range: { from: number; to: number; now: number }): Promise<void> {
  const { to, now } = range;
  let offset = range.from;
  while (offset < to) {
    const read = await p.log.read(offset, REPLAY_CHUNK_BYTES, { maxOffset: to, minOneBatch: true });
    if (read.batchCount === 0 || read.nextOffset <= offset) break;
    for (const { header, pos } of iterateBatches(read.bytes)) {
      if (header.producerId < 0 || header.baseOffset + header.lastOffsetDelta < offset) continue;
      applyLoggedBatch(p.producers, { header, bytes: read.bytes, pos, now });
    }
    offset = read.nextOffset;
  }
}

/** Flush the log and store the state as of the log end. Run inside the partition's queue. */
export async function saveProducerSnapshot(
  p: SnapshotTarget,
  metadata: MetadataStore,
  now: number,
): Promise<void> {
  if (!p.producers.loaded) return; // never overwrite a stored snapshot with a state that was not loaded
  await p.log.flush();
  const { logStartOffset, logEndOffset } = p.log.offsets();
  p.producers.prune(logStartOffset, now - PRODUCER_EXPIRATION_MS);
  metadata.saveProducerState({
    topic: p.topic,
    partition: p.id,
    snapshotOffset: logEndOffset,
    ...serializeProducers(p.producers),
    updatedAt: now,
  });
  p.producers.changesSinceSnapshot = 0;
}
