/**
 * Per-partition admin operations behind BrokerApi: DeleteRecords (move the
 * log start offset, leader only), DescribeProducers (the partition's
 * idempotent/transactional producer state), OffsetForLeaderEpoch (from the
 * leader-epoch cache) and retention floors (owners such as bridges keep
 * records they still need from retention; the log keeps the lowest floor).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { MetadataStore } from "../metadata/types.ts";
import { checkLeader, endOffsetForEpoch } from "./epochs.ts";
import type { Partition } from "./partition.ts";
import type { ActiveProducer, EpochEndOffset } from "./types.ts";
import { partitionKey } from "./waiters.ts";

/** Delete records before `beforeOffset` (-1: the high watermark); returns the new log start offset. */
export async function deleteRecords(p: Partition, beforeOffset: number): Promise<number> {
  checkLeader(p);
  const hw = p.tracker.highWatermark;
  const before = beforeOffset === -1 ? hw : beforeOffset;
  if (!Number.isSafeInteger(before) || before < 0 || before > hw) {
    throw new EddyError(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `cannot delete records before ${beforeOffset} in ${p.topic}-${p.id}: the offset must be between 0 and the high watermark ${hw} (or -1 for the high watermark)`,
    );
  }
  return p.enqueue(async () => {
    await p.log.deleteRecordsBefore(before);
    p.refresh();
    return p.tracker.logStartOffset;
  });
}

export function describeProducers(p: Partition): ActiveProducer[] {
  checkLeader(p);
  return [...p.producers.producers.values()].map((e) => ({
    producerId: e.producerId,
    producerEpoch: e.epoch,
    lastSequence: e.batches.at(-1)?.lastSeq ?? -1,
    lastTimestamp: e.lastTimestamp,
    currentTxnStartOffset: e.txnFirstOffset,
    coordinatorEpoch: e.coordinatorEpoch,
  }));
}

export function endOffsetForLeaderEpoch(
  metadata: MetadataStore,
  p: Partition,
  leaderEpoch: number,
): EpochEndOffset {
  checkLeader(p);
  const { logStartOffset, logEndOffset } = p.state();
  // Cluster replicas keep an epoch cache; a single node has only its current epoch.
  const epochs = metadata
    .getLeaderEpochs(p.topic, p.id)
    .filter((e) => e.startOffset <= logEndOffset && e.epoch <= p.leaderEpoch);
  // Without a cached start for the current epoch, the older epochs are taken to run to the log end.
  if (epochs.length === 0) epochs.push({ epoch: p.leaderEpoch, startOffset: logStartOffset });
  else if (epochs.at(-1)!.epoch < p.leaderEpoch)
    epochs.push({ epoch: p.leaderEpoch, startOffset: logEndOffset });
  return endOffsetForEpoch(epochs, leaderEpoch, logEndOffset);
}

/** topic/partition -> owner -> lowest offset the owner still needs. */
export class RetentionFloors {
  private readonly floors = new Map<string, Map<string, number>>();

  /** Set (or with null, drop) `owner`'s floor on `p`; the log keeps records from the lowest floor. */
  set(p: Partition, owner: string, offset: number | null): void {
    if (offset !== null && (!Number.isSafeInteger(offset) || offset < 0)) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `retention floor for ${p.topic}-${p.id} must be a non-negative offset or null, got ${offset}`,
      );
    }
    const key = partitionKey(p.topic, p.id);
    const owners = this.floors.get(key) ?? new Map<string, number>();
    if (offset === null) owners.delete(owner);
    else owners.set(owner, offset);
    if (owners.size === 0) this.floors.delete(key);
    else this.floors.set(key, owners);
    p.log.setRetentionFloor(owners.size === 0 ? null : Math.min(...owners.values()));
  }
}
