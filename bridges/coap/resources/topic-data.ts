/**
 * Topic-data resources, `/<prefix>/data/<topic>` (draft-ietf-core-coap-pubsub-21 §3.3, §3.4).
 *
 * - PUT/POST: publish one record (acks=all); 2.04 Changed only after the
 *   broker acknowledged it, 2.01 Created for the topic's first data. A
 *   Content-Format other than the topic's `topic-content-format` → 4.15.
 *   `?key=<text>` sets the record key (so keyed partitioning and compaction work).
 * - GET: the latest value (4.04 while the topic has no data), with its
 *   Content-Format and an ETag (partition, offset); a matching request ETag → 2.03.
 *   With Observe 0 the client also receives every new record (see observe.ts).
 * - GET `?offset=N[&partition=P][&limit=L]` or `?since=<ms | ISO time>[&limit=L]`:
 *   history from the log (an Eddy extension; CBOR, see records.ts).
 * - DELETE: the topic goes back to "half created": its records are deleted
 *   (log start moves to the end) and observers get a final 4.04.
 */
import { type BrokerApi, EddyError, ErrorCode, isEddyError } from "../../../src/broker/index.ts";
import { type CoapOption, Code, ContentFormat, OptionNumber } from "../codec/constants.ts";
import { getOptions, uintOption } from "../codec/options.ts";
import type { ResponseSpec } from "../message-layer.ts";
import type { ObserveManager } from "../observe.ts";
import { badRequest, type CoapRequest, diagnostic } from "../request.ts";
import {
  encodeHistory,
  type LatestRecord,
  latestRecord,
  publishHeaders,
  recordContentFormat,
} from "./records.ts";
import type { TopicPropsStore } from "./topic-config.ts";

export interface DataContext {
  broker: BrokerApi;
  props: TopicPropsStore;
  observe: ObserveManager;
  maxHistoryRecords: number;
  maxHistoryBytes: number;
  /** Topics known to have had data (for 2.01 vs 2.04). */
  fullyCreated: Set<string>;
}

export async function handleTopicData(
  ctx: DataContext,
  req: CoapRequest,
  topic: string,
): Promise<ResponseSpec> {
  switch (req.method) {
    case Code.GET:
      if (req.query.has("offset") || req.query.has("since")) return history(ctx, req, topic);
      return latest(ctx, req, topic);
    case Code.PUT:
    case Code.POST:
      return publish(ctx, req, topic);
    case Code.DELETE:
      return deleteData(ctx, topic);
    default:
      return diagnostic(Code.METHOD_NOT_ALLOWED, "topic-data supports GET, PUT, POST and DELETE");
  }
}

function etag(partition: number, offset: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint16(0, partition);
  v.setUint16(2, Math.floor(offset / 2 ** 32));
  v.setUint32(4, offset >>> 0);
  return out;
}

async function latest(ctx: DataContext, req: CoapRequest, topic: string): Promise<ResponseSpec> {
  const { latest: found, highWatermarks } = await latestRecord(ctx.broker, topic);
  if (req.observe === 1) ctx.observe.deregister(req.peer, req.message.token);
  if (!found) return diagnostic(Code.NOT_FOUND, "the topic has no data yet; publish first");
  ctx.fullyCreated.add(topic);
  const cf = recordContentFormat(found.record);
  if (req.accept !== undefined && cf !== undefined && req.accept !== cf) {
    return diagnostic(Code.NOT_ACCEPTABLE, `the latest value has Content-Format ${cf}`);
  }
  const tag = etag(found.partition, found.record.offset);
  const options: CoapOption[] = [];
  if (req.observe === 0) {
    const seq = ctx.observe.register(req.peer, req.message.token, topic, highWatermarks);
    if (seq !== undefined) options.push(uintOption(OptionNumber.OBSERVE, seq));
  }
  options.push({ number: OptionNumber.ETAG, value: tag });
  if (cf !== undefined) options.push(uintOption(OptionNumber.CONTENT_FORMAT, cf));
  const matches = getOptions(req.message, OptionNumber.ETAG).some(
    (o) => o.value.length === 8 && o.value.every((b, i) => b === tag[i]),
  );
  if (matches) return { code: Code.VALID, options };
  return { code: Code.CONTENT, options, payload: found.record.value ?? new Uint8Array(0) };
}

function intParam(req: CoapRequest, name: string, min: number): number | undefined {
  const s = req.query.get(name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s === "" || !Number.isSafeInteger(n) || n < min)
    throw badRequest(`query ${name} must be an integer >= ${min}`);
  return n;
}

