/**
 * Topic-data resources, `/<prefix>/data/<topic>` (draft-ietf-core-coap-pubsub-21 §3.3, §3.4).
 *
 * - PUT/POST: publish one record (acks=all, micro-batched with the other
 *   publishes of the turn, publish-batcher.ts); 2.04 Changed only after the
 *   broker acknowledged it, 2.01 Created for the topic's first data. A
 *   Content-Format other than the topic's `topic-content-format` → 4.15.
 *   `?key=<text>` sets the record key (so keyed partitioning and compaction work).
 * - GET: the latest value (4.04 while the topic has no data), with its
 *   Content-Format and an ETag (partition, offset); a matching request ETag → 2.03.
 *   With Observe 0 the client also receives every new record (see observe.ts).
 * - GET `?offset=N[&partition=P][&limit=L]` or `?since=<ms | ISO time>[&limit=L]`:
 *   history from the log (an Eddy extension; CBOR, see records.ts). With
 *   Observe 0 the page is the registration response and every later record
 *   follows as a notification (raw value, ETag = partition/offset): replay,
 *   then live, with no gap and no duplicate.
 * - A Block2 follow-up GET (block > 0) continues the record whose block 0
 *   the peer got last (notification or GET), not whatever is newest now.
 * - DELETE: the topic goes back to "half created": its records are deleted
 *   (log start moves to the end) and observers get a final 4.04.
 *
 * A mapped topic (`/<prefix>/data/sensors/dev1/temp`, see the README) is a
 * view of the stream topic the shared topic mapping names: a publish goes
 * through the forward rules (stream topic, key and `mqtt.*` headers as an
 * MQTT publish; `?key=` is refused, the rule sets the key); GET, Observe and
 * history serve only the records delivered under that topic (`mqtt.topic`
 * header or a reverse rule); DELETE is refused (the stream topic is shared).
 */
import {
  type BrokerApi,
  EddyError,
  ErrorCode,
  isEddyError,
  recordTopic,
  type StoredRecord,
  type TopicMapping,
} from "../../../src/broker/index.ts";
import { type CoapOption, Code, ContentFormat, MessageType, OptionNumber } from "../codec/constants.ts";
import { encodedSize } from "../codec/encode.ts";
import { decodeBlock, getOption, getOptions, uintOption } from "../codec/options.ts";
import type { ResponseSpec } from "../message-layer.ts";
import type { ObserveManager } from "../observe.ts";
import { ensureStreamTopic } from "./mapped-topics.ts";
import type { PublishBatcher } from "../publish-batcher.ts";
import { badRequest, type CoapRequest, diagnostic } from "../request.ts";
import {
  encodeHistory,
  type LatestRecord,
  latestMatching,
  latestRecord,
  mappedPublishHeaders,
  publishHeaders,
  recordContentFormat,
  recordEtag,
} from "./records.ts";
import type { TopicPropsStore } from "./topic-props-store.ts";

export interface DataContext {
  broker: BrokerApi;
  props: TopicPropsStore;
  observe: ObserveManager;
  publisher: PublishBatcher;
  maxHistoryRecords: number;
  maxHistoryBytes: number;
  mapping: TopicMapping;
  /** Records scanned back per partition for the latest value of a mapped topic. */
  maxMappedScan: number;
  /** Topics known to have had data (for 2.01 vs 2.04). */
  fullyCreated: Set<string>;
  /** Stream topics known to exist (a mapped topic's is created on its first publish). */
  ensured: Set<string>;
}

/** What a topic-data URI names: a stream topic, or a mapped topic on one. */
export interface DataResource {
  /** Stream topic name, or the mapped topic (`sensors/dev1/temp`): the key of props and observers. */
  name: string;
  /** The stream topic read (and, for a stream topic, written). */
  topic: string;
  /** Set for a mapped topic. */
  mqttTopic?: string;
}

export function streamResource(topic: string): DataResource {
  return { name: topic, topic };
}

/** A mapped topic's resource; 4.04 when no rule (and no default topic) takes it. */
export function mappedResource(mapping: TopicMapping, mqttTopic: string): DataResource {
  const topic = mapping.sourceTopic(mqttTopic);
  if (topic === null) {
    throw new EddyError(
      ErrorCode.NOT_FOUND,
      `no topic mapping rule takes '${mqttTopic}'; add a [[mqtt.rules]] entry for it`,
    );
  }
  return { name: mqttTopic, topic, mqttTopic };
}

