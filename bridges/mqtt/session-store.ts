/**
 * Persistent session state in the compacted topic __mqtt_sessions, as JSON:
 * subscriptions, per-partition cursors (the lowest offset not yet fully
 * delivered) and the in-flight QoS 1/2 deliveries (partition, offset, packet
 * id, state) — cursors into the log, never copies of messages. Shared groups
 * keep their cursors under "g/<share name>/<filter>". A tombstone ends a
 * session. Saves are batched: changed sessions are written together.
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import { loadLatest, SESSIONS_TOPIC } from "./internal-topics.ts";

export interface StoredSubscription {
  raw: string;
  qos: 0 | 1 | 2;
  nl: boolean;
  rap: boolean;
  rh: number;
  id?: number;
}

export interface StoredCursor {
  t: string;
  p: number;
  o: number;
}

export interface StoredInflight extends StoredCursor {
  id: number;
  qos: 1 | 2;
  state: "publish" | "pubrel";
}

export interface StoredSession {
  v: 1;
  clientId: string;
  /** Seconds. */
  expiry: number;
  disconnectedAt: number | null;
  protocolVersion: number;
  subs: StoredSubscription[];
  cursors: StoredCursor[];
  inflight: StoredInflight[];
  /** Inbound QoS 2 packet ids awaiting PUBREL. */
  qos2: number[];
}

export interface StoredGroup {
  v: 1;
  group: string;
  filter: string;
  cursors: StoredCursor[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export const sessionKey = (clientId: string): string => `c/${clientId}`;
export const groupStoreKey = (key: string): string => `g/${key}`;

export class SessionStore {
  constructor(
    private readonly broker: BrokerApi,
    private readonly timeoutMs: number,
  ) {}

  async load(): Promise<{ sessions: StoredSession[]; groups: StoredGroup[] }> {
    const sessions: StoredSession[] = [];
    const groups: StoredGroup[] = [];
    for (const [key, record] of await loadLatest(this.broker, SESSIONS_TOPIC)) {
      try {
        const value = JSON.parse(dec.decode(record.value!)) as StoredSession | StoredGroup;
        if (value.v !== 1) continue;
        if (key.startsWith("c/")) sessions.push(value as StoredSession);
        else if (key.startsWith("g/")) groups.push(value as StoredGroup);
      } catch {
        // A record we cannot read is skipped; the session starts clean.
      }
    }
    return { sessions, groups };
  }

  /** Write several entries at once (null value = delete); resolves when durable. */
  async save(entries: Array<{ key: string; value: StoredSession | StoredGroup | null }>): Promise<void> {
    if (entries.length === 0) return;
    await this.broker.produce({
      topic: SESSIONS_TOPIC,
      partition: 0,
      acks: -1,
      timeoutMs: this.timeoutMs,
      records: entries.map(({ key, value }) => ({
        key: enc.encode(key),
        value: value === null ? null : enc.encode(JSON.stringify(value)),
      })),
    });
  }
}
