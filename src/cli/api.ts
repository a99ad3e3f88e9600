/**
 * The HTTP backend: typed calls to Eddy's REST API (src/http routes), one
 * method per endpoint the CLI uses, behind the transport-neutral CliBackend
 * (backend.ts). JSON shapes mirror the server's; binary data travels base64.
 */
import type {
  Acks,
  CliBackend,
  CreateTopicSpec,
  ProducedOffset,
  ProduceRecord,
  ReaderOptions,
  RecordReader,
  ResetRequest,
  ResetResult,
  TopicDescription,
} from "./backend.ts";
import { recordFromBase64 } from "../util/base64-record.ts";
import { ApiError, type HttpClient, seg } from "./client.ts";
import { mergeLoops, type ReadLoop } from "./reader-loops.ts";

export type { Acks, ResetTo } from "./backend.ts";

export interface TopicSummaryJson {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export interface PartitionInfoJson {
  partition: number;
  leader: number;
  leaderEpoch?: number;
  replicas?: number[];
  isr?: number[];
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  lastStableOffset?: number;
  sizeBytes: number;
  segments?: number;
}

export interface TopicJson {
  name: string;
  id?: string;
  replicationFactor: number;
  partitions: PartitionInfoJson[];
  configs: Record<string, string | number>;
  overrides: Record<string, string>;
}

export interface ConfigEntryJson {
  name: string;
  value: string | number | null;
  isDefault: boolean;
}

export interface ProduceResultJson {
  topic: string;
  /** Per input record, in input order (offset -1 with acks=0). */
  records: Array<{ partition: number; offset: number }>;
}

export interface RecordJson {
  partition?: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Array<{ key: string; value: string | null }>;
}

export interface ReadResultJson {
  records: RecordJson[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

export interface GroupPartitionJson {
  topic: string;
  partition: number;
  committedOffset: number;
  logEndOffset: number;
  highWatermark: number;
  lag: number;
}

export class Api implements CliBackend {
  readonly http: HttpClient;
  readonly signal: AbortSignal | undefined;
  readonly groupMembership = false;

  constructor(http: HttpClient, signal?: AbortSignal) {
    this.http = http;
    this.signal = signal;
  }

  get url(): string {
    return this.http.baseUrl;
  }

  get target(): string {
    return this.http.baseUrl;
  }

  private call<T>(
    method: string,
    path: string,
    opts: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
  ) {
    return this.http.request<T>(method, path, { ...opts, ...(this.signal ? { signal: this.signal } : {}) });
  }

  /** Fails with NoBrokerError when nothing answers. */
  async ping(): Promise<void> {
    try {
      await this.call<unknown>("GET", "/health");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err; // a degraded broker still answers
    }
  }

  async listTopics(): Promise<TopicSummaryJson[]> {
    const r = await this.call<{ topics: TopicSummaryJson[] }>("GET", "/v1/topics");
    return r.topics;
  }

  async createTopic(body: CreateTopicSpec): Promise<void> {
    await this.call<TopicJson>("POST", "/v1/topics", { body });
  }

  async describeTopic(topic: string): Promise<TopicDescription> {
    const t = await this.call<TopicJson>("GET", `/v1/topics/${seg(topic)}`);
    return {
      name: t.name,
      id: t.id,
      replicationFactor: t.replicationFactor,
      overrides: t.overrides ?? {},
      partitions: t.partitions.map((p) => ({
        partition: p.partition,
        leader: p.leader,
        logStartOffset: p.logStartOffset,
        logEndOffset: p.logEndOffset,
        highWatermark: p.highWatermark,
        sizeBytes: p.sizeBytes,
      })),
    };
  }

  async partitionsOf(topic: string): Promise<number[]> {
    const t = await this.call<TopicJson>("GET", `/v1/topics/${seg(topic)}`);
    return t.partitions.map((p) => p.partition).sort((a, b) => a - b);
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.call<unknown>("DELETE", `/v1/topics/${seg(topic)}`);
  }

  async getConfigs(topic: string): Promise<ConfigEntryJson[]> {
    const r = await this.call<unknown>("GET", `/v1/topics/${seg(topic)}/configs`);
    return normaliseConfigs(r);
  }

  async alterConfigs(topic: string, set: Record<string, string>, reset: string[]): Promise<void> {
    const body: { set?: Record<string, string>; reset?: string[] } = {};
    if (Object.keys(set).length > 0) body.set = set;
    if (reset.length > 0) body.reset = reset;
    await this.call<unknown>("PATCH", `/v1/topics/${seg(topic)}/configs`, { body });
  }

  async createPartitions(topic: string, count: number): Promise<number> {
    const t = await this.call<TopicJson>("POST", `/v1/topics/${seg(topic)}/partitions`, {
      body: { count },
    });
    return t.partitions?.length ?? count;
  }

  async produce(topic: string, records: ProduceRecord[], acks: Acks): Promise<ProducedOffset[]> {
    const res = await this.call<ProduceResultJson>("POST", `/v1/topics/${seg(topic)}/records`, {
      body: { records, keyEncoding: "string", valueEncoding: "string", headerEncoding: "string", acks },
    });
    return res.records ?? [];
  }

  readRecords(
    topic: string,
    partition: number,
    q: { offset: number; maxRecords?: number; maxWaitMs?: number },
    signal?: AbortSignal,
  ): Promise<ReadResultJson> {
    return this.http.request<ReadResultJson>(
      "GET",
      `/v1/topics/${seg(topic)}/partitions/${partition}/records`,
      {
        query: { ...q, keyEncoding: "base64", valueEncoding: "base64", headerEncoding: "base64" },
        ...((signal ?? this.signal) ? { signal: signal ?? this.signal } : {}),
      },
    );
  }

  async listOffset(topic: string, partition: number, at: "earliest" | "latest" | number): Promise<number> {
    const r = await this.call<{ offset: number }>(
      "GET",
      `/v1/topics/${seg(topic)}/partitions/${partition}/offsets`,
      { query: { at } },
    );
    return r.offset;
  }

  async deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number> {
    const res = await this.call<{ logStartOffset?: number; lowWatermark?: number }>(
      "POST",
      `/v1/topics/${seg(topic)}/partitions/${partition}/delete-records`,
      { body: { beforeOffset } },
    );
    return res.lowWatermark ?? res.logStartOffset ?? beforeOffset;
  }

  async listGroups(): Promise<string[]> {
    return (await this.call<{ groups: string[] }>("GET", "/v1/groups")).groups;
  }

  async describeGroup(group: string): Promise<GroupPartitionJson[]> {
    return (await this.call<{ partitions: GroupPartitionJson[] }>("GET", `/v1/groups/${seg(group)}`))
      .partitions;
  }

  /** Not cancelled by Ctrl-C: records already printed get their commit. */
  async commitOffsets(group: string, offsets: Array<{ topic: string; partition: number; offset: number }>) {
    await this.http.request<unknown>("POST", `/v1/groups/${seg(group)}/offsets`, { body: { offsets } });
  }

  resetOffsets(group: string, body: ResetRequest): Promise<ResetResult> {
    return this.call<ResetResult>("POST", `/v1/groups/${seg(group)}/reset-offsets`, { body });
  }

  async deleteGroup(group: string): Promise<void> {
    await this.call<unknown>("DELETE", `/v1/groups/${seg(group)}`);
  }

  /** One long-poll loop per assigned partition; a group only commits (HTTP has no membership). */
  async openReader(opts: ReaderOptions): Promise<RecordReader> {
    if (opts.assignment === "subscribe") {
      throw new Error("the HTTP API reads assigned partitions only: give the start offsets");
    }
    const loops = [...opts.assignment].map(([p, start]) => this.partitionLoop(opts, p, start));
    const group = opts.group;
    return {
      batches: () => mergeLoops(loops, opts.signal),
      commit: async (partition, offset) => {
        if (group !== undefined) await this.commitOffsets(group, [{ topic: opts.topic, partition, offset }]);
      },
      close: async () => {},
    };
  }

  private partitionLoop(opts: ReaderOptions, partition: number, start: number): ReadLoop {
    return async (emit, signal) => {
      let next = start;
      while (!signal.aborted) {
        let res: ReadResultJson;
        try {
          const want = Math.max(1, Math.min(opts.maxRecords(), 10_000));
          res = await this.readRecords(
            opts.topic,
            partition,
            { offset: next, maxRecords: want, maxWaitMs: opts.pollMs },
            signal,
          );
        } catch (err) {
          if (signal.aborted) return;
          if (err instanceof ApiError && err.code === "OFFSET_OUT_OF_RANGE") {
            next = await this.resetOutOfRange(opts, partition, next);
            continue;
          }
          throw err;
        }
        if (signal.aborted) return;
        const records = res.records.filter((r) => r.offset >= next).map(recordFromBase64);
        const last = records[records.length - 1];
        if (last !== undefined) {
          next = last.offset + 1;
          await emit({ partition, records });
        } else if (res.nextOffset > next) {
          next = res.nextOffset; // skipped control records or compacted gaps
        }
      }
    };
  }

  private async resetOutOfRange(opts: ReaderOptions, partition: number, offset: number): Promise<number> {
    const earliest = await this.listOffset(opts.topic, partition, "earliest");
    const to = offset < earliest ? earliest : await this.listOffset(opts.topic, partition, "latest");
    opts.warn(`offset ${offset} of ${opts.topic}-${partition} is out of range; continuing at ${to}`);
    return to;
  }

  async close(): Promise<void> {}
}

function normaliseConfigs(r: unknown): ConfigEntryJson[] {
  const body = r as { configs?: Record<string, string | number | null>; overrides?: Record<string, string> };
  const overrides = body.overrides ?? {};
  return Object.entries(body.configs ?? {}).map(([name, value]) => ({
    name,
    value,
    isDefault: !(name in overrides),
  }));
}
