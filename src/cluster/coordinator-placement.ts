/**
 * Where coordinators live in a cluster (Kafka's placement): the group
 * coordinator of group G is the leader of partition
 * `coordinatorPartition(G)` of the internal topic `__consumer_offsets`; the
 * transaction coordinator of transactional.id T is the leader of
 * `coordinatorPartition(T)` of `__transaction_state`. Both topics are
 * compacted, replicated (RF = min(3, data nodes)) and have a fixed partition
 * count: the count must never change once clients depend on the placement.
 *
 * The hash is Kafka's: `Utils.abs(key.hashCode()) % partitions`, with Java's
 * String.hashCode (h = 31·h + UTF-16 code unit, 32-bit) and Kafka's abs
 * (`n & 0x7fffffff`), so a group lands on the same partition number as in
 * Apache Kafka with the same partition count.
 */

export const CONSUMER_OFFSETS_TOPIC = "__consumer_offsets";
export const TRANSACTION_STATE_TOPIC = "__transaction_state";
/** Partitions of each coordinator topic (Kafka's defaults are 50; a small edge cluster needs few). */
export const COORDINATOR_PARTITIONS = 8;
/** Replication factor cap of the coordinator topics (Kafka's offsets.topic.replication.factor default). */
export const COORDINATOR_MAX_RF = 3;

/** Java's String.hashCode. */
export function javaHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The coordinator partition of a group id or transactional id. */
export function coordinatorPartition(key: string, partitions = COORDINATOR_PARTITIONS): number {
  return (javaHashCode(key) & 0x7fffffff) % partitions;
}
