/**
 * Produce (JSON batches or one binary value) and consume (JSON) records.
 *
 * Deviation from "json everywhere": keys default to the "string" encoding, so
 * a key "device-1" is stored as those 9 bytes, partitions like a Kafka
 * client's key would, and prints as-is in kcat. Values default to "json".
 */
import type { Context } from "hono";
import { z } from "zod";
import type { Acks, BrokerApi, RecordInput } from "../../broker/index.ts";
import { EddyError, ErrorCode } from "../../errors.ts";
import type { HttpDeps } from "../deps.ts";
import {
  encodeField,
  encodeHeaderValue,
  encodingSchema,
  headerEncodingSchema,
  type HeaderEncoding,
} from "../encoding.ts";
import { type ApiRouter, readJsonBody, validate } from "../openapi.ts";
import { partitionParams, queryInt, topicParams } from "../schemas.ts";
import { encodeRecord, recordJsonSchema, resolveStartOffset, startOffsetSchema } from "./record-json.ts";

const headerValue = z.string().nullable();
const headersSchema = z
  .union(
    [z.record(z.string(), headerValue), z.array(z.strictObject({ key: z.string(), value: headerValue }))],
    {
      error: "headers must be an object {name: value} or a list [{key, value}]",
    },
  )
  .describe("Header values are strings (or base64 with headerEncoding=base64); null is allowed");

const acksSchema = z
  .union([z.literal(0), z.literal(1), z.literal(-1), z.literal("all"), z.enum(["0", "1", "-1"])], {
    error: 'acks must be 0, 1, -1 or "all"',
  })
  .transform((a): Acks => (a === "all" ? -1 : (Number(a) as Acks)));

const produceRecordSchema = z.strictObject({
  key: z.unknown().optional().describe("Encoded per keyEncoding (default string); null or absent for no key"),
  value: z.unknown().describe("Encoded per valueEncoding (default json); null is a tombstone"),
  headers: headersSchema.optional(),
  partition: z.number().int().min(0).optional(),
  timestamp: z.number().int().min(0).optional().describe("Milliseconds since the epoch"),
});

const produceBody = z.strictObject({
  records: z.array(produceRecordSchema).min(1, { error: "give at least one record" }),
  keyEncoding: encodingSchema.default("string"),
  valueEncoding: encodingSchema.default("json"),
  headerEncoding: headerEncodingSchema.default("string"),
  acks: acksSchema.default(-1),
  partition: z.number().int().min(0).optional().describe("Partition for records that name none"),
  timeoutMs: z.number().int().min(1).optional(),
});

/** Binary produce: everything but the value comes from the query string or X-Eddy-* headers. */
const binaryQuery = z.object({
  key: z.string().optional().describe("Binary produce: the record key"),
  keyEncoding: z.enum(["string", "base64"]).default("string"),
  partition: queryInt("partition").optional(),
  timestamp: queryInt("timestamp").optional(),
  acks: acksSchema.default(-1),
  headers: z.string().optional().describe('Binary produce: headers as a JSON object {"name": "value"}'),
});

const produceResponse = z.object({
  topic: z.string(),
  records: z.array(z.object({ partition: z.number().int(), offset: z.number().int() })),
});

const consumeQuery = z.object({
  offset: startOffsetSchema.default("earliest"),
  maxRecords: queryInt("maxRecords", 1, 10_000).default(100),
  maxBytes: queryInt("maxBytes", 1).optional(),
  maxWaitMs: queryInt("maxWaitMs", 0, 600_000).default(0).describe("Long-poll when no record is there yet"),
  keyEncoding: encodingSchema.default("string"),
  valueEncoding: encodingSchema.default("json"),
  headerEncoding: headerEncodingSchema.default("string"),
  isolation: z.enum(["read_uncommitted", "read_committed"]).default("read_uncommitted"),
});

