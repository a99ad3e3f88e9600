/**
 * Per-partition mirror progress, kept at the edge in the internal compacted
 * topic `__mirror_progress` (through BrokerApi, like any other record):
 * key `{link}/{topic}/{partition}`, value JSON `{"offset": n, "at": ms}`,
 * where `offset` is the next edge offset the link owes (everything below it
 * was acknowledged by the central cluster with acks=all). Written with
 * acks=all after each acknowledged send; the latest record per key wins.
 *
 * Downlink partitions (central → edge) use key `down:{link}/{topic}/{partition}`
 * (central topic) and value `{"offset": n, "edge": e, "at": ms}`: `offset` is
 * the next central offset owed to the edge, `edge` the edge high watermark
 * right after the append that delivered everything below `offset` (records
 * the edge holds past `edge` are checked for duplicates on resume).
 * A deleted partition's entry is removed with a tombstone.
 *
 * Cluster mode: the topic is replicated like the coordinators' internal
 * topics (replication factor min(3, data nodes)); writes from any node reach
 * its leader (the broker forwards produce), and a node that becomes leader of
 * a mirrored partition calls refresh() first to read what the previous
 * leader's mirror saved.
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import { EddyError, ErrorCode, isEddyError } from "../../src/broker/index.ts";
import type { Clock } from "../../src/util/clock.ts";
import { sleep } from "../../src/util/sleep.ts";

export const PROGRESS_TOPIC = "__mirror_progress";
const REPLICA_POLL_MS = 20;
const REPLICA_WAIT_MS = 30_000;
/** A progress write that the edge cannot complete (a cut-off node) fails after this; the forwarder retries it. */
const WRITE_TIMEOUT_MS = 10_000;

export function progressKey(link: string, topic: string, partition: number): string {
  return `${link}/${topic}/${partition}`;
}

export function downlinkProgressKey(link: string, topic: string, partition: number): string {
  return `down:${link}/${topic}/${partition}`;
}

export interface ProgressEntry {
  offset: number;
  /** Downlink only: the edge high watermark when `offset` was saved. */
  edge?: number;
}

export class ProgressStore {
  private readonly offsets = new Map<string, ProgressEntry>();
  private readonly encoder = new TextEncoder();
  /** Where the next refresh() reads from. */
  private loadedTo = 0;
  private refreshing: Promise<void> | null = null;

  private constructor(
    private readonly broker: BrokerApi,
    private readonly clock: Clock,
  ) {}

  /** Create the topic if needed and read every stored position. */
  static async open(broker: BrokerApi, clock: Clock): Promise<ProgressStore> {
    const store = new ProgressStore(broker, clock);
    await store.ensureTopic();
    await store.load();
    return store;
  }

  /**
   * Read the entries saved since the last load (by this node or, in a
   * cluster, by the mirror of the partition's previous leader). Positions
   * only move forward, unless a tombstone removed the key.
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  get(link: string, topic: string, partition: number): number | undefined {
    return this.offsets.get(progressKey(link, topic, partition))?.offset;
  }

  /** Persist (fsync'd under the topic's durability) before resolving. Never moves backwards. */
  save(link: string, topic: string, partition: number, offset: number): Promise<void> {
    return this.saveEntry(progressKey(link, topic, partition), { offset });
  }

  entry(key: string): ProgressEntry | undefined {
    return this.offsets.get(key);
  }

  /** Persist an entry under any key; never moves `offset` backwards. */
  async saveEntry(key: string, entry: ProgressEntry): Promise<void> {
    const known = this.offsets.get(key);
    if (known !== undefined && known.offset >= entry.offset) return;
    const value = JSON.stringify({ ...entry, at: this.clock.now() });
    await this.broker.produce({
      topic: PROGRESS_TOPIC,
      partition: 0,
      acks: -1,
      timeoutMs: WRITE_TIMEOUT_MS,
      records: [{ key: this.encoder.encode(key), value: this.encoder.encode(value) }],
    });
    const now = this.offsets.get(key);
    if (now === undefined || now.offset < entry.offset) this.offsets.set(key, entry);
  }

  /** Forget a partition's position (its edge topic was deleted): a tombstone, so compaction drops it. */
  async remove(key: string): Promise<void> {
    if (!this.offsets.has(key)) return;
    this.offsets.delete(key); // at once: a forwarder started meanwhile must not resume from it
    await this.broker.produce({
      topic: PROGRESS_TOPIC,
      partition: 0,
      acks: -1,
      timeoutMs: WRITE_TIMEOUT_MS,
      records: [{ key: this.encoder.encode(key), value: null }],
    });
  }

  private async ensureTopic(): Promise<void> {
    const nodes = this.broker.clusterView?.()?.nodes.length ?? 0;
    try {
      await this.broker.createTopic({
        name: PROGRESS_TOPIC,
        partitions: 1,
        ...(nodes > 1 ? { replicationFactor: Math.min(3, nodes) } : {}),
        configs: { "cleanup.policy": "compact", durability: "fsync", "retention.ms": -1 },
      });
    } catch (err) {
      if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_EXISTS) throw err;
    }
    if (nodes > 0) await this.awaitLocalReplica();
  }

  /** Cluster mode: a new topic reaches this node through the metadata log a moment after it was created. */
  private async awaitLocalReplica(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        this.broker.partitionState(PROGRESS_TOPIC, 0);
        return;
      } catch (err) {
        if (i * REPLICA_POLL_MS >= REPLICA_WAIT_MS) throw err;
      }
      await sleep(REPLICA_POLL_MS);
    }
  }

  private async load(): Promise<void> {
    const decoder = new TextDecoder();
    const state = this.broker.partitionState(PROGRESS_TOPIC, 0);
    let offset = Math.max(state.logStartOffset, this.loadedTo);
    while (offset < state.highWatermark) {
      const page = await this.broker.readRecords({
        topic: PROGRESS_TOPIC,
        partition: 0,
        offset,
        maxRecords: 10_000,
      });
      for (const r of page.records) {
        if (!r.key) continue;
        const key = decoder.decode(r.key);
        if (r.value === null) {
          this.offsets.delete(key);
          continue;
        }
        const parsed = parseValue(decoder.decode(r.value));
        if (parsed === null) {
          throw new EddyError(
            ErrorCode.CORRUPT_RECORD,
            `${PROGRESS_TOPIC} holds an unreadable entry for '${key}' at offset ${r.offset}: delete the topic only if every link may start over`,
          );
        }
        // Entries only move forward (a tombstone starts a key afresh); a refresh may read a record
        // older than one this node saved since.
        const known = this.offsets.get(key);
        if (known === undefined || parsed.offset >= known.offset) this.offsets.set(key, parsed);
      }
      if (page.nextOffset <= offset) break;
      offset = page.nextOffset;
    }
    this.loadedTo = Math.max(this.loadedTo, offset);
  }
}

function parseValue(text: string): ProgressEntry | null {
  try {
    const v = JSON.parse(text) as { offset?: unknown; edge?: unknown };
    if (!isOffset(v.offset)) return null;
    if (v.edge !== undefined && !isOffset(v.edge)) return null;
    return v.edge === undefined ? { offset: v.offset } : { offset: v.offset, edge: v.edge };
  } catch {
    return null;
  }
}

function isOffset(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
