/**
 * Mirror link configuration (one zod schema; src/config embeds it later).
 * A link copies selected edge topics into one central Kafka cluster:
 *
 *   [[mirror.links]]
 *   name = "central"
 *   bootstrap_servers = ["kafka-1:9092"]
 *   topics = ["alarms", "/^sensors\\..+/"]     # names, or /regex/
 *   remote_naming = "prefix"                   # "{source.id}.{topic}" (default) or "identity"
 *   partition_mapping = "same"                 # or "by-key"
 *   priorities = { alarms = 10 }               # higher drains first after an outage
 *
 *   [mirror.links.downlink]                    # optional: central topics down to the edge
 *   topics = ["commands"]                      # central names, or /regex/
 *   edge_naming = "identity"                   # or "prefix": "{edge_prefix}.{topic}"
 *   start_position = "latest"
 *
 * Keys are snake_case like the rest of eddy.toml; parse with
 * `parseMirrorLinks` (errors name the key path and the bad value).
 */
import { z } from "zod";
import { EddyError, ErrorCode } from "../../src/broker/index.ts";

export const RemoteNaming = { PREFIX: "prefix", IDENTITY: "identity" } as const;
export type RemoteNaming = (typeof RemoteNaming)[keyof typeof RemoteNaming];

export const PartitionMapping = { SAME: "same", BY_KEY: "by-key" } as const;
export type PartitionMapping = (typeof PartitionMapping)[keyof typeof PartitionMapping];

export const StartPosition = { EARLIEST: "earliest", LATEST: "latest" } as const;
export type StartPosition = (typeof StartPosition)[keyof typeof StartPosition];

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** A topic selector: a plain name, or `/pattern/` (a JavaScript regex matched against the whole name). */
const topicSelector = z
  .string()
  .min(1)
  .refine((s) => !isRegexSelector(s) || compiles(s.slice(1, -1)), {
    message: "not a valid regular expression; write /pattern/ with a JavaScript regex",
  });

const tlsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** PEM text of the CA bundle (omit to use the system's). */
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    /** Accept any server certificate: only for testing. */
    insecure_skip_verify: z.boolean().default(false),
    server_name: z.string().optional(),
  })
  .strict();

const saslSchema = z
  .object({
    mechanism: z.enum(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]),
    username: z.string().min(1),
    password: z.string(),
  })
  .strict();

const batchSchema = z
  .object({
    /** Records per produce request and partition. */
    max_records: z.number().int().min(1).max(100_000).default(1000),
    /** Bytes (record values + keys) per produce request and partition. */
    max_bytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Wait this long for more records before sending a partial batch. */
    linger_ms: z.number().int().min(0).max(60_000).default(5),
  })
  .strict();

/** Central topics mirrored down into the edge broker (e.g. `commands` for devices). */
const downlinkSchema = z
  .object({
    /** Central topics: names or /regex/. Internal topics (`__…`) are never mirrored. */
    topics: z.array(topicSelector).min(1),
    /** Edge topic name: the central name ("identity"), or "{edge_prefix}.{topic}" ("prefix"). */
    edge_naming: z.enum([RemoteNaming.IDENTITY, RemoteNaming.PREFIX]).default(RemoteNaming.IDENTITY),
    /** Prefix for edge_naming = "prefix"; default: the link name. */
    edge_prefix: z.string().regex(NAME, "use 1-64 letters, digits, '.', '_' or '-'").optional(),
    /** Where a central partition without stored progress starts (latest: old commands are not replayed). */
    start_position: z.enum([StartPosition.EARLIEST, StartPosition.LATEST]).default(StartPosition.LATEST),
    /** Longest wait of one fetch at central when there is nothing new. */
    poll_wait_ms: z.number().int().min(0).max(30_000).default(500),
  })
  .strict();

export type MirrorDownlinkConfig = z.output<typeof downlinkSchema>;

