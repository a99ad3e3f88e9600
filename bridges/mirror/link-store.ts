/**
 * Links added over the HTTP API, kept at the edge in the internal compacted
 * topic `__mirror_links` (through BrokerApi): key = link name, value = the
 * link's JSON as given (snake_case keys, like a [[mirror.links]] table);
 * removal writes a tombstone. The topic is created by the first stored link,
 * so a broker that never used the API has none.
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import { ErrorCode, isEddyError } from "../../src/broker/index.ts";

export const LINKS_TOPIC = "__mirror_links";

export class LinkStore {
  private readonly links = new Map<string, unknown>();
  /** Names whose stored value is not JSON (skipped; a new PUT or DELETE replaces it). */
  readonly unreadable: string[] = [];
  private readonly encoder = new TextEncoder();
  private topicReady = false;

  private constructor(private readonly broker: BrokerApi) {}

  /** Read every stored link (none if the topic does not exist yet). */
  static async open(broker: BrokerApi): Promise<LinkStore> {
    const store = new LinkStore(broker);
    await store.load();
    return store;
  }

  /** Stored links by name, in the order they were first stored. */
  entries(): Array<[string, unknown]> {
    return [...this.links.entries()];
  }

  has(name: string): boolean {
    return this.links.has(name);
  }

  /** Persist (acks=all) before resolving. */
  async put(name: string, link: unknown): Promise<void> {
    await this.ensureTopic();
    await this.write(name, this.encoder.encode(JSON.stringify(link)));
    this.links.set(name, link);
  }

  async remove(name: string): Promise<void> {
    if (!this.links.has(name)) return;
    await this.write(name, null);
    this.links.delete(name);
  }

  private async write(name: string, value: Uint8Array | null): Promise<void> {
    await this.broker.produce({
      topic: LINKS_TOPIC,
      partition: 0,
      acks: -1,
      records: [{ key: this.encoder.encode(name), value }],
    });
  }

  private async ensureTopic(): Promise<void> {
    if (this.topicReady) return;
    try {
      await this.broker.createTopic({
        name: LINKS_TOPIC,
        partitions: 1,
        configs: { "cleanup.policy": "compact", durability: "fsync", "retention.ms": -1 },
      });
    } catch (err) {
      if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_EXISTS) throw err;
    }
    this.topicReady = true;
  }

  private async load(): Promise<void> {
    let state: ReturnType<BrokerApi["partitionState"]>;
    try {
      state = this.broker.partitionState(LINKS_TOPIC, 0);
    } catch (err) {
      if (
        isEddyError(err) &&
        (err.code === ErrorCode.TOPIC_NOT_FOUND || err.code === ErrorCode.PARTITION_NOT_FOUND)
      ) {
        return;
      }
      throw err;
    }
    this.topicReady = true;
    const decoder = new TextDecoder();
    let offset = state.logStartOffset;
    while (offset < state.highWatermark) {
      const page = await this.broker.readRecords({
        topic: LINKS_TOPIC,
        partition: 0,
        offset,
        maxRecords: 10_000,
      });
      for (const r of page.records) {
        if (!r.key) continue;
        const name = decoder.decode(r.key);
        if (r.value === null) {
          this.links.delete(name);
          continue;
        }
        try {
          this.links.set(name, JSON.parse(decoder.decode(r.value)));
        } catch {
          this.links.delete(name);
          this.unreadable.push(name);
        }
      }
      if (page.nextOffset <= offset) break;
      offset = page.nextOffset;
    }
  }
}
