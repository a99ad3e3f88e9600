/**
 * The Kafka-protocol backend of the CLI (`--bootstrap-server`), over
 * @platformatic/kafka: Admin for topics, configs, offsets and groups, a
 * Producer for produce, a Consumer for reads (kafka-reader.ts). Works
 * against any Kafka-compatible broker, Eddy's Kafka listener included.
 *
 * Produce picks partitions itself, as Kafka's Java client does (murmur2 of
 * the key, else round robin), so each record's offset is known from its
 * partition's base offset. Group offsets are reset and described
 * client-side from ListOffsets + OffsetFetch/OffsetCommit, as
 * kafka-consumer-groups.sh does (the group must have no active members).
 */
import { Admin, compatibilityPartitioner, Producer } from "@platformatic/kafka";
import type {
  Acks,
  CliBackend,
  ConfigEntry,
  CreateTopicSpec,
  GroupPartition,
  ProducedOffset,
  ProduceRecord,
  ReaderOptions,
  RecordReader,
  ResetRequest,
  ResetResult,
  TopicDescription,
  TopicSummary,
} from "./backend.ts";
import { ApiError } from "./client.ts";
import {
  clientOptions,
  connectionSettings,
  type KafkaConnectionSettings,
  toCliError,
} from "./kafka-config.ts";
import { openKafkaReader } from "./kafka-reader.ts";

const TOPIC = 2; // ConfigResource type
const DYNAMIC_TOPIC_CONFIG = 1; // DescribeConfigs config source
const SET = 0 as const;
const DELETE = 1 as const;

export interface OpenKafkaBackendOptions {
  bootstrap: string;
  commandConfig: string | undefined;
  signal: AbortSignal;
  usage: (message: string) => Error;
}

export async function openKafkaBackend(opts: OpenKafkaBackendOptions): Promise<CliBackend> {
  return new KafkaBackend(await connectionSettings(opts));
}

const big = (n: number) => BigInt(n);
const num = (n: bigint) => Number(n);
const bytes = (s: string | null | undefined) => (s === null || s === undefined ? undefined : Buffer.from(s));

class KafkaBackend implements CliBackend {
  readonly target: string;
  readonly groupMembership = true;
  private readonly admin: Admin;
  private producer: Producer | null = null;
  private readonly roundRobin = new Map<string, number>();
  /** Partition counts for produce, looked up once per topic and command. */
  private readonly partitionCounts = new Map<string, number>();
  private readonly readers = new Set<RecordReader>();

  constructor(private readonly settings: KafkaConnectionSettings) {
    this.target = settings.brokers.join(",");
    this.admin = new Admin(clientOptions(settings, "eddy-cli"));
  }