export const mirrorLinkSchema = z
  .object({
    name: z.string().regex(NAME, "use 1-64 letters, digits, '.', '_' or '-'"),
    enabled: z.boolean().default(true),
    bootstrap_servers: z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, "use host:port")).min(1),
    client_id: z.string().min(1).optional(),
    tls: tlsSchema.optional(),
    sasl: saslSchema.optional(),
    /** Edge topics to mirror: names or /regex/. Internal topics (`__…`) are never mirrored. Empty: downlink only. */
    topics: z.array(topicSelector).default([]),
    /** `{source.id}` in remote names; default: the edge broker's cluster id. */
    source_id: z.string().regex(NAME, "use 1-64 letters, digits, '.', '_' or '-'").optional(),
    remote_naming: z.enum([RemoteNaming.PREFIX, RemoteNaming.IDENTITY]).default(RemoteNaming.PREFIX),
    partition_mapping: z
      .enum([PartitionMapping.SAME, PartitionMapping.BY_KEY])
      .default(PartitionMapping.SAME),
    batch: batchSchema.default(batchSchema.parse({})),
    compression: z.enum(["none", "gzip", "snappy", "lz4", "zstd"]).default("none"),
    /** Produce requests in flight per link (partitions wait their turn by priority). */
    max_in_flight: z.number().int().min(1).max(64).default(4),
    /** Upper bound of bytes sent per second by the whole link; 0 = unlimited. */
    bandwidth_bytes_per_sec: z.number().int().min(0).default(0),
    /** Per-topic priority (higher first when the link is the bottleneck); default 0. */
    priorities: z.record(z.string(), z.number().int().min(-1000).max(1000)).default({}),
    /** Where a partition without stored progress starts. */
    start_position: z.enum([StartPosition.EARLIEST, StartPosition.LATEST]).default(StartPosition.EARLIEST),
    /** How often to look for new topics and partitions at the edge. */
    discovery_interval_ms: z.number().int().min(100).default(10_000),
    /** Timeout of one produce request to central. */
    request_timeout_ms: z.number().int().min(100).default(30_000),
    /** First retry delay after an uplink error; doubles up to max_backoff_ms. */
    retry_backoff_ms: z.number().int().min(1).default(200),
    max_backoff_ms: z.number().int().min(1).default(10_000),
    /** How many records at the tail of a remote partition to scan for already-mirrored records after an outage or restart. */
    reconcile_scan_records: z.number().int().min(0).default(100_000),
    /** Central topics mirrored down to the edge (optional). */
    downlink: downlinkSchema.optional(),
  })
  .strict()
  .refine((link) => link.topics.length > 0 || link.downlink !== undefined, {
    message: "a link needs topics to mirror up or a [downlink] table (or both)",
    path: ["topics"],
  });

export type MirrorLinkConfig = z.output<typeof mirrorLinkSchema>;
export type MirrorLinkInput = z.input<typeof mirrorLinkSchema>;

export const mirrorLinksSchema = z.array(mirrorLinkSchema).superRefine((links, ctx) => {
  const seen = new Set<string>();
  links.forEach((link, i) => {
    if (seen.has(link.name)) {
      ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate link name '${link.name}'` });
    }
    seen.add(link.name);
  });
});

/** Validate link configs; throws INVALID_CONFIG naming the key path and the problem. */
export function parseMirrorLinks(input: unknown): MirrorLinkConfig[] {
  const result = mirrorLinksSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = ["mirror", "links", ...(issue?.path ?? [])].join(".");
  throw new EddyError(
    ErrorCode.INVALID_CONFIG,
    `invalid mirror link config at ${path}: ${issue?.message ?? "invalid"}; fix it in eddy.toml`,
    { path },
  );
}

export function isRegexSelector(selector: string): boolean {
  return selector.length >= 2 && selector.startsWith("/") && selector.endsWith("/");
}

/** Does an edge topic belong to the link? Internal topics (`__…`) never do. */
export function topicMatcher(selectors: readonly string[]): (topic: string) => boolean {
  const names = new Set<string>();
  const patterns: RegExp[] = [];
  for (const s of selectors) {
    if (isRegexSelector(s)) patterns.push(new RegExp(`^(?:${s.slice(1, -1)})$`));
    else names.add(s);
  }
  return (topic) => !topic.startsWith("__") && (names.has(topic) || patterns.some((p) => p.test(topic)));
}

/** The central topic an edge topic goes to. */
export function remoteTopicName(config: MirrorLinkConfig, sourceId: string, topic: string): string {
  return config.remote_naming === RemoteNaming.IDENTITY ? topic : `${sourceId}.${topic}`;
}

/** The edge topic a central topic comes down into. */
export function downlinkEdgeTopic(config: MirrorLinkConfig, topic: string): string {
  const d = config.downlink;
  if (d === undefined || d.edge_naming === RemoteNaming.IDENTITY) return topic;
  return `${d.edge_prefix ?? config.name}.${topic}`;
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
