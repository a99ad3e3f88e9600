/**
 * Producer state from batches already in a log: the replay after a restart
 * (producer-snapshot.ts), and a follower copying its leader's batches. A data
 * batch of a producer goes to onData; a COMMIT/ABORT control batch to
 * onMarker with the coordinator epoch decoded from its control record
 * (value = version int16 + coordinatorEpoch int32), so the fencing of deposed
 * coordinators survives restarts and leader failover.
 */
import {
  type BatchHeader,
  ControlRecordType,
  controlRecordType,
  decodeBatch,
  isControl,
  isTransactional,
  iterateBatches,
} from "../log/record-batch.ts";
import type { PartitionLog } from "../log/types.ts";
import type { ProducerStateManager } from "./producer-state.ts";

/** The coordinator epoch in a transaction marker's control record value, or -1 when it has none. */
export function markerCoordinatorEpoch(value: Uint8Array | null): number {
  if (value === null || value.length < 6) return -1;
  return new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(2);
}

/**
 * Apply one logged batch (`header` at `pos` of `bytes`) of a producer to
 * `state`; batches without a producer id and other control records are skipped.
 */
export function applyLoggedBatch(
  state: ProducerStateManager,
  b: { header: BatchHeader; bytes: Uint8Array; pos: number; now: number },
): void {
  const h = b.header;
  if (h.producerId < 0) return;
  if (isControl(h.attributes)) {
    const record = decodeBatch(b.bytes, b.pos).records[0];
    const type = controlRecordType(record?.key ?? null);
    if (type !== ControlRecordType.COMMIT && type !== ControlRecordType.ABORT) return;
    state.onMarker({
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      commit: type === ControlRecordType.COMMIT,
      offset: h.baseOffset,
      timestamp: b.now,
      coordinatorEpoch: markerCoordinatorEpoch(record?.value ?? null),
    });
    return;
  }
  state.onData(
    {
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
      lastOffsetDelta: h.lastOffsetDelta,
      transactional: isTransactional(h.attributes),
    },
    h.baseOffset,
    b.now,
  );
}

/**
 * On the partition leader, before a marker is checked: if the producer's
 * latest marker was recorded without its coordinator epoch (replicated by a
 * follower that did not decode it), read that marker from the log and record
 * its epoch (-1 when retention removed it).
 */
export async function resolvePendingMarker(
  state: ProducerStateManager,
  log: PartitionLog,
  producerId: number,
): Promise<void> {
  const offset = state.pendingMarker(producerId);
  if (offset < 0) return;
  let epoch = -1;
  if (offset >= log.offsets().logStartOffset) {
    const read = await log.read(offset, 1024, { maxOffset: offset + 1, minOneBatch: true });
    for (const { header, pos } of iterateBatches(read.bytes)) {
      if (header.baseOffset !== offset || !isControl(header.attributes)) continue;
      epoch = markerCoordinatorEpoch(decodeBatch(read.bytes, pos).records[0]?.value ?? null);
    }
  }
  state.resolveMarker(producerId, offset, epoch);
}