  /** Run a client call, mapping its errors to the CLI's. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toCliError(err, this.target);
    }
  }

  ping(): Promise<void> {
    return this.call(async () => {
      await this.admin.listApis();
    });
  }

  private async topicMetadata(topic: string) {
    const missing = () =>
      new ApiError("UNKNOWN_TOPIC_OR_PARTITION", `topic ${topic} does not exist: create it first`, 0, false);
    let md: Awaited<ReturnType<Admin["metadata"]>>;
    try {
      md = await this.admin.metadata({ topics: [topic], forceUpdate: true });
    } catch (err) {
      // The client reports an unknown topic as a generic error: ask which topics exist.
      const exists = await this.call(() => this.admin.listTopics({ includeInternals: true })).then(
        (names) => names.includes(topic),
        () => true,
      );
      throw exists ? toCliError(err, this.target) : missing();
    }
    const t = md.topics.get(topic);
    if (!t) throw missing();
    return t;
  }

  listTopics(): Promise<TopicSummary[]> {
    return this.call(async () => {
      const names = (await this.admin.listTopics()).sort();
      if (names.length === 0) return [];
      const md = await this.admin.metadata({ topics: names, forceUpdate: true });
      return names.map((name) => {
        const t = md.topics.get(name);
        return {
          name,
          partitions: t?.partitionsCount ?? 0,
          replicationFactor: t?.partitions[0]?.replicas.length ?? 0,
        };
      });
    });
  }

  async partitionsOf(topic: string): Promise<number[]> {
    const t = await this.topicMetadata(topic);
    return Array.from({ length: t.partitionsCount }, (_, i) => i);
  }

  async describeTopic(topic: string): Promise<TopicDescription> {
    const t = await this.topicMetadata(topic);
    const partitions = Array.from({ length: t.partitionsCount }, (_, i) => i);
    const [earliest, latest, configs] = await Promise.all([
      this.offsets(topic, partitions, -2),
      this.offsets(topic, partitions, -1),
      this.describeConfigs(topic),
    ]);
    const overrides: Record<string, string> = {};
    for (const c of configs) if (c.configSource === DYNAMIC_TOPIC_CONFIG) overrides[c.name] = c.value ?? "";
    return {
      name: topic,
      id: t.id,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      overrides,
      partitions: partitions.map((p) => ({
        partition: p,
        leader: t.partitions[p]?.leader ?? -1,
        logStartOffset: earliest.get(p) ?? 0,
        logEndOffset: latest.get(p) ?? 0,
        highWatermark: latest.get(p) ?? 0,
        sizeBytes: null,
      })),
    };
  }

  /** ListOffsets for many partitions: -2 earliest, -1 latest, else a timestamp. */
  private offsets(topic: string, partitions: number[], timestamp: number): Promise<Map<number, number>> {
    return this.call(async () => {
      const res = await this.admin.listOffsets({
        topics: [
          {
            name: topic,
            partitions: partitions.map((p) => ({ partitionIndex: p, timestamp: big(timestamp) })),
          },
        ],
      });
      const out = new Map<number, number>();
      for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, num(p.offset));
      return out;
    });
  }

  createTopic(spec: CreateTopicSpec): Promise<void> {
    return this.call(async () => {
      await this.admin.createTopics({
        topics: [spec.name],
        partitions: spec.partitions ?? -1,
        replicas: spec.replicationFactor ?? -1,
        configs: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
      });
    });
  }

  deleteTopic(topic: string): Promise<void> {
    return this.call(() => this.admin.deleteTopics({ topics: [topic] }));
  }

  createPartitions(topic: string, count: number): Promise<number> {
    return this.call(async () => {
      await this.admin.createPartitions({ topics: [{ name: topic, count, assignments: [] }] });
      return count;
    });
  }

  private async describeConfigs(topic: string) {
    const res = await this.call(() =>
      this.admin.describeConfigs({
        resources: [{ resourceType: TOPIC, resourceName: topic, configurationKeys: null }],
      }),
    );
    return res.flatMap((r) => r.configs);
  }

  async getConfigs(topic: string): Promise<ConfigEntry[]> {
    return (await this.describeConfigs(topic)).map((c) => ({
      name: c.name,
      value: c.value ?? null,
      isDefault: c.configSource !== DYNAMIC_TOPIC_CONFIG,
    }));
  }

  alterConfigs(topic: string, set: Record<string, string>, reset: string[]): Promise<void> {
    return this.call(() =>
      this.admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: TOPIC,
            resourceName: topic,
            configs: [
              ...Object.entries(set).map(([name, value]) => ({ name, configOperation: SET, value })),
              ...reset.map((name) => ({ name, configOperation: DELETE })),
            ],
          },
        ],
      }),
    );
  }

  async produce(topic: string, records: ProduceRecord[], acks: Acks): Promise<ProducedOffset[]> {
    let count = this.partitionCounts.get(topic);
    if (count === undefined) {
      count = (await this.topicMetadata(topic)).partitionsCount;
      this.partitionCounts.set(topic, count);
    }
    this.producer ??= new Producer(clientOptions(this.settings, "eddy-cli-producer"));
    const producer = this.producer;
    const n = count;
    const assigned = records.map((r) => this.partitionFor(topic, r, n));
    const messages = records.map((r, i) => ({
      topic,
      partition: assigned[i]!,
      key: bytes(r.key),
      value: bytes(r.value),
      headers: new Map((r.headers ?? []).map((h) => [Buffer.from(h.key), bytes(h.value) ?? Buffer.alloc(0)])),
    }));
    const res = await this.call(() => producer.send({ messages, acks }));
    const base = new Map<number, number>();
    for (const o of res.offsets ?? []) if (o.topic === topic) base.set(o.partition, num(o.offset));
    const seen = new Map<number, number>();
    return assigned.map((partition) => {
      const i = seen.get(partition) ?? 0;
      seen.set(partition, i + 1);
      const b = base.get(partition);
      return { partition, offset: acks === 0 || b === undefined ? -1 : b + i };
    });
  }

  /** Kafka's Java default: murmur2(key) for keyed records, else round robin. */
  private partitionFor(topic: string, r: ProduceRecord, count: number): number {
    if (r.partition !== undefined) return r.partition;
    if (r.key !== undefined && r.key !== null) {
      return compatibilityPartitioner(undefined as never, Buffer.from(r.key)) % count;
    }
    const n = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, n + 1);
    return n % count;
  }

  async listOffset(topic: string, partition: number, at: "earliest" | "latest" | number): Promise<number> {
    const ts = at === "earliest" ? -2 : at === "latest" ? -1 : at;
    const r = await this.offsets(topic, [partition], ts);
    const offset = r.get(partition);
    if (offset === undefined) {
      throw new ApiError("UNKNOWN_TOPIC_OR_PARTITION", `${topic}-${partition} does not exist`, 0, false);
    }
    return offset;
  }

  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number> {
    return this.call(async () => {
      const res = await this.admin.deleteRecords({
        topics: [{ name: topic, partitions: [{ partition, offset: big(beforeOffset) }] }],
      });
      const p = res.flatMap((t) => t.partitions).find((x) => x.partition === partition);
      return p ? num(p.lowWatermark) : beforeOffset;
    });
  }

  listGroups(): Promise<string[]> {
    return this.call(async () => [...(await this.admin.listGroups()).keys()].sort());
  }

  /** Committed offsets per topic-partition: Map<topic, Map<partition, offset>>. */
  private async committed(group: string, topic?: string): Promise<Map<string, Map<number, number>>> {
    const res = await this.call(() =>
      this.admin.listConsumerGroupOffsets({
        groups: [group],
      }),
    );
    const out = new Map<string, Map<number, number>>();
    for (const g of res) {
      for (const t of g.topics) {
        if (topic !== undefined && t.name !== topic) continue;
        const m = out.get(t.name) ?? new Map<number, number>();
        for (const p of t.partitions)
          if (p.committedOffset >= 0n) m.set(p.partitionIndex, num(p.committedOffset));
        out.set(t.name, m);
      }
    }
    return out;
  }

  async describeGroup(group: string): Promise<GroupPartition[]> {
    const committed = await this.committed(group);
    const rows: GroupPartition[] = [];
    for (const [topic, parts] of [...committed].sort(([a], [b]) => a.localeCompare(b))) {
      const ps = [...parts.keys()].sort((a, b) => a - b);
      if (ps.length === 0) continue;
      const latest = await this.offsets(topic, ps, -1);
      for (const p of ps) {
        const c = parts.get(p)!;
        const end = latest.get(p) ?? c;
        rows.push({
          topic,
          partition: p,
          committedOffset: c,
          logEndOffset: end,
          highWatermark: end,
          lag: Math.max(0, end - c),
        });
      }
    }
    return rows;
  }

  async resetOffsets(group: string, req: ResetRequest): Promise<ResetResult> {
    const all = await this.partitionsOf(req.topic);
    const partitions = req.partitions ?? all;
    for (const p of partitions) {
      if (!all.includes(p))
        throw new ApiError("UNKNOWN_TOPIC_OR_PARTITION", `${req.topic}-${p} does not exist`, 0, false);
    }
    const previous = (await this.committed(group, req.topic)).get(req.topic) ?? new Map<number, number>();
    const [earliest, latest] = await Promise.all([
      this.offsets(req.topic, partitions, -2),
      this.offsets(req.topic, partitions, -1),
    ]);
    const to = req.to;
    const byTime =
      typeof to === "object" && "timestamp" in to
        ? await this.offsets(req.topic, partitions, to.timestamp)
        : null;
    const rows = partitions.map((partition) => {
      const lo = earliest.get(partition) ?? 0;
      const hi = latest.get(partition) ?? 0;
      const prev = previous.get(partition) ?? null;
      let target: number;
      if (to === "earliest") target = lo;
      else if (to === "latest") target = hi;
      else if ("offset" in to) target = to.offset;
      else if ("timestamp" in to) {
        const t = byTime?.get(partition) ?? -1;
        target = t < 0 ? hi : t;
      } else {
        if (prev === null) {
          throw new ApiError(
            "INVALID_REQUEST",
            `group '${group}' has no committed offset for ${req.topic}/${partition} to shift: reset to an offset first`,
            0,
            false,
          );
        }
        target = prev + to.shiftBy;
      }
      return { partition, previousOffset: prev, newOffset: Math.min(Math.max(target, lo), hi) };
    });
    if (!req.dryRun) {
      await this.call(() =>
        this.admin.alterConsumerGroupOffsets({
          groupId: group,
          topics: [
            {
              name: req.topic,
              partitionOffsets: rows.map((r) => ({ partition: r.partition, offset: big(r.newOffset) })),
            },
          ],
        }),
      );
    }
    return { group, topic: req.topic, dryRun: req.dryRun, partitions: rows };
  }

  deleteGroup(group: string): Promise<void> {
    return this.call(() => this.admin.deleteGroups({ groups: [group] }));
  }

  async openReader(opts: ReaderOptions): Promise<RecordReader> {
    const reader = await openKafkaReader({
      ...opts,
      clientOptions: (id) => clientOptions(this.settings, id),
      call: (fn) => this.call(fn),
    });
    this.readers.add(reader);
    return {
      batches: () => reader.batches(),
      commit: (p, o) => reader.commit(p, o),
      close: async () => {
        this.readers.delete(reader);
        await reader.close();
      },
    };
  }

  async close(): Promise<void> {
    for (const r of this.readers) await r.close().catch(() => {});
    await this.producer?.close().catch(() => {});
    await this.admin.close().catch(() => {});
  }
}
