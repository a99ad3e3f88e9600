/**
 * How CoAP representations map onto stream records, and back.
 *
 * - A publish becomes one record: value = the payload, key = the `key` query
 *   parameter (if any), header `content-format` = the request's Content-Format
 *   as decimal text, so a GET or notification can answer with the same format.
 * - The latest value of a topic is the newest visible record over all its
 *   partitions (largest timestamp; ties go to the higher offset).
 * - History (beyond the pub/sub draft) is a CBOR map (Content-Format 60):
 *   { "records": [ { "p": partition, "o": offset, "t": timestamp ms,
 *     "k": key bytes | null, "v": value bytes | null, "cf": content-format? } ],
 *     "next": { partition: next offset to ask for } }.
 */
import type { BrokerApi, RecordHeader, StoredRecord } from "../../../src/broker/index.ts";
import { type CborValue, encodeCbor } from "../codec/cbor.ts";

export const CONTENT_FORMAT_HEADER = "content-format";

const dec = new TextDecoder();
const enc = new TextEncoder();

export function recordContentFormat(r: StoredRecord): number | undefined {
  const h = r.headers.find((x) => x.key === CONTENT_FORMAT_HEADER);
  if (!h?.value) return undefined;
  const n = Number(dec.decode(h.value));
  return Number.isInteger(n) && n >= 0 && n <= 0xffff ? n : undefined;
}

export function publishHeaders(contentFormat: number | undefined): RecordHeader[] {
  return contentFormat === undefined
    ? []
    : [{ key: CONTENT_FORMAT_HEADER, value: enc.encode(String(contentFormat)) }];
}

/** The ETag of a record's representation: partition (2 bytes) and offset (6 bytes). */
export function recordEtag(partition: number, offset: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint16(0, partition);
  v.setUint16(2, Math.floor(offset / 2 ** 32));
  v.setUint32(4, offset >>> 0);
  return out;
}

export interface LatestRecord {
  partition: number;
  record: StoredRecord;
}

/** The newest visible record of a topic, and the high watermarks read. */
export async function latestRecord(
  broker: BrokerApi,
  topic: string,
): Promise<{ latest: LatestRecord | undefined; highWatermarks: number[] }> {
  const desc = await broker.describeTopic(topic);
  const highWatermarks: number[] = [];
  let latest: LatestRecord | undefined;
  for (const p of desc.partitions) {
    highWatermarks[p.partition] = p.highWatermark;
    if (p.highWatermark <= p.logStartOffset) continue;
    const res = await broker.readRecords({
      topic,
      partition: p.partition,
      offset: p.highWatermark - 1,
      maxRecords: 1,
    });
    const r = res.records[res.records.length - 1];
    if (!r) continue;
    if (
      !latest ||
      r.timestamp > latest.record.timestamp ||
      (r.timestamp === latest.record.timestamp && r.offset > latest.record.offset)
    ) {
      latest = { partition: p.partition, record: r };
    }
  }
  return { latest, highWatermarks };
}

export function encodeHistory(records: LatestRecord[], next: Map<number, number>): Uint8Array {
  const list: CborValue[] = records.map(({ partition, record }) => {
    const m = new Map<string, CborValue>([
      ["p", partition],
      ["o", record.offset],
      ["t", record.timestamp],
      ["k", record.key],
      ["v", record.value],
    ]);
    const cf = recordContentFormat(record);
    if (cf !== undefined) m.set("cf", cf);
    return m;
  });
  return encodeCbor(
    new Map<string, CborValue>([
      ["records", list],
      ["next", new Map<number, CborValue>(next)],
    ]),
  );
}
