/** Stored records as JSON (shared by the records and stream routes), and start-offset resolution. */
import { z } from "zod";
import type { BrokerApi, StoredRecord } from "../../broker/index.ts";
import { decodeField, decodeHeaderValue, type Encoding, type HeaderEncoding } from "../encoding.ts";

export const recordJsonSchema = z.object({
  offset: z.number().int(),
  timestamp: z.number().int(),
  key: z.unknown().describe("Decoded per keyEncoding; null when the record has no key"),
  value: z.unknown().describe("Decoded per valueEncoding; null for a tombstone"),
  headers: z.array(z.object({ key: z.string(), value: z.string().nullable() })),
});
export type RecordJson = z.output<typeof recordJsonSchema>;

export interface RecordEncodings {
  keyEncoding: Encoding;
  valueEncoding: Encoding;
  headerEncoding: HeaderEncoding;
}

export function encodeRecord(r: StoredRecord, enc: RecordEncodings): RecordJson {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: decodeField(r.key, enc.keyEncoding, { field: "key", offset: r.offset }),
    value: decodeField(r.value, enc.valueEncoding, { field: "value", offset: r.offset }),
    headers: r.headers.map((h) => ({
      key: h.key,
      value: decodeHeaderValue(h.value, enc.headerEncoding, r.offset),
    })),
  };
}

const OFFSET_ERROR = "offset must be earliest, latest or a non-negative integer";

/** "earliest" | "latest" | an offset, from a query string. */
export const startOffsetSchema = z
  .union(
    [
      z.enum(["earliest", "latest"]),
      z.coerce.number({ error: OFFSET_ERROR }).int({ error: OFFSET_ERROR }).min(0, { error: OFFSET_ERROR }),
    ],
    { error: OFFSET_ERROR },
  )
  .describe("earliest | latest | an offset");

export async function resolveStartOffset(
  broker: BrokerApi,
  topic: string,
  partition: number,
  spec: "earliest" | "latest" | number,
): Promise<number> {
  if (typeof spec === "number") return spec;
  return (await broker.listOffsets(topic, partition, spec)).offset;
}