export function registerRecordRoutes(router: ApiRouter, deps: HttpDeps): void {
  const { broker } = deps;

  router.add(
    {
      method: "post",
      path: "/v1/topics/{topic}/records",
      tag: "records",
      summary: "Produce records",
      description:
        "JSON: a batch of records. application/octet-stream: the body is one record's value; key, " +
        "partition, timestamp, acks and headers come from the query string or X-Eddy-Key, " +
        "X-Eddy-Partition, X-Eddy-Timestamp, X-Eddy-Acks, X-Eddy-Headers.",
      params: topicParams,
      query: binaryQuery.partial(),
      otherBodies: [
        { contentType: "application/json", schema: produceBody },
        { contentType: "application/octet-stream", description: "One record value" },
      ],
      responses: { 200: { description: "Offsets per record, in input order", schema: produceResponse } },
    },
    async (c, { params }) => {
      const contentType = (c.req.header("content-type") ?? "").toLowerCase();
      const result = contentType.startsWith("application/octet-stream")
        ? await produceBinary(c, broker, params.topic)
        : await produceJson(broker, params.topic, validate("body", produceBody, await readJsonBody(c)));
      return c.json(result);
    },
  );

  router.add(
    {
      method: "get",
      path: "/v1/topics/{topic}/partitions/{partition}/records",
      tag: "records",
      summary: "Read records from an offset",
      params: partitionParams,
      query: consumeQuery,
      responses: {
        200: {
          description: "Records from `offset`; continue from `nextOffset`",
          schema: z.object({
            topic: z.string(),
            partition: z.number().int(),
            records: z.array(recordJsonSchema),
            nextOffset: z.number().int(),
            highWatermark: z.number().int(),
            logStartOffset: z.number().int(),
          }),
        },
      },
    },
    async (c, { params, query }) => {
      const { topic, partition } = params;
      const offset = await resolveStartOffset(broker, topic, partition, query.offset);
      const res = await broker.readRecords({
        topic,
        partition,
        offset,
        maxRecords: query.maxRecords,
        maxBytes: query.maxBytes,
        maxWaitMs: Math.min(query.maxWaitMs, deps.maxWaitMsLimit),
        isolation: query.isolation,
        signal: c.req.raw.signal,
      });
      const records = res.records
        .filter((r) => r.offset >= offset)
        .slice(0, query.maxRecords)
        .map((r) => encodeRecord(r, query));
      const last = records.at(-1);
      return c.json({
        topic,
        partition,
        records,
        nextOffset: last ? last.offset + 1 : Math.max(res.nextOffset, offset),
        highWatermark: res.highWatermark,
        logStartOffset: res.logStartOffset,
      });
    },
  );
}

type ProduceBody = z.output<typeof produceBody>;

async function produceJson(broker: BrokerApi, topic: string, body: ProduceBody) {
  const inputs = body.records.map((r, i): { partition: number | undefined; record: RecordInput } => {
    const field = `body.records[${i}]`;
    const record: RecordInput = {
      key: encodeField(r.key, body.keyEncoding, `${field}.key`),
      value: encodeField(r.value, body.valueEncoding, `${field}.value`),
      headers: toHeaders(r.headers, body.headerEncoding, `${field}.headers`),
    };
    if (r.timestamp !== undefined) record.timestamp = r.timestamp;
    return { partition: r.partition ?? body.partition, record };
  });
  return produceGrouped(broker, topic, inputs, { acks: body.acks, timeoutMs: body.timeoutMs });
}

async function produceBinary(c: Context, broker: BrokerApi, topic: string) {
  const q = c.req.query();
  const pick = (name: string, header: string) => q[name] ?? c.req.header(header);
  const opts = validate("query", binaryQuery, {
    key: pick("key", "x-eddy-key"),
    keyEncoding: pick("keyEncoding", "x-eddy-key-encoding"),
    partition: pick("partition", "x-eddy-partition"),
    timestamp: pick("timestamp", "x-eddy-timestamp"),
    acks: pick("acks", "x-eddy-acks"),
    headers: pick("headers", "x-eddy-headers"),
  });
  let headers: RecordInput["headers"] = [];
  if (opts.headers !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(opts.headers);
    } catch {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        'invalid request: headers must be a JSON object {"name": "value"}',
      );
    }
    headers = toHeaders(validate("headers", z.record(z.string(), headerValue), parsed), "string", "headers");
  }
  const value = new Uint8Array(await c.req.arrayBuffer());
  const record: RecordInput = {
    key: opts.key === undefined ? null : encodeField(opts.key, opts.keyEncoding, "query.key"),
    value,
    headers,
  };
  if (opts.timestamp !== undefined) record.timestamp = opts.timestamp;
  return produceGrouped(broker, topic, [{ partition: opts.partition, record }], { acks: opts.acks });
}

function toHeaders(
  h: z.output<typeof headersSchema> | undefined,
  encoding: HeaderEncoding,
  field: string,
): NonNullable<RecordInput["headers"]> {
  if (!h) return [];
  const entries = Array.isArray(h) ? h.map((e) => [e.key, e.value] as const) : Object.entries(h);
  return entries.map(([key, value]) => ({
    key,
    value: encodeHeaderValue(value, encoding, `${field}.${key}`),
  }));
}

/**
 * One broker.produce per run of records bound for the same explicit partition
 * (or for "choose by key"), in input order, so the records of each partition
 * keep their order. Returns offsets in input order.
 */
async function produceGrouped(
  broker: BrokerApi,
  topic: string,
  inputs: Array<{ partition: number | undefined; record: RecordInput }>,
  opts: { acks: Acks; timeoutMs?: number | undefined },
) {
  const out: Array<{ partition: number; offset: number }> = new Array(inputs.length);
  let i = 0;
  while (i < inputs.length) {
    const partition = inputs[i]?.partition;
    let j = i;
    while (j < inputs.length && inputs[j]?.partition === partition) j++;
    const res = await broker.produce({
      topic,
      partition,
      records: inputs.slice(i, j).map((x) => x.record),
      acks: opts.acks,
      timeoutMs: opts.timeoutMs,
    });
    res.records.forEach((r, k) => {
      out[i + k] = { partition: r.partition, offset: r.offset };
    });
    i = j;
  }
  return { topic, records: out };
}
