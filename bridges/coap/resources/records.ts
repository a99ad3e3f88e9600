/**
 * How CoAP representations map onto stream records, and back.
 *
 * - A publish becomes one record: value = the payload, key = the `key` query
 *   parameter (if any), header `content-format` = the request's Content-Format
 *   as decimal text, so a GET or notification can answer with the same format.
 * - A publish on a mapped topic (`/ps/data/sensors/dev1/temp`, see the
 *   README) also carries the mapping's headers, as an MQTT publish would:
 *   `mqtt.topic`, `mqtt.qos` ("1" for CON, "0" for NON), `mqtt.retain` "0",
 *   and `mqtt.content-type` (+ `mqtt.payload-format` "1" for text) when the
 *   Content-Format is a well-known one. A record without `content-format`
 *   (an MQTT publish) is served with the Content-Format of its
 *   `mqtt.content-type`, when that is one of those.
 * - The latest value of a topic is the newest visible record over all its
 *   partitions (largest timestamp; ties go to the higher offset); of a mapped
 *   topic, the newest record delivered under that topic (a bounded scan back).
 * - History (beyond the pub/sub draft) is a CBOR map (Content-Format 60):
 *   { "records": [ { "p": partition, "o": offset, "t": timestamp ms,
 *     "k": key bytes | null, "v": value bytes | null, "cf": content-format? } ],
 *     "next": { partition: next offset to ask for } }.
 */
import {
  type BrokerApi,
  MAPPING_HEADERS,
  type RecordHeader,
  type StoredRecord,
} from "../../../src/broker/index.ts";
import { type CborValue, encodeCbor } from "../codec/cbor.ts";
import { ContentFormat } from "../codec/constants.ts";

export const CONTENT_FORMAT_HEADER = "content-format";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Content-Formats with a media type an MQTT 5 client can be told (and back). */
const MEDIA_TYPES = new Map<number, string>([
  [ContentFormat.TEXT_PLAIN, "text/plain;charset=utf-8"],
  [ContentFormat.LINK_FORMAT, "application/link-format"],
  [ContentFormat.OCTET_STREAM, "application/octet-stream"],
  [ContentFormat.JSON, "application/json"],
  [ContentFormat.CBOR, "application/cbor"],
  [ContentFormat.SENML_JSON, "application/senml+json"],
  [ContentFormat.SENML_CBOR, "application/senml+cbor"],
]);
const FORMATS = new Map<string, number>([...MEDIA_TYPES].map(([cf, type]) => [type, cf]));
FORMATS.set("text/plain", ContentFormat.TEXT_PLAIN);

export function recordContentFormat(r: StoredRecord): number | undefined {
  let mediaType: number | undefined;
  for (const h of r.headers) {
    if (h.key === CONTENT_FORMAT_HEADER) {
      if (!h.value) return undefined;
      const n = Number(dec.decode(h.value));
      return Number.isInteger(n) && n >= 0 && n <= 0xffff ? n : undefined;
    }
    if (h.key === MAPPING_HEADERS.CONTENT_TYPE && h.value) {
      mediaType = FORMATS.get(dec.decode(h.value).toLowerCase().replaceAll(" ", ""));
    }
  }
  return mediaType;
}

/** The headers of a publish on a mapped topic: the Content-Format, and the mapping's headers. */
export function mappedPublishHeaders(
  contentFormat: number | undefined,
  topic: string,
  confirmable: boolean,
): RecordHeader[] {
  const headers = publishHeaders(contentFormat);
  headers.push(
    { key: MAPPING_HEADERS.TOPIC, value: enc.encode(topic) },
    { key: MAPPING_HEADERS.QOS, value: enc.encode(confirmable ? "1" : "0") },
    { key: MAPPING_HEADERS.RETAIN, value: enc.encode("0") },
  );
  const type = contentFormat === undefined ? undefined : MEDIA_TYPES.get(contentFormat);
  if (type !== undefined) headers.push({ key: MAPPING_HEADERS.CONTENT_TYPE, value: enc.encode(type) });
  if (contentFormat === ContentFormat.TEXT_PLAIN)
    headers.push({ key: MAPPING_HEADERS.PAYLOAD_FORMAT, value: enc.encode("1") });
  return headers;
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

/**
 * The newest record of `topic` that `match` accepts, scanning each partition
 * back from its end over at most `maxScan` records (then: not found), and the
 * high watermarks read.
 */
export async function latestMatching(
  broker: BrokerApi,
  topic: string,
  match: (r: StoredRecord) => boolean,
  maxScan: number,
): Promise<{ latest: LatestRecord | undefined; highWatermarks: number[] }> {
  const desc = await broker.describeTopic(topic);
  const highWatermarks: number[] = [];
  let latest: LatestRecord | undefined;
  for (const p of desc.partitions) {
    highWatermarks[p.partition] = p.highWatermark;
    let end = p.highWatermark;
    let found: StoredRecord | undefined;
    while (!found && end > p.logStartOffset && p.highWatermark - end < maxScan) {
      const start = Math.max(p.logStartOffset, end - 100);
      let at = start;
      while (at < end) {
        const res = await broker.readRecords({
          topic,
          partition: p.partition,
          offset: at,
          maxRecords: end - at,
        });
        for (const r of res.records) if (r.offset < end && match(r)) found = r;
        if (res.nextOffset <= at) break;
        at = res.nextOffset;
      }
      end = start;
    }
    if (
      found &&
      (!latest ||
        found.timestamp > latest.record.timestamp ||
        (found.timestamp === latest.record.timestamp && found.offset > latest.record.offset))
    ) {
      latest = { partition: p.partition, record: found };
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
