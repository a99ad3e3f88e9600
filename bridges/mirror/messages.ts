/**
 * Edge records → the client's messages for central: the record's own
 * headers first (in order, repeated keys and null values kept), then the
 * mirror's: `eddy.mirror.src`, `eddy.mirror.offset`, `eddy.mirror.topic_id`
 * and, on an edge cluster, `eddy.mirror.epoch` (remote.ts explains them).
 * `bytes` is what the link's gate counts: keys, values, headers and 16 B
 * per record.
 */
import type { StoredRecord } from "../../src/broker/index.ts";
import { HEADER_EPOCH, HEADER_OFFSET, HEADER_SOURCE, HEADER_TOPIC_ID, type RemoteMessage } from "./remote.ts";

// Shared header keys (Map keys are compared by identity, so each record's own headers never collide with them).
const SRC_KEY = Buffer.from(HEADER_SOURCE);
const OFF_KEY = Buffer.from(HEADER_OFFSET);
const TID_KEY = Buffer.from(HEADER_TOPIC_ID);
const EPOCH_KEY = Buffer.from(HEADER_EPOCH);

export interface MessageTarget {
  remoteTopic: string;
  /** Central partition (same-partition mapping); undefined: by key. */
  partition: number | undefined;
  /** `{source.id}/{topic}/{partition}`. */
  source: Buffer;
  topicId: string;
  /** Edge leader epoch (cluster mode), or null for no epoch header. */
  epoch: number | null;
}

export function toRemoteMessages(
  records: readonly StoredRecord[],
  t: MessageTarget,
): { messages: RemoteMessage[]; bytes: number } {
  const partition = t.partition;
  const tid = Buffer.from(t.topicId);
  const epoch = t.epoch === null ? null : Buffer.from(String(t.epoch));
  const fixed =
    SRC_KEY.length +
    t.source.length +
    OFF_KEY.length +
    TID_KEY.length +
    tid.length +
    16 +
    (epoch === null ? 0 : EPOCH_KEY.length + epoch.length);
  let bytes = 0;
  const messages = new Array<RemoteMessage>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const headers = new Map<Buffer, Buffer>();
    for (const h of r.headers) {
      // A Buffer per key keeps repeated header keys apart; null values stay null on the wire.
      const key = Buffer.from(h.key);
      const value = h.value === null ? null : asBuffer(h.value);
      headers.set(key, value as Buffer);
      bytes += key.length + (value?.length ?? 0);
    }
    const offset = Buffer.from(String(r.offset));
    headers.set(SRC_KEY, t.source);
    headers.set(OFF_KEY, offset);
    headers.set(TID_KEY, tid);
    if (epoch !== null) headers.set(EPOCH_KEY, epoch);
    bytes += fixed + offset.length + (r.key?.length ?? 0) + (r.value?.length ?? 0);
    const message: RemoteMessage = {
      topic: t.remoteTopic,
      key: r.key === null ? undefined : asBuffer(r.key),
      value: r.value === null ? undefined : asBuffer(r.value),
      headers,
      timestamp: BigInt(r.timestamp),
    };
    if (partition !== undefined) message.partition = partition;
    messages[i] = message;
  }
  return { messages, bytes };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
