/**
 * Cluster mode: committed group offsets live in `__consumer_offsets`, as in
 * Kafka. The group's coordinator (the leader of its partition, see
 * coordinator-placement.ts) appends one record per committed partition with
 * acks=all and only then answers and updates its materialized view (the
 * MetadataStore's committed-offset rows, which stay the read path).
 *
 * Record format (JSON, UTF-8; the topic is compacted, so a key's latest
 * record is its state):
 *   key   {"type":"offset","group":G,"topic":T,"partition":P}
 *   value {"offset":O,"leaderEpoch":E,"metadata":M,"commitTimestamp":MS,"topicId":ID}
 *         or null (tombstone: the offset was deleted, e.g. with its group)
 *
 * When this node becomes the leader of a partition it replaces the rows of
 * every group mapped to that partition with what the partition holds (read
 * to the high watermark) before serving those groups. Rows of groups it does
 * not coordinate may linger (stale): nothing reads them, and the next load
 * replaces them.
 *
 * Deleted topics: every node drops the rows of a deleted topic when it
 * applies the deletion (metadata-machine.ts); the coordinator also writes
 * tombstones for the offsets of that topic it holds (`topicsChanged`, after
 * every metadata change), so compaction forgets them. A load skips offsets
 * of topics that no longer exist, or that were deleted and created again
 * (values carry the topic id), should a tombstone be missing (say the
 * coordinator died first).
 */
import type { CommittedOffset, MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { RecordInput, StoredRecord } from "../log/types.ts";
import type { TopicManager } from "../broker/topics.ts";
import { CoordinatorPartitions } from "./coordinator-partitions.ts";
import { CONSUMER_OFFSETS_TOPIC } from "./coordinator-placement.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ClusterGroupOffsetsOptions {
  topics: TopicManager;
  metadata: MetadataStore;
  dataNodes: () => number[];
  clock: Clock;
  logger: Logger;
  /** A partition moved away: drop its live groups (GroupCoordinator.unloadGroups). */
  onUnload: (inPartition: (groupId: string) => boolean) => void;
  appendTimeoutMs?: number;
}

interface OffsetKey {
  type: "offset";
  group: string;
  topic: string;
  partition: number;
}

export class ClusterGroupOffsets {
  readonly partitions: CoordinatorPartitions;

  constructor(private readonly o: ClusterGroupOffsetsOptions) {
    this.partitions = new CoordinatorPartitions({
      topic: CONSUMER_OFFSETS_TOPIC,
      topics: o.topics,
      dataNodes: o.dataNodes,
      clock: o.clock,
      logger: o.logger,
      appendTimeoutMs: o.appendTimeoutMs,
      load: async (k, records) => this.load(k, records),
      unload: (k) => {
        this.keys.delete(k);
        o.onUnload((g) => this.partitions.partitionFor(g) === k);
      },
    });
  }

  /** Offset keys (JSON) -> topic, per coordinator partition this node has loaded (for tombstones). */
  private readonly keys = new Map<number, Map<string, string>>();
  /** Topic name -> id as last seen by topicsChanged (null until the first call). */
  private knownTopics: Map<string, string> | null = null;

  /** Groups with committed offsets that this node coordinates now. */
  groups(): string[] {
    return this.o.metadata.listGroups().filter((g) => this.partitions.check(g) === null);
  }

  /** Replicate the commits (one group), then materialize them. Throws NOT_COORDINATOR etc. */
  async commit(group: string, rows: CommittedOffset[]): Promise<void> {
    const k = this.partitions.require(group);
    if (rows.length === 0) return;
    await this.partitions.append(
      k,
      rows.map((r) => offsetRecord(r, this.o.topics.get(r.topic)?.record.id ?? null)),
    );
    this.o.metadata.commitOffsets(rows);
    for (const r of rows) this.index(k).set(dec.decode(offsetKey(r)), r.topic);
  }

  /** Tombstone every committed offset of the group, then drop its rows. */
  async deleteGroup(group: string): Promise<void> {
    const k = this.partitions.require(group);
    const rows = this.o.metadata.fetchOffsets(group);
    if (rows.length > 0) {
      await this.partitions.append(
        k,
        rows.map((r) => ({ key: offsetKey(r), value: null })),
      );
    }
    this.o.metadata.deleteGroup(group);
    for (const r of rows) this.index(k).delete(dec.decode(offsetKey(r)));
  }