export async function handleTopicData(
  ctx: DataContext,
  req: CoapRequest,
  res: DataResource,
): Promise<ResponseSpec> {
  switch (req.method) {
    case Code.GET:
      if (req.query.has("offset") || req.query.has("since")) return history(ctx, req, res);
      return latest(ctx, req, res);
    case Code.PUT:
    case Code.POST:
      return res.mqttTopic === undefined
        ? publish(ctx, req, res.topic)
        : publishMapped(ctx, req, res.mqttTopic);
    case Code.DELETE:
      if (res.mqttTopic !== undefined) {
        return diagnostic(
          Code.METHOD_NOT_ALLOWED,
          `a mapped topic shares stream topic '${res.topic}'; delete records through that topic`,
        );
      }
      return deleteData(ctx, res.topic);
    default:
      return diagnostic(Code.METHOD_NOT_ALLOWED, "topic-data supports GET, PUT, POST and DELETE");
  }
}

/**
 * The record a Block2 follow-up (block number > 0, no Observe) continues:
 * the one whose block 0 this peer got last (a notification or a GET), so a
 * transfer is not broken by newer records; undefined when unknown or gone.
 */
async function blockFollowUp(
  ctx: DataContext,
  req: CoapRequest,
  { name, topic }: DataResource,
): Promise<LatestRecord | undefined> {
  const b2 = getOption(req.message, OptionNumber.BLOCK2);
  const num = b2 ? (decodeBlock(b2.value)?.num ?? 0) : 0;
  if (num === 0 || req.observe !== undefined) return undefined;
  const src = ctx.observe.blockSource(req.peer, name);
  if (!src) return undefined;
  try {
    const res = await ctx.broker.readRecords({
      topic,
      partition: src.partition,
      offset: src.offset,
      maxRecords: 1,
    });
    const record = res.records[0];
    return record?.offset === src.offset ? { partition: src.partition, record } : undefined;
  } catch {
    return undefined; // gone (retention, deleted): serve the latest; its ETag tells the client
  }
}

/** The record filter of a mapped topic; undefined for a stream topic. */
function matcher(ctx: DataContext, res: DataResource): ((r: StoredRecord) => boolean) | undefined {
  const want = res.mqttTopic;
  if (want === undefined) return undefined;
  return (r) => recordTopic(ctx.mapping, res.topic, r) === want;
}

async function latest(ctx: DataContext, req: CoapRequest, res: DataResource): Promise<ResponseSpec> {
  const { topic, name } = res;
  if (req.observe === 1) ctx.observe.deregister(req.peer, req.message.token);
  const pinned = await blockFollowUp(ctx, req, res);
  const match = matcher(ctx, res);
  const { latest: newest, highWatermarks } = pinned
    ? { latest: pinned, highWatermarks: [] as number[] }
    : match
      ? await latestMatching(ctx.broker, topic, match, ctx.maxMappedScan)
      : await latestRecord(ctx.broker, topic);
  const found = pinned ?? newest;
  if (!found) return diagnostic(Code.NOT_FOUND, "the topic has no data yet; publish first");
  ctx.fullyCreated.add(name);
  const cf = recordContentFormat(found.record);
  if (req.accept !== undefined && cf !== undefined && req.accept !== cf) {
    return diagnostic(Code.NOT_ACCEPTABLE, `the latest value has Content-Format ${cf}`);
  }
  const tag = recordEtag(found.partition, found.record.offset);
  const options: CoapOption[] = [];
  if (req.observe === 0) {
    const seq = ctx.observe.register({
      peer: req.peer,
      token: req.message.token,
      topic,
      name,
      ...(res.mqttTopic !== undefined ? { mqttTopic: res.mqttTopic } : {}),
      positions: highWatermarks,
      requestBytes: encodedSize(req.message),
    });
    if (seq !== undefined) options.push(uintOption(OptionNumber.OBSERVE, seq));
  }
  options.push({ number: OptionNumber.ETAG, value: tag });
  if (cf !== undefined) options.push(uintOption(OptionNumber.CONTENT_FORMAT, cf));
  const matches = getOptions(req.message, OptionNumber.ETAG).some(
    (o) => o.value.length === 8 && o.value.every((b, i) => b === tag[i]),
  );
  if (matches) return { code: Code.VALID, options };
  const value = found.record.value ?? new Uint8Array(0);
  if (!pinned && value.length > 16)
    ctx.observe.rememberBlock(req.peer, name, found.partition, found.record.offset);
  return { code: Code.CONTENT, options, payload: value };
}

function intParam(req: CoapRequest, name: string, min: number): number | undefined {
  const s = req.query.get(name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s === "" || !Number.isSafeInteger(n) || n < min)
    throw badRequest(`query ${name} must be an integer >= ${min}`);
  return n;
}

