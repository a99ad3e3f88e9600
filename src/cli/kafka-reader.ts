/**
 * Reading over the Kafka protocol for `eddy consume` / `eddy perf consume`.
 *
 * - Assigned partitions (no group, or --partition/--offset): one Fetch loop
 *   per partition leader, all partitions in one request, starting at the
 *   given offsets; control batches are skipped; an out-of-range offset
 *   moves to the nearest end with a warning. With a group, commits go
 *   through OffsetCommit as a simple (memberless) consumer.
 * - "subscribe": a real group member (@platformatic/kafka's Consumer:
 *   JoinGroup, SyncGroup, Heartbeat, OffsetCommit, LeaveGroup on close),
 *   starting at the committed offsets, else earliest/latest.
 */
import { Admin, type ClusterMetadata, Consumer, type Message } from "@platformatic/kafka";
import type { ConsumedRecord, ReadBatch, ReaderOptions, RecordReader } from "./backend.ts";
import { ApiError } from "./client.ts";
import type { ClientOptions } from "./kafka-config.ts";
import { mergeLoops, type ReadLoop } from "./reader-loops.ts";

export interface KafkaReaderOptions extends ReaderOptions {
  clientOptions: (clientId: string) => ClientOptions;
  call: <T>(fn: () => Promise<T>) => Promise<T>;
}

const CONTROL = 0x20;
const PARTITION_MAX_BYTES = 1024 * 1024;
const text = new TextDecoder();

export async function openKafkaReader(opts: KafkaReaderOptions): Promise<RecordReader> {
  return opts.assignment === "subscribe" ? openMember(opts) : openAssigned(opts, opts.assignment);
}

