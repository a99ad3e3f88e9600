/**
 * What a link reports, per link and per partition. `state` tells apart a
 * link that is merely connected from one that is actually moving records:
 *
 * - connecting: no answer from the central cluster yet;
 * - forwarding: the last send was acknowledged and more records are owed or moving;
 * - idle: connected and caught up (nothing owed);
 * - down: the last attempt failed; `lastError` says why, retries continue.
 *
 * `mirroredOffset` is the next edge offset the link owes: every record below
 * it was acknowledged by the central cluster. Lag bytes are an estimate
 * (owed records x the average record size seen so far).
 */
export const MirrorState = {
  CONNECTING: "connecting",
  FORWARDING: "forwarding",
  IDLE: "idle",
  DOWN: "down",
} as const;
export type MirrorState = (typeof MirrorState)[keyof typeof MirrorState];

export interface MirrorError {
  message: string;
  /** Wall-clock ms. */
  at: number;
}

/** Offsets retention deleted before the link delivered them (forced by size retention). */
export interface SkippedRange {
  /** First skipped offset. */
  from: number;
  /** First offset after the skipped range. */
  to: number;
  at: number;
}

export interface MirrorPartitionStatus {
  topic: string;
  partition: number;
  remoteTopic: string;
  /** null with partition mapping by key. */
  remotePartition: number | null;
  priority: number;
  state: MirrorState;
  mirroredOffset: number;
  highWatermark: number;
  lagRecords: number;
  lagBytes: number;
  /** Age of the oldest owed record in ms (0 when caught up). */
  lagAgeMs: number;
  sentRecords: number;
  sentBytes: number;
  skippedRecords: number;
  /** The most recent skipped ranges (at most 10). */
  skipped: SkippedRange[];
  lastError: MirrorError | null;
  /** Wall-clock ms of the last acknowledged send, or null. */
  lastSentAt: number | null;
  /**
   * Failed attempts in a row (reconcile, produce, commit) since the last
   * acknowledged send. Each partition has its own transactions, so one that
   * central keeps rejecting (a record over its max.message.bytes, say) climbs
   * here and retries with backoff while the link's other partitions go on.
   */
  failedAttempts: number;
}

/**
 * One central partition mirrored down to the edge. `mirroredOffset` is the
 * next central offset owed to the edge: every record below it is durable in
 * the edge topic.
 */
export interface MirrorDownlinkPartitionStatus {
  /** Central topic. */
  remoteTopic: string;
  partition: number;
  edgeTopic: string;
  state: MirrorState;
  mirroredOffset: number;
  /** Central high watermark at the last fetch (null before the first answer). */
  remoteHighWatermark: number | null;
  lagRecords: number;
  receivedRecords: number;
  receivedBytes: number;
  /** Central offsets deleted by central retention before the edge got them. */
  skippedRecords: number;
  skipped: SkippedRange[];
  lastError: MirrorError | null;
  lastReceivedAt: number | null;
}

export interface MirrorLinkStatus {
  name: string;
  bootstrapServers: string[];
  /** down if any partition is down; else connecting, forwarding, idle in that order. */
  state: MirrorState;
  partitions: MirrorPartitionStatus[];
  /** Uplink only (edge → central); downlink lag is per downlink partition. */
  lagRecords: number;
  skippedRecords: number;
  lastError: MirrorError | null;
  /** Central partitions mirrored down to the edge (absent without a [downlink] table). */
  downlink?: MirrorDownlinkPartitionStatus[];
  /** Where the link is defined: eddy.toml, or the HTTP API (stored in `__mirror_links`). */
  source?: "config" | "api";
}

export function linkState(
  partitions: ReadonlyArray<{ state: MirrorState }>,
  fallback: MirrorState,
): MirrorState {
  if (partitions.length === 0) return fallback;
  for (const s of [MirrorState.DOWN, MirrorState.CONNECTING, MirrorState.FORWARDING] as const) {
    if (partitions.some((p) => p.state === s)) return s;
  }
  return MirrorState.IDLE;
}
