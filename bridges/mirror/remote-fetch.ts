/**
 * Reading records from the central cluster with explicit offsets (the
 * downlink and the probes for a partition's offsets), over the client's
 * low-level Fetch: one request per leader, read_committed, control batches
 * dropped. Partition-level errors come back per partition (the client
 * rejects the whole call but attaches the response).
 *
 * Aborted transactions are dropped here (see decodePartition).
 */
import { type Consumer, FetchIsolationLevels } from "@platformatic/kafka";

const IS_CONTROL = 1 << 5;
const IS_TRANSACTIONAL = 1 << 4;
const ZERO_UUID = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;

export interface FetchedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer | null, Buffer | null]>;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  /** Kafka error code (0 = none); OFFSET_OUT_OF_RANGE = 1. */
  errorCode: number;
  logStartOffset: number;
  highWatermark: number;
  /** Records at or after the requested offset, in offset order. */
  records: FetchedRecord[];
  /** Where the next fetch starts (after the last record, skipped control or aborted batch). */
  nextOffset: number;
}

export interface FetchWant {
  topic: string;
  partition: number;
  offset: number;
}

export const KAFKA_OFFSET_OUT_OF_RANGE = 1;

/** Fetch `wants` (each at its offset); one result per want that the cluster answered. */
export async function fetchPartitions(
  reader: Consumer<Buffer, Buffer, Buffer, Buffer>,
  wants: readonly FetchWant[],
  opts: {
    maxWaitMs: number;
    partitionMaxBytes: number;
    deadline: <T>(what: string, p: Promise<T>) => Promise<T>;
  },
): Promise<FetchedPartition[]> {
  if (wants.length === 0) return [];
  const topics = [...new Set(wants.map((w) => w.topic))];
  trackTopics(reader, topics);
  const meta = await opts.deadline("metadata", reader.metadata({ topics, forceUpdate: false }));
  const byLeader = new Map<number, Map<string, FetchWant[]>>();
  const idOf = new Map<string, string>();
  for (const w of wants) {
    const info = meta.topics.get(w.topic);
    const leader = info?.partitions[w.partition]?.leader;
    if (info === undefined || leader === undefined || leader < 0) continue;
    const topicId = ZERO_UUID.test(info.id) ? w.topic : info.id;
    idOf.set(topicId, w.topic);
    const perTopic = byLeader.get(leader) ?? new Map<string, FetchWant[]>();
    perTopic.set(topicId, [...(perTopic.get(topicId) ?? []), w]);
    byLeader.set(leader, perTopic);
  }
  const results = await Promise.all(
    [...byLeader].map(async ([node, perTopic]) => {
      let response: FetchResponseLike;
      try {
        response = (await opts.deadline(
          "fetch",
          reader.fetch({
            node,
            topics: [...perTopic].map(([topicId, ws]) => ({
              topicId,
              partitions: ws.map((w) => ({
                partition: w.partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(w.offset),
                lastFetchedEpoch: -1,
                partitionMaxBytes: opts.partitionMaxBytes,
              })),
            })),
            maxWaitTime: opts.maxWaitMs,
            minBytes: 1,
            maxBytes: opts.partitionMaxBytes * Math.max(1, wants.length),
            isolationLevel: FetchIsolationLevels.READ_COMMITTED,
          }),
        )) as unknown as FetchResponseLike;
      } catch (err) {
        // Partition-level errors (OFFSET_OUT_OF_RANGE, ...) still carry the response.
        const attached = (err as { response?: FetchResponseLike }).response;
        if (!attached?.responses?.length) throw err;
        response = attached;
      }
      const out: FetchedPartition[] = [];
      for (const t of response.responses) {
        const topic = idOf.get(t.topicId) ?? t.topicId;
        for (const p of t.partitions) {
          const want = perTopic.get(t.topicId)?.find((w) => w.partition === p.partitionIndex);
          if (want === undefined) continue;
          out.push(decodePartition(topic, want.offset, p));
        }
      }
      return out;
    }),
  );
  return results.flat();
}

/**
 * The client maps topic ids back to names (Fetch v12 and older, e.g. Eddy)
 * only for topics it tracks; a bare fetch() otherwise sends the id as a name.
 */
export function trackTopics(
  reader: Consumer<Buffer, Buffer, Buffer, Buffer>,
  topics: readonly string[],
): void {
  for (const t of topics) if (!reader.topics.has(t)) reader.topics.track(t);
}

/**
 * Records of one partition from `from` on, without control batches and
 * without batches of aborted transactions. The broker lists (read_committed)
 * only transactions already aborted, so a listed producer's transactional
 * batches from the listed first offset up to its next marker are dropped,
 * whether or not the marker is in this response (Kafka's consumer does the
 * same; the client's own filter keeps them when the marker is missing and
 * only knows one aborted range per producer). Exported for tests.
 */
export function decodePartition(
  topic: string,
  from: number,
  p: FetchResponsePartitionLike,
): FetchedPartition {
  const records: FetchedRecord[] = [];
  let nextOffset = from;
  const pending = [...(p.abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const aborting = new Set<bigint>();
  for (const batch of p.records ?? []) {
    const base = Number(batch.firstOffset);
    const last = base + batch.lastOffsetDelta;
    while (pending.length > 0 && Number(pending[0]!.firstOffset) <= last) {
      aborting.add(pending.shift()!.producerId);
    }
    if (last < from) continue;
    nextOffset = Math.max(nextOffset, last + 1);
    if (batch.attributes & IS_CONTROL) {
      aborting.delete(batch.producerId); // the marker ends the producer's transaction
      continue;
    }
    if (batch.attributes & IS_TRANSACTIONAL && aborting.has(batch.producerId)) continue;
    for (const r of batch.records) {
      const offset = base + r.offsetDelta;
      if (offset < from) continue;
      records.push({
        offset,
        timestamp: Number(batch.firstTimestamp + r.timestampDelta),
        key: r.key,
        value: r.value,
        headers: r.headers,
      });
    }
  }
  return {
    topic,
    partition: p.partitionIndex,
    errorCode: p.errorCode,
    logStartOffset: Number(p.logStartOffset),
    highWatermark: Number(p.highWatermark),
    records,
    nextOffset,
  };
}

export interface FetchResponsePartitionLike {
  partitionIndex: number;
  errorCode: number;
  logStartOffset: bigint;
  highWatermark: bigint;
  abortedTransactions?: Array<{ producerId: bigint; firstOffset: bigint }> | null;
  records?: Array<{
    firstOffset: bigint;
    lastOffsetDelta: number;
    attributes: number;
    producerId: bigint;
    firstTimestamp: bigint;
    records: Array<{
      offsetDelta: number;
      timestampDelta: bigint;
      key: Buffer | null;
      value: Buffer | null;
      headers: Array<[Buffer | null, Buffer | null]>;
    }>;
  }> | null;
}

interface FetchResponseLike {
  responses: Array<{ topicId: string; partitions: FetchResponsePartitionLike[] }>;
}