  /**
   * After every metadata change: tombstone the offsets this node holds of
   * topics deleted (or deleted and created again) since the last call. Best
   * effort: a load skips such offsets anyway.
   */
  topicsChanged(): void {
    const now = new Map(this.o.topics.all().map((t) => [t.record.name, t.record.id]));
    const before = this.knownTopics;
    this.knownTopics = now;
    if (!before) return;
    const gone = new Set([...before].filter(([name, id]) => now.get(name) !== id).map(([name]) => name));
    if (gone.size === 0) return;
    for (const [k, keys] of this.keys) {
      const doomed = [...keys].filter(([, topic]) => gone.has(topic)).map(([key]) => key);
      if (doomed.length === 0 || !this.partitions.owns(k)) continue;
      for (const key of doomed) keys.delete(key);
      this.partitions
        .append(
          k,
          doomed.map((key) => ({ key: enc.encode(key), value: null })),
        )
        .catch((err) =>
          this.o.logger.warn("offsets of a deleted topic not tombstoned; loads skip them", {
            topic: this.partitions.topic,
            partition: k,
            err,
          }),
        );
    }
  }

  private index(k: number): Map<string, string> {
    let m = this.keys.get(k);
    if (!m) {
      m = new Map();
      this.keys.set(k, m);
    }
    return m;
  }

  private async load(k: number, records: StoredRecord[]): Promise<void> {
    const latest = new Map<string, CommittedOffset | null>();
    for (const r of records) {
      if (r.key === null) continue;
      const key = parseKey(r.key);
      if (!key) continue;
      const id = dec.decode(r.key);
      if (r.value === null) {
        latest.set(id, null);
        continue;
      }
      const v = parseValue(r.value);
      if (!v) continue;
      const topic = this.o.topics.get(key.topic);
      // The topic was deleted (or deleted and created again) after this commit.
      if (!topic || (v.topicId !== null && v.topicId !== topic.record.id)) {
        latest.set(id, null);
        continue;
      }
      const { topicId: _, ...row } = v;
      latest.set(id, { group: key.group, topic: key.topic, partition: key.partition, ...row });
    }
    for (const g of this.o.metadata.listGroups()) {
      if (this.partitions.partitionFor(g) === k) this.o.metadata.deleteGroup(g);
    }
    const rows = [...latest.values()].filter((r): r is CommittedOffset => r !== null);
    if (rows.length > 0) this.o.metadata.commitOffsets(rows);
    this.keys.set(k, new Map(rows.map((r) => [dec.decode(offsetKey(r)), r.topic])));
  }
}

function offsetKey(r: { group: string; topic: string; partition: number }): Uint8Array {
  const key: OffsetKey = { type: "offset", group: r.group, topic: r.topic, partition: r.partition };
  return enc.encode(JSON.stringify(key));
}

function offsetRecord(r: CommittedOffset, topicId: string | null): RecordInput {
  return {
    key: offsetKey(r),
    value: enc.encode(
      JSON.stringify({
        offset: r.offset,
        leaderEpoch: r.leaderEpoch,
        metadata: r.metadata,
        commitTimestamp: r.commitTimestamp,
        ...(topicId === null ? {} : { topicId }),
      }),
    ),
    timestamp: r.commitTimestamp,
  };
}

function parseKey(bytes: Uint8Array): OffsetKey | null {
  try {
    const k = JSON.parse(dec.decode(bytes)) as Partial<OffsetKey>;
    if (k.type !== "offset" || typeof k.group !== "string" || typeof k.topic !== "string") return null;
    if (!Number.isSafeInteger(k.partition)) return null;
    return k as OffsetKey;
  } catch {
    return null;
  }
}

type OffsetValue = Omit<CommittedOffset, "group" | "topic" | "partition"> & { topicId: string | null };

function parseValue(bytes: Uint8Array): OffsetValue | null {
  try {
    const v = JSON.parse(dec.decode(bytes)) as Record<string, unknown>;
    if (!Number.isSafeInteger(v.offset)) return null;
    return {
      offset: v.offset as number,
      leaderEpoch: Number.isSafeInteger(v.leaderEpoch) ? (v.leaderEpoch as number) : -1,
      metadata: typeof v.metadata === "string" ? v.metadata : "",
      commitTimestamp: Number.isSafeInteger(v.commitTimestamp) ? (v.commitTimestamp as number) : 0,
      topicId: typeof v.topicId === "string" ? v.topicId : null,
    };
  } catch {
    return null;
  }
}
