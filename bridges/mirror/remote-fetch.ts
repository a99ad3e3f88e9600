/**
 * Reading records from the central cluster with explicit offsets (the
 * downlink and the probes for a partition's offsets), over the client's
 * low-level Fetch: one request per leader, read_committed, control batches
 * dropped. Partition-level errors come back per partition (the client
 * rejects the whole call but attaches the response).
 *
 * Aborted transactions: the client drops aborted batches only when the
 * abort marker is in the same response; records of a transaction whose
 * marker is further on are held back here (the result ends before them),
 * so the next fetch, starting there, sees the marker or the commit.
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
  /** Where the next fetch starts (after the last record or skipped control batch). */
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

function decodePartition(topic: string, from: number, p: FetchResponsePartitionLike): FetchedPartition {
  const records: FetchedRecord[] = [];
  let nextOffset = from;
  const aborted = new Map<bigint, bigint>(); // producer id -> first offset of an aborted txn still open here
  for (const a of p.abortedTransactions ?? []) aborted.set(a.producerId, a.firstOffset);
  let blocked = false;
  for (const batch of p.records ?? []) {
    const base = Number(batch.firstOffset);
    const last = base + batch.lastOffsetDelta;
    if (last < from) continue;
    if (batch.attributes & IS_CONTROL) {
      aborted.delete(batch.producerId);
      if (!blocked) nextOffset = Math.max(nextOffset, last + 1);
      continue;
    }
    const abortedFrom = aborted.get(batch.producerId);
    if (
      batch.attributes & IS_TRANSACTIONAL &&
      abortedFrom !== undefined &&
      batch.firstOffset >= abortedFrom
    ) {
      blocked = true; // the marker is further on: stop here, fetch again from this batch
    }
    if (blocked) break;
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
    nextOffset = Math.max(nextOffset, last + 1);
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

interface FetchResponsePartitionLike {
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
