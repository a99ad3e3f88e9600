/**
 * Typed calls to Eddy's REST API (src/http routes), one method per endpoint
 * the CLI uses. Shapes mirror the server's JSON; binary data travels base64.
 */
import { ApiError, type HttpClient, seg } from "./client.ts";

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

export interface ProduceRecordJson {
  key?: string | null;
  value: string | null;
  headers?: Array<{ key: string; value: string | null }>;
  partition?: number;
  timestamp?: number;
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

export type ResetTo =
  | "earliest"
  | "latest"
  | { offset: number }
  | { timestamp: number }
  | { shiftBy: number };

export interface ResetResultJson {
  group: string;
  topic: string;
  dryRun: boolean;
  partitions: Array<{ partition: number; previousOffset: number | null; newOffset: number }>;
}

export type Acks = 0 | 1 | -1;

export class Api {
  readonly http: HttpClient;
  readonly signal: AbortSignal | undefined;

  constructor(http: HttpClient, signal?: AbortSignal) {
    this.http = http;
    this.signal = signal;
  }

  get url(): string {
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

  createTopic(body: {
    name: string;
    partitions?: number;
    replicationFactor?: number;
    configs?: Record<string, string>;
  }): Promise<TopicJson> {
    return this.call<TopicJson>("POST", "/v1/topics", { body });
  }

  describeTopic(topic: string): Promise<TopicJson> {
    return this.call<TopicJson>("GET", `/v1/topics/${seg(topic)}`);
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.call<unknown>("DELETE", `/v1/topics/${seg(topic)}`);
  }

  async getConfigs(topic: string): Promise<ConfigEntryJson[]> {
    const r = await this.call<unknown>("GET", `/v1/topics/${seg(topic)}/configs`);
    return normaliseConfigs(r);
  }

  async alterConfigs(
    topic: string,
    set: Record<string, string>,
    reset: string[],
  ): Promise<ConfigEntryJson[]> {
    const body: { set?: Record<string, string>; reset?: string[] } = {};
    if (Object.keys(set).length > 0) body.set = set;
    if (reset.length > 0) body.reset = reset;
    const r = await this.call<unknown>("PATCH", `/v1/topics/${seg(topic)}/configs`, { body });
    return normaliseConfigs(r);
  }

  createPartitions(topic: string, count: number): Promise<TopicJson> {
    return this.call<TopicJson>("POST", `/v1/topics/${seg(topic)}/partitions`, { body: { count } });
  }

  produce(
    topic: string,
    body: {
      records: ProduceRecordJson[];
      keyEncoding?: "json" | "string" | "base64";
      valueEncoding?: "json" | "string" | "base64";
      headerEncoding?: "string" | "base64";
      acks?: Acks;
    },
  ): Promise<ProduceResultJson> {
    return this.call<ProduceResultJson>("POST", `/v1/topics/${seg(topic)}/records`, { body });
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

  listOffset(
    topic: string,
    partition: number,
    at: "earliest" | "latest" | number,
  ): Promise<{ offset: number }> {
    return this.call<{ offset: number }>("GET", `/v1/topics/${seg(topic)}/partitions/${partition}/offsets`, {
      query: { at },
    });
  }

  deleteRecords(
    topic: string,
    partition: number,
    beforeOffset: number,
  ): Promise<{ logStartOffset?: number; lowWatermark?: number }> {
    return this.call("POST", `/v1/topics/${seg(topic)}/partitions/${partition}/delete-records`, {
      body: { beforeOffset },
    });
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

  resetOffsets(
    group: string,
    body: { topic: string; partitions?: number[]; to: ResetTo; dryRun: boolean },
  ): Promise<ResetResultJson> {
    return this.call<ResetResultJson>("POST", `/v1/groups/${seg(group)}/reset-offsets`, { body });
  }

  async deleteGroup(group: string): Promise<void> {
    await this.call<unknown>("DELETE", `/v1/groups/${seg(group)}`);
  }
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