async function history(ctx: DataContext, req: CoapRequest, topic: string): Promise<ResponseSpec> {
  if (req.accept !== undefined && req.accept !== ContentFormat.CBOR) {
    return diagnostic(Code.NOT_ACCEPTABLE, "history is served as application/cbor (60)");
  }
  const limit = Math.min(intParam(req, "limit", 1) ?? ctx.maxHistoryRecords, ctx.maxHistoryRecords);
  const out: LatestRecord[] = [];
  const next = new Map<number, number>();
  const offset = intParam(req, "offset", 0);
  if (offset !== undefined) {
    const partition = intParam(req, "partition", 0) ?? 0;
    const res = await ctx.broker.readRecords({
      topic,
      partition,
      offset,
      maxRecords: limit,
      maxBytes: ctx.maxHistoryBytes,
    });
    for (const record of res.records) out.push({ partition, record });
    next.set(partition, res.nextOffset);
  } else {
    const since = parseTime(req.query.get("since") ?? "");
    const desc = await ctx.broker.describeTopic(topic);
    for (const p of desc.partitions) {
      const found = await ctx.broker.listOffsets(topic, p.partition, { timestamp: since });
      const start = found.offset < 0 ? p.highWatermark : found.offset;
      next.set(p.partition, start);
      if (start >= p.highWatermark) continue;
      const res = await ctx.broker.readRecords({
        topic,
        partition: p.partition,
        offset: start,
        maxRecords: limit,
        maxBytes: ctx.maxHistoryBytes,
      });
      for (const record of res.records) out.push({ partition: p.partition, record });
    }
    out.sort(
      (a, b) =>
        a.record.timestamp - b.record.timestamp ||
        a.partition - b.partition ||
        a.record.offset - b.record.offset,
    );
    out.length = Math.min(out.length, limit);
    for (const r of out) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.record.offset + 1));
  }
  return {
    code: Code.CONTENT,
    options: [uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.CBOR)],
    payload: encodeHistory(out, next),
  };
}

function parseTime(s: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isSafeInteger(n) || n < 0)
    throw badRequest("since must be epoch milliseconds or an ISO 8601 time");
  return n;
}

async function publish(ctx: DataContext, req: CoapRequest, topic: string): Promise<ResponseSpec> {
  const wanted = ctx.props.get(topic).contentFormat;
  if (wanted !== undefined && req.contentFormat !== wanted) {
    return diagnostic(Code.UNSUPPORTED_CONTENT_FORMAT, `this topic takes Content-Format ${wanted}`);
  }
  const first = !ctx.fullyCreated.has(topic) && (await hasNoData(ctx, topic));
  const key = req.query.get("key");
  const records = [
    {
      key: key === undefined ? null : new TextEncoder().encode(key),
      value: req.payload,
      headers: publishHeaders(req.contentFormat),
    },
  ];
  try {
    await ctx.broker.produce({ topic, records, acks: -1 });
  } catch (err) {
    if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
    await ctx.broker.ensureTopic(topic); // creates it when auto-create is on, else throws TOPIC_NOT_FOUND
    await ctx.broker.produce({ topic, records, acks: -1 });
  }
  ctx.fullyCreated.add(topic);
  return { code: first ? Code.CREATED : Code.CHANGED };
}

async function hasNoData(ctx: DataContext, topic: string): Promise<boolean> {
  try {
    const desc = await ctx.broker.describeTopic(topic);
    return desc.partitions.every((p) => p.highWatermark <= p.logStartOffset);
  } catch (err) {
    if (isEddyError(err) && err.code === ErrorCode.TOPIC_NOT_FOUND) return true;
    throw err;
  }
}

async function deleteData(ctx: DataContext, topic: string): Promise<ResponseSpec> {
  const desc = await ctx.broker.describeTopic(topic);
  if (desc.partitions.every((p) => p.highWatermark <= p.logStartOffset)) {
    throw new EddyError(ErrorCode.NOT_FOUND, "the topic has no data");
  }
  for (const p of desc.partitions) {
    if (p.highWatermark > p.logStartOffset)
      await ctx.broker.deleteRecords(topic, p.partition, p.highWatermark);
  }
  ctx.fullyCreated.delete(topic);
  ctx.observe.cancelTopic(topic, "the topic data was deleted");
  return { code: Code.DELETED };
}
