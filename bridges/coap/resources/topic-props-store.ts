/**
 * Topic properties set over CoAP (topic-content-format, max-subscribers,
 * observer-check, ...), kept in memory for the hot paths and persisted in
 * the compacted internal topic `__coap_topics` through the BrokerApi (no SQL,
 * bridges/README.md): key = stream topic name (or mapped topic, `a/b/c`), value = a CBOR map of the
 * properties (topic-config.ts keys 3..7), a null value deletes them. `load`
 * reads the topic back at start; the latest record per key wins.
 */
import { type BrokerApi, ErrorCode, isEddyError } from "../../../src/broker/index.ts";
import { encodeTopicProps, parseTopicConfig, type TopicProps } from "./topic-config.ts";

export const TOPICS_STATE_TOPIC = "__coap_topics";

const enc = new TextEncoder();
const dec = new TextDecoder();

export class TopicPropsStore {
  private readonly props = new Map<string, TopicProps>();
  private ready = false;

  /** Without a broker the properties live in memory only. */
  constructor(private readonly broker?: BrokerApi) {}

  get size(): number {
    return this.props.size;
  }

  /** Create `__coap_topics` if needed and read it back. */
  async load(): Promise<void> {
    const broker = this.broker;
    if (!broker) return;
    await ensureCompacted(broker);
    let offset = broker.partitionState(TOPICS_STATE_TOPIC, 0).logStartOffset;
    for (;;) {
      const res = await broker.readRecords({
        topic: TOPICS_STATE_TOPIC,
        partition: 0,
        offset,
        maxRecords: 1000,
      });
      for (const r of res.records) {
        if (!r.key) continue;
        const name = dec.decode(r.key);
        if (r.value === null) {
          this.props.delete(name);
          continue;
        }
        try {
          this.props.set(name, parseTopicConfig(r.value).props);
        } catch {
          // A value this version cannot read: skip it rather than refuse to start.
        }
      }
      if (res.nextOffset <= offset || res.nextOffset >= res.highWatermark) break;
      offset = res.nextOffset;
    }
    this.ready = true;
  }

  has(name: string): boolean {
    return this.props.has(name);
  }

  /** Every name with properties (stream topics and mapped topics). */
  names(): string[] {
    return [...this.props.keys()];
  }

  get(name: string): TopicProps {
    return this.props.get(name) ?? {};
  }

  /** Replace a topic's properties; resolves once they are durable. */
  async set(name: string, p: TopicProps): Promise<void> {
    await this.persist(name, encodeTopicProps(p));
    this.props.set(name, { ...p });
  }

  async delete(name: string): Promise<void> {
    if (!this.props.has(name)) return;
    await this.persist(name, null);
    this.props.delete(name);
  }

  private async persist(name: string, value: Uint8Array | null): Promise<void> {
    if (!this.broker || !this.ready) return;
    await this.broker.produce({
      topic: TOPICS_STATE_TOPIC,
      records: [{ key: enc.encode(name), value }],
      acks: -1,
    });
  }
}

async function ensureCompacted(broker: BrokerApi): Promise<void> {
  try {
    await broker.describeTopic(TOPICS_STATE_TOPIC);
    return;
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
  }
  try {
    await broker.createTopic({
      name: TOPICS_STATE_TOPIC,
      partitions: 1,
      configs: { "cleanup.policy": "compact" },
    });
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_EXISTS) throw err;
  }
}