function openAssigned(opts: KafkaReaderOptions, assignment: Map<number, number>): RecordReader {
  const consumer = new Consumer({
    ...opts.clientOptions("eddy-cli-consumer"),
    groupId: opts.group ?? "eddy-cli",
  });
  let admin: Admin | null = null;
  // Fetch maps topic ids to names (Fetch v12 and older) from the metadata of tracked topics.
  consumer.topics.track(opts.topic);
  const loop: ReadLoop = async (emit, signal) => {
    const md: ClusterMetadata = await opts.call(() =>
      consumer.metadata({ topics: [opts.topic], forceUpdate: true }),
    );
    const topic = md.topics.get(opts.topic);
    if (!topic)
      throw new ApiError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${opts.topic} does not exist`, 0, false);
    const next = new Map(assignment);
    const byLeader = new Map<number, number[]>();
    for (const p of next.keys()) {
      const leader = topic.partitions[p]?.leader ?? -1;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    const perLeader = [...byLeader].map(([node, partitions]) =>
      fetchLoop({ opts, consumer, node, topicId: topic.id, partitions, next, emit, signal }),
    );
    await Promise.all(perLeader);
  };
  return {
    batches: () => mergeLoops([loop], opts.signal),
    async commit(partition, offset) {
      if (opts.group === undefined) return;
      const group = opts.group;
      admin ??= new Admin(opts.clientOptions("eddy-cli-admin"));
      const a = admin;
      await opts.call(() =>
        a.alterConsumerGroupOffsets({
          groupId: group,
          topics: [{ name: opts.topic, partitionOffsets: [{ partition, offset: BigInt(offset) }] }],
        }),
      );
    },
    async close() {
      await consumer.close(true).catch(() => {});
      await admin?.close().catch(() => {});
    },
  };
}

interface FetchLoopOptions {
  opts: KafkaReaderOptions;
  consumer: Consumer;
  node: number;
  topicId: string;
  partitions: number[];
  next: Map<number, number>;
  emit: (b: ReadBatch) => Promise<void>;
  signal: AbortSignal;
}

async function fetchLoop(f: FetchLoopOptions): Promise<void> {
  const { opts, consumer, next, signal } = f;
  while (!signal.aborted) {
    let res: Awaited<ReturnType<Consumer["fetch"]>>;
    try {
      res = await consumer.fetch({
        node: f.node,
        maxWaitTime: opts.pollMs,
        minBytes: 1,
        topics: [
          {
            topicId: f.topicId,
            partitions: f.partitions.map((p) => ({
              partition: p,
              fetchOffset: BigInt(next.get(p)!),
              partitionMaxBytes: PARTITION_MAX_BYTES,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            })),
          },
        ],
      });
    } catch (err) {
      if (signal.aborted) return;
      if (hasApiId(err, "OFFSET_OUT_OF_RANGE")) {
        await clampOffsets(f);
        continue;
      }
      throw err;
    }
    if (signal.aborted) return;
    for (const t of res.responses) {
      for (const p of t.partitions) {
        const from = next.get(p.partitionIndex);
        if (from === undefined) continue;
        const records: ConsumedRecord[] = [];
        let after = from;
        for (const batch of p.records ?? []) {
          const base = Number(batch.firstOffset);
          const end = base + batch.lastOffsetDelta + 1;
          if ((batch.attributes & CONTROL) === 0) {
            for (const r of batch.records) {
              const offset = base + r.offsetDelta;
              if (offset < from) continue;
              records.push({
                offset,
                timestamp: Number(batch.firstTimestamp + r.timestampDelta),
                key: r.key,
                value: r.value,
                headers: r.headers.map(([k, v]) => ({ key: k === null ? "" : text.decode(k), value: v })),
              });
            }
          }
          after = Math.max(after, end);
        }
        next.set(p.partitionIndex, after);
        if (records.length > 0) await f.emit({ partition: p.partitionIndex, records });
        if (signal.aborted) return;
      }
    }
  }
}

/** After OFFSET_OUT_OF_RANGE: move every partition outside its range to the nearest end. */
async function clampOffsets(f: FetchLoopOptions): Promise<void> {
  const { opts, consumer, next } = f;
  const ask = (timestamp: bigint) =>
    opts.call(() =>
      consumer.listOffsets({ topics: [opts.topic], partitions: { [opts.topic]: f.partitions }, timestamp }),
    );
  const [earliest, latest] = await Promise.all([ask(-2n), ask(-1n)]);
  for (const p of f.partitions) {
    const lo = Number(earliest.get(opts.topic)?.[p] ?? 0n);
    const hi = Number(latest.get(opts.topic)?.[p] ?? 0n);
    const at = next.get(p)!;
    if (at >= lo && at <= hi) continue;
    const to = at < lo ? lo : hi;
    opts.warn(`offset ${at} of ${opts.topic}-${p} is out of range; continuing at ${to}`);
    next.set(p, to);
  }
}

function hasApiId(err: unknown, id: string, depth = 0): boolean {
  if (err === null || typeof err !== "object" || depth > 8) return false;
  const e = err as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (e.apiId === id) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => hasApiId(x, id, depth + 1))) return true;
  return hasApiId(e.cause, id, depth + 1);
}

/** A group member: the coordinator assigns partitions; the stream follows rebalances. */
async function openMember(opts: KafkaReaderOptions): Promise<RecordReader> {
  const group = opts.group;
  if (group === undefined) throw new Error("subscribing needs a group");
  const consumer = new Consumer({
    ...opts.clientOptions("eddy-cli-consumer"),
    groupId: group,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    rebalanceTimeout: 10_000,
  });
  const stream = await opts.call(() =>
    consumer.consume({
      topics: [opts.topic],
      mode: "committed",
      fallbackMode: opts.fromBeginning ? "earliest" : "latest",
      autocommit: false,
      maxWaitTime: opts.pollMs,
    }),
  );
  const loop: ReadLoop = async (emit, signal) => {
    const onAbort = () => void stream.close().catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const m of stream as AsyncIterable<Message>) {
        if (signal.aborted) break;
        await emit({ partition: m.partition, records: [fromMessage(m)] });
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  };
  return {
    batches: () => mergeLoops([loop], opts.signal),
    async commit(partition, offset) {
      try {
        await consumer.commit({
          offsets: [{ topic: opts.topic, partition, offset: BigInt(offset), leaderEpoch: -1 }],
        });
      } catch (err) {
        // Lost the partition in a rebalance: its new owner carries on from the last commit.
        if (hasApiId(err, "REBALANCE_IN_PROGRESS") || hasApiId(err, "ILLEGAL_GENERATION")) {
          opts.warn(`could not commit ${opts.topic}-${partition} at ${offset}: the group is rebalancing`);
          return;
        }
        throw await opts.call(() => Promise.reject(err)).catch((e: unknown) => e);
      }
    },
    async close() {
      await stream.close().catch(() => {});
      await consumer.close().catch(() => {}); // leaves the group
    },
  };
}

function fromMessage(m: Message): ConsumedRecord {
  return {
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: m.headerEntries.map(([k, v]) => ({ key: text.decode(k), value: v ?? null })),
  };
}
