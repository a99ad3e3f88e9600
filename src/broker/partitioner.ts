/**
 * Record → partition placement, compatible with Kafka clients:
 * - a record with a key (even an empty one) goes to
 *   toPositive(murmur2(key)) % partitions, exactly as Java's and kafkajs'
 *   JavaCompatiblePartitioner place it;
 * - keyless records are sticky (KIP-480): all keyless records of one produce
 *   call go to the same partition, and the next call moves to the next
 *   partition (round robin over calls).
 */
import type { RecordInput } from "../log/types.ts";
import { kafkaPartition } from "../util/murmur2.ts";

export { kafkaPartition };

export interface StickyCursor {
  keylessCursor: number;
}

/** The partition of every record, in input order. */
export function assignPartitions(
  records: readonly RecordInput[],
  numPartitions: number,
  sticky: StickyCursor,
): number[] {
  let keyless = -1;
  return records.map((record) => {
    if (record.key !== undefined && record.key !== null) return kafkaPartition(record.key, numPartitions);
    if (keyless < 0) {
      keyless = sticky.keylessCursor % numPartitions;
      sticky.keylessCursor = (sticky.keylessCursor + 1) % numPartitions;
    }
    return keyless;
  });
}
