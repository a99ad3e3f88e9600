/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2, seed
 * 0x9747b28c) and the default partitioner's key → partition mapping, so that
 * Eddy places keyed records on the same partition as Java clients, librdkafka
 * (murmur2_random) and kafkajs' JavaCompatiblePartitioner.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka murmur2 of `data`, as a signed 32-bit int (same as Java). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // Java's switch with fall-through over the 0-3 trailing bytes.
  const rest = length & 3;
  if (rest === 3) h ^= data[length4 + 2]! << 16;
  if (rest >= 2) h ^= data[length4 + 1]! << 8;
  if (rest >= 1) {
    h ^= data[length4]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's Utils.toPositive: clears the sign bit (not Math.abs). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** Partition of a non-null key, as Kafka's default partitioner computes it. */
export function kafkaPartition(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions;
}
