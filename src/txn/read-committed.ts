/**
 * Decode records for a read_committed reader (HTTP, CLI, bridges): like
 * decodeRecords, but records of aborted transactions are dropped, using the
 * partition's aborted-transaction index. (Kafka clients do this themselves
 * from FetchResponse.AbortedTransactions; broker-side readers get it here.)
 * Records of open transactions are not visible anyway: readers stop at the
 * last stable offset.
 */
import { decodeBatch, isControl, isTransactional, iterateBatches } from "../log/record-batch.ts";
import type { StoredRecord } from "../log/types.ts";
import type { ProducerStateManager } from "./producer-state.ts";

export function decodeCommittedRecords(
  buf: Uint8Array,
  fromOffset: number,
  producers: ProducerStateManager,
): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (const b of iterateBatches(buf)) {
    const h = b.header;
    if (isControl(h.attributes) || h.baseOffset + h.lastOffsetDelta < fromOffset) continue;
    if (isTransactional(h.attributes) && producers.isAborted(h.producerId, h.baseOffset)) continue;
    const { records } = decodeBatch(buf, b.pos);
    for (const r of records) if (r.offset >= fromOffset) out.push(r);
  }
  return out;
}
