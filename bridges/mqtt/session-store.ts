/**
 * Persistent session state in the compacted topic __mqtt_sessions, as JSON:
 * subscriptions, per-partition cursors (the next offset to read) and the
 * in-flight QoS 1/2 deliveries (partition, offset, packet id, QoS, state) —
 * cursors into the log, never copies of messages (a pending will, which is in
 * no log, is the exception). Shared groups
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
  /** "publish": not acknowledged yet; "pubrel": PUBREC received, PUBCOMP awaited. */
  state: "publish" | "pubrel";
  /** RETAIN flag the PUBLISH was sent with. */
  r?: boolean;
}

/** An MQTT message as JSON (a pending will). Bytes are base64. */
export interface StoredMessage {
  t: string;
  p: string;
  q: 0 | 1 | 2;
  r: boolean;
  c: string | null;
  up?: Array<[string, string]>;
  ct?: string;
  pf?: boolean;
  rt?: string;
  cd?: string;
  me?: number;
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
  /** A will waiting out its delay: due time (ms since the epoch) and message. */
  will?: { due: number; m: StoredMessage };
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
