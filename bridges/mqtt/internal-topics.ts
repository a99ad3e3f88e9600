/**
 * The bridge's own state lives in compacted stream topics, created through
 * the BrokerApi (no SQL): the latest record per key is the state, a null
 * value is a tombstone. They are read back in full at start.
 *   __mqtt_retained   key = MQTT topic, value = payload, headers = message headers
 *   __mqtt_sessions   key = "c/<client id>" or "g/<share name>/<filter>", value = JSON
 */
import { type BrokerApi, ErrorCode, isEddyError, type StoredRecord } from "../../src/broker/index.ts";

export const RETAINED_TOPIC = "__mqtt_retained";
export const SESSIONS_TOPIC = "__mqtt_sessions";

const dec = new TextDecoder();

/** Create a compacted single-partition topic unless it exists. */
export async function ensureCompactedTopic(broker: BrokerApi, name: string): Promise<void> {
  try {
    await broker.describeTopic(name);
    return;
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
  }
  try {
    await broker.createTopic({ name, partitions: 1, configs: { "cleanup.policy": "compact" } });
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_EXISTS) throw err;
  }
}

/** Create a stream topic with the broker's defaults unless it exists. */
export async function ensureStreamTopic(
  broker: BrokerApi,
  name: string,
  partitions: number | null,
): Promise<void> {
  try {
    await broker.describeTopic(name);
    return;
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
  }
  try {
    await broker.createTopic(partitions === null ? { name } : { name, partitions });
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_EXISTS) throw err;
  }
}

/** The latest record per key of partition 0 (tombstoned keys omitted). */
export async function loadLatest(broker: BrokerApi, topic: string): Promise<Map<string, StoredRecord>> {
  const latest = new Map<string, StoredRecord>();
  let offset = broker.partitionState(topic, 0).logStartOffset;
  for (;;) {
    const res = await broker.readRecords({ topic, partition: 0, offset, maxRecords: 1000 });
    for (const r of res.records) {
      if (!r.key) continue;
      const key = dec.decode(r.key);
      if (r.value === null) latest.delete(key);
      else latest.set(key, r);
    }
    if (res.nextOffset <= offset || res.nextOffset >= res.highWatermark) break;
    offset = res.nextOffset;
  }
  return latest;
}