async function history(ctx: DataContext, req: CoapRequest, res: DataResource): Promise<ResponseSpec> {
  const { topic } = res;
  const match = matcher(ctx, res) ?? (() => true);
  if (req.accept !== undefined && req.accept !== ContentFormat.CBOR) {
    return diagnostic(Code.NOT_ACCEPTABLE, "history is served as application/cbor (60)");
  }
  const limit = Math.min(intParam(req, "limit", 1) ?? ctx.maxHistoryRecords, ctx.maxHistoryRecords);
  const out: LatestRecord[] = [];
  const next = new Map<number, number>();
  const offset = intParam(req, "offset", 0);
  if (offset !== undefined) {
    const partition = intParam(req, "partition", 0) ?? 0;
    const page = await ctx.broker.readRecords({
      topic,
      partition,
      offset,
      maxRecords: limit,
      maxBytes: ctx.maxHistoryBytes,
    });
    for (const record of page.records) if (match(record)) out.push({ partition, record });
    next.set(partition, page.nextOffset);
  } else {
    const since = parseTime(req.query.get("since") ?? "");
    const desc = await ctx.broker.describeTopic(topic);
    for (const p of desc.partitions) {
      const found = await ctx.broker.listOffsets(topic, p.partition, { timestamp: since });
      const start = found.offset < 0 ? p.highWatermark : found.offset;
      next.set(p.partition, start);
      if (start >= p.highWatermark) continue;
      const page = await ctx.broker.readRecords({
        topic,
        partition: p.partition,
        offset: start,
        maxRecords: limit,
        maxBytes: ctx.maxHistoryBytes,
      });
      for (const record of page.records) if (match(record)) out.push({ partition: p.partition, record });
      next.set(p.partition, page.nextOffset);
    }
    out.sort(
      (a, b) =>
        a.record.timestamp - b.record.timestamp ||
        a.partition - b.partition ||
        a.record.offset - b.record.offset,
    );
    if (out.length > limit) {
      // Cut to the oldest `limit` records: each partition resumes after the last one kept.
      const kept = out.slice(0, limit);
      for (const p of new Set(out.map((r) => r.partition))) {
        const lastKept = kept.filter((r) => r.partition === p).at(-1);
        const firstCut = out.find((r) => r.partition === p && !kept.includes(r));
        if (firstCut) next.set(p, lastKept ? lastKept.record.offset + 1 : firstCut.record.offset);
      }
      out.length = limit;
    }
  }
  const options = [uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.CBOR)];
  if (req.observe === 1) ctx.observe.deregister(req.peer, req.message.token);
  if (req.observe === 0) {
    // Replay, then live: the observer is owed everything after this page (catch-up.ts).
    const desc = await ctx.broker.describeTopic(topic);
    const seq = ctx.observe.register({
      peer: req.peer,
      token: req.message.token,
      topic,
      positions: desc.partitions.map((p) => next.get(p.partition) ?? p.highWatermark),
      requestBytes: encodedSize(req.message),
    });
    if (seq !== undefined) options.push(uintOption(OptionNumber.OBSERVE, seq));
  }
  return { code: Code.CONTENT, options, payload: encodeHistory(out, next) };
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
  await ctx.publisher.publish(topic, {
    key: key === undefined ? null : new TextEncoder().encode(key),
    value: req.payload,
    headers: publishHeaders(req.contentFormat),
  });
  ctx.fullyCreated.add(topic);
  return { code: first ? Code.CREATED : Code.CHANGED };
}

async function publishMapped(ctx: DataContext, req: CoapRequest, mqttTopic: string): Promise<ResponseSpec> {
  if (req.query.has("key")) throw badRequest("a mapped topic's key comes from its mapping rule: drop ?key=");
  const wanted = ctx.props.get(mqttTopic).contentFormat;
  if (wanted !== undefined && req.contentFormat !== wanted) {
    return diagnostic(Code.UNSUPPORTED_CONTENT_FORMAT, `this topic takes Content-Format ${wanted}`);
  }
  const target = ctx.mapping.forward(mqttTopic);
  if (!target) {
    throw new EddyError(
      ErrorCode.NOT_FOUND,
      `no topic mapping rule takes '${mqttTopic}'; add a [[mqtt.rules]] entry for it`,
    );
  }
  if (target.topic.startsWith("__")) {
    throw new EddyError(ErrorCode.FORBIDDEN, "internal topics (__*) are not reachable over CoAP");
  }
  await ensureStreamTopic(ctx.broker, target.topic, ctx.ensured);
  const first = !ctx.fullyCreated.has(mqttTopic) && (await hasNoData(ctx, target.topic));
  await ctx.publisher.publish(target.topic, {
    key: target.key,
    value: req.payload,
    headers: mappedPublishHeaders(req.contentFormat, mqttTopic, req.message.type === MessageType.CON),
  });
  ctx.fullyCreated.add(mqttTopic);
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
