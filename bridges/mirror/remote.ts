/**
 * The central cluster as a link sees it, over @platformatic/kafka (see
 * README.md for the client choice): transactional producers (acks=all, one
 * transactional.id per edge partition, `TxnChannel`; chunks are grouped into
 * transactions by TxnSender), topic preparation, and a read_committed tail
 * scan that finds what an earlier owner of the partition already delivered
 * (the dedupe step after an outage, a restart or a leadership change).
 *
 * Every mirrored record carries two headers, `eddy.mirror.src`
 * (`{source.id}/{topic}/{partition}`) and `eddy.mirror.offset` (the edge
 * offset, decimal), and `eddy.mirror.topic_id` (the edge topic's id, so that
 * a deleted and re-created edge topic is not mistaken for the old one;
 * records without it match on the source alone). On an edge cluster each
 * record also carries `eddy.mirror.epoch`, the edge partition's leader epoch
 * of the node that sent it: a deposed leader that still reaches central sees
 * a newer epoch in the scan and stands down (README.md, "Edge cluster").
 */
import {
  Admin,
  Consumer,
  FetchIsolationLevels,
  type MessageToProduce,
  Producer,
  UserError,
} from "@platformatic/kafka";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import type { MirrorLinkConfig } from "./config.ts";
import {
  decodePartition,
  type FetchedPartition,
  type FetchResponsePartitionLike,
  type FetchWant,
  fetchPartitions,
  trackTopics,
} from "./remote-fetch.ts";
import { TxnChannel } from "./txn-channel.ts";
import { TxnSender } from "./txn-sender.ts";
import { sleep } from "../../src/util/sleep.ts";

export const HEADER_SOURCE = "eddy.mirror.src";
export const HEADER_OFFSET = "eddy.mirror.offset";
export const HEADER_TOPIC_ID = "eddy.mirror.topic_id";
export const HEADER_EPOCH = "eddy.mirror.epoch";
const SCAN_CHUNK_RECORDS = 500;
/** A transaction is committed once it holds this many batches' worth of records, or is this old. */
const TXN_MAX_BATCHES = 16;
const TXN_MAX_MS = 100;
const ZERO_UUID = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;

export type RemoteMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

export interface RemoteTopicInfo {
  partitions: number;
}

export interface RemoteClusterOptions {
  config: MirrorLinkConfig;
  logger: Logger;
  clock: Clock;
}

/** What the tail scan found of one source: its newest edge offset, and the edge leader epoch that sent it (null: no epoch header). */
export interface LastMirrored {
  offset: number;
  epoch: number | null;
}

export class RemoteCluster {
  private readonly channels = new Set<TxnChannel>();
  private readonly config: MirrorLinkConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly admin: Admin;
  private readonly reader: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private downReader: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  private readonly ready = new Map<string, Promise<RemoteTopicInfo>>();

  constructor(o: RemoteClusterOptions) {
    this.config = o.config;
    this.logger = o.logger;
    this.clock = o.clock;
    const config = o.config;
    this.admin = new Admin(this.baseOptions("admin"));
    this.reader = new Consumer({
      ...this.baseOptions("reader"),
      groupId: `eddy-mirror-${config.name}`,
    });
  }

  /**
   * A transactional producer for one transactional.id (one per edge
   * partition); closed by its owner, or by close().
   */
  channel(transactionalId: string): TxnChannel {
    const channel: TxnChannel = new TxnChannel({
      transactionalId,
      newProducer: (id) => this.newProducer(id),
      newSender: (producer, generation) => this.newSender(producer, generation),
      onCloseError: (err) => this.logger.debug("closing a producer failed", { err }),
      onClosed: () => this.channels.delete(channel),
    });
    this.channels.add(channel);
    return channel;
  }

  /**
   * Make sure the remote topic exists with at least `minPartitions`
   * partitions (created with that count, or grown), and return its size.
   * Falls back to auto-creation for servers without CreateTopics.
   */
  ensureTopic(topic: string, minPartitions: number): Promise<RemoteTopicInfo> {
    let pending = this.ready.get(topic);
    if (!pending) {
      pending = this.prepareTopic(topic, minPartitions);
      this.ready.set(topic, pending);
      pending.catch(() => this.ready.delete(topic));
    }
    return pending.then(async (info) => {
      if (info.partitions >= minPartitions) return info;
      this.ready.delete(topic);
      return this.ensureTopic(topic, minPartitions);
    });
  }

  /**
   * The highest edge offset of `source` found in the last `scanLimit`
   * records of each of `partitions` of the remote topic (with the edge epoch
   * it was sent under), or null.
   */
  async lastMirrored(opts: {
    topic: string;
    partitions: number[];
    source: string;
    /** The edge topic's id: records carrying another id belong to an earlier topic of the same name. */
    edgeTopicId: string;
    scanLimit: number;
  }): Promise<LastMirrored | null> {
    trackTopics(this.reader, [opts.topic]);
    const meta = await this.deadline(
      "metadata",
      this.reader.metadata({ topics: [opts.topic], forceUpdate: true }),
    );
    const info = meta.topics.get(opts.topic);
    if (!info) return null;
    const topicId = ZERO_UUID.test(info.id) ? opts.topic : info.id;
    let best: LastMirrored | null = null;
    for (const partition of opts.partitions) {
      const leader = info.partitions[partition]?.leader;
      if (leader === undefined) continue;
      const found = await this.scanPartition({ ...opts, topicId, partition, leader });
      if (found !== null && (best === null || found.offset > best.offset)) best = found;
    }
    return best;
  }

  /** Names of the central cluster's topics (internal ones left out). */
  async listTopics(): Promise<string[]> {
    return this.deadline("metadata", this.admin.listTopics({ includeInternals: false }));
  }

  /** Partition count of a central topic (0 if it does not exist). */
  topicPartitions(topic: string): Promise<number> {
    return this.partitionCount(topic, false);
  }

  /** Earliest or latest offset of one central partition (ListOffsets; latest = the high watermark). */
  async offsetOf(topic: string, partition: number, which: "earliest" | "latest"): Promise<number> {
    const offsets = await this.deadline(
      "listOffsets",
      this.reader.listOffsets({
        topics: [topic],
        partitions: { [topic]: [partition] },
        timestamp: which === "earliest" ? -2n : -1n,
      }),
    );
    const value = offsets.get(topic)?.[partition];
    if (value === undefined)
      throw new Error(`central cluster gave no ${which} offset for ${topic}-${partition}`);
    return Number(value);
  }

  /**
   * Downlink reads: each want at its offset, read_committed, waiting up to
   * `maxWaitMs` for data. Uses its own connection (the downlink's fetches
   * never interleave with the tail scans of uplink forwarders).
   */
  fetch(
    wants: readonly FetchWant[],
    opts: { maxWaitMs: number; maxBytes: number },
  ): Promise<FetchedPartition[]> {
    this.downReader ??= new Consumer({
      ...this.baseOptions("downlink"),
      groupId: `eddy-mirror-${this.config.name}-downlink`,
    });
    return fetchPartitions(this.downReader, wants, {
      maxWaitMs: opts.maxWaitMs,
      partitionMaxBytes: opts.maxBytes,
      deadline: (what, p) => this.deadline(what, p, opts.maxWaitMs),
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([
      ...[...this.channels].map((c) => c.close()),
      this.admin.close(),
      this.reader.close(true),
      ...(this.downReader ? [this.downReader.close(true)] : []),
    ]);
  }

  private async scanPartition(o: {
    topicId: string;
    partition: number;
    leader: number;
    source: string;
    edgeTopicId: string;
    scanLimit: number;
  }): Promise<LastMirrored | null> {
    // Records between the last stable offset and the high watermark belong to open transactions (a
    // fenced producer's, being aborted, or another node's in a cluster): wait until they are decided,
    // up to twice the transaction timeout; read_committed sees only what lies below the LSO.
    let probe = await this.probe(o);
    const attempts = Math.ceil((2 * this.config.request_timeout_ms) / this.config.retry_backoff_ms);
    for (let i = 0; i < attempts && probe.lastStableOffset < probe.highWatermark; i++) {
      await sleep(this.config.retry_backoff_ms);
      probe = await this.probe(o);
    }
    if (probe.lastStableOffset < probe.highWatermark) {
      this.logger.warn("a transaction stays open on the central partition; scanning committed records only", {
        partition: o.partition,
        lastStableOffset: probe.lastStableOffset,
        highWatermark: probe.highWatermark,
      });
    }
    const start = probe.logStartOffset;
    let end = probe.lastStableOffset;
    let scanned = 0;
    let chunk = SCAN_CHUNK_RECORDS;
    while (end > start && scanned < o.scanLimit) {
      const from = Math.max(start, end - Math.min(chunk, o.scanLimit - scanned));
      let best: LastMirrored | null = null;
      let at = from;
      while (at < end) {
        const page = await this.fetchAt(o, at, 1024 * 1024);
        for (const r of page.records) {
          if (r.offset < at || r.offset >= end) continue;
          const ours = r.source === o.source && (r.topicId === null || r.topicId === o.edgeTopicId);
          if (ours && (best === null || r.edgeOffset > best.offset)) {
            best = { offset: r.edgeOffset, epoch: r.epoch };
          }
        }
        if (page.nextOffset <= at) break; // nothing more below the LSO
        at = page.nextOffset;
      }
      // Our records reach a remote partition in edge-offset order: the newest chunk holding any is enough.
      if (best !== null) return best;
      scanned += end - from;
      end = from;
      chunk *= 2;
    }
    return null;
  }

  /** A partition's log start, last stable offset and high watermark. */
  private async probe(o: {
    topicId: string;
    partition: number;
    leader: number;
  }): Promise<{ logStartOffset: number; lastStableOffset: number; highWatermark: number }> {
    let page = await this.fetchAt(o, 0, 1);
    // Offset 0 is below the log start: ask again there (an error answer carries no reliable LSO).
    if (page.errorCode !== 0) page = await this.fetchAt(o, page.logStartOffset, 1);
    return page;
  }

  /** read_committed: aborted transactions and control batches are dropped (remote-fetch.ts decodePartition). */
  private async fetchAt(
    o: { topicId: string; partition: number; leader: number },
    offset: number,
    maxBytes: number,
  ): Promise<{
    errorCode: number;
    logStartOffset: number;
    lastStableOffset: number;
    highWatermark: number;
    nextOffset: number;
    records: Array<{
      offset: number;
      source: string | null;
      topicId: string | null;
      edgeOffset: number;
      epoch: number | null;
    }>;
  }> {
    let response: FetchResponseLike;
    try {
      response = (await this.deadline(
        "fetch",
        this.reader.fetch({
          node: o.leader,
          topics: [
            {
              topicId: o.topicId,
              partitions: [
                {
                  partition: o.partition,
                  currentLeaderEpoch: -1,
                  fetchOffset: BigInt(offset),
                  lastFetchedEpoch: -1,
                  partitionMaxBytes: maxBytes,
                },
              ],
            },
          ],
          maxWaitTime: 0,
          minBytes: 0,
          maxBytes,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        }),
      )) as unknown as FetchResponseLike;
    } catch (err) {
      // OFFSET_OUT_OF_RANGE (the log start moved past 0) still carries the offsets.
      const attached = (err as { response?: FetchResponseLike }).response;
      if (!attached?.responses?.[0]?.partitions?.[0]) throw err;
      response = attached;
    }
    const p = response.responses[0]?.partitions[0];
    if (!p) {
      return {
        errorCode: 0,
        logStartOffset: 0,
        lastStableOffset: 0,
        highWatermark: 0,
        nextOffset: offset,
        records: [],
      };
    }
    const decoded = decodePartition("", offset, p);
    const records: Array<{
      offset: number;
      source: string | null;
      topicId: string | null;
      edgeOffset: number;
      epoch: number | null;
    }> = [];
    for (const r of decoded.records) {
      let source: string | null = null;
      let topicId: string | null = null;
      let edgeOffset = -1;
      let epoch: number | null = null;
      for (const [k, v] of r.headers) {
        const key = k?.toString();
        if (key === HEADER_SOURCE) source = v?.toString() ?? null;
        else if (key === HEADER_TOPIC_ID) topicId = v?.toString() ?? null;
        else if (key === HEADER_OFFSET) edgeOffset = Number(v?.toString() ?? -1);
        else if (key === HEADER_EPOCH) {
          const e = Number(v?.toString());
          epoch = Number.isSafeInteger(e) ? e : null;
        }
      }
      records.push({ offset: r.offset, source, topicId, edgeOffset, epoch });
    }
    const highWatermark = Number(p.highWatermark);
    // Servers without transactions may answer -1: everything up to the high watermark is stable.
    const lso =
      p.lastStableOffset === undefined || p.lastStableOffset < 0n
        ? highWatermark
        : Number(p.lastStableOffset);
    return {
      errorCode: p.errorCode,
      logStartOffset: Number(p.logStartOffset),
      lastStableOffset: Math.min(lso, highWatermark),
      highWatermark,
      nextOffset: decoded.nextOffset,
      records,
    };
  }

  private async prepareTopic(topic: string, minPartitions: number): Promise<RemoteTopicInfo> {
    let current = await this.partitionCount(topic, false);
    if (current === 0) {
      try {
        await this.deadline(
          "createTopics",
          this.admin.createTopics({ topics: [topic], partitions: minPartitions, replicas: -1 }),
        );
      } catch (err) {
        this.logger.debug("createTopics failed; relying on auto-creation", { topic, err });
      }
      current = await this.partitionCount(topic, true);
    }
    if (current > 0 && current < minPartitions) {
      try {
        await this.admin.createPartitions({
          topics: [{ name: topic, count: minPartitions, assignments: [] }],
        });
        current = await this.partitionCount(topic, false);
      } catch (err) {
        this.logger.warn("could not add partitions to the central topic", { topic, err });
      }
    }
    return { partitions: current };
  }

  private async partitionCount(topic: string, autocreate: boolean): Promise<number> {
    try {
      const meta = await this.deadline(
        "metadata",
        this.reader.metadata({ topics: [topic], forceUpdate: true, autocreateTopics: autocreate }),
      );
      return meta.topics.get(topic)?.partitionsCount ?? 0;
    } catch (err) {
      if (isUnknownTopic(err)) return 0;
      throw err;
    }
  }

  /**
   * The client retries on its own and may wait long on a dead uplink; give
   * every call one deadline (request_timeout_ms) so the link notices and
   * says "down". A late outcome of an abandoned call is dropped: callers
   * reset the producer and reconcile before sending again.
   */
  private deadline<T>(what: string, call: Promise<T>, extraMs = 0): Promise<T> {
    const ms = this.config.request_timeout_ms + extraMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} to the central cluster got no answer within ${ms} ms`)),
        ms,
      );
    });
    call.catch(() => {});
    return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
  }

  private newProducer(transactionalId: string): Producer<Buffer, Buffer, Buffer, Buffer> {
    return new Producer({
      ...this.baseOptions("producer"),
      idempotent: true,
      transactionalId,
      // Kafka treats -1/-1 as "new producer"; librdkafka's mock requires it.
      producerId: -1n,
      producerEpoch: -1,
      acks: -1,
      compression: this.config.compression,
      autocreateTopics: false,
    });
  }

  private newSender(producer: Producer<Buffer, Buffer, Buffer, Buffer>, generation: number): TxnSender {
    return new TxnSender({
      producer,
      generation,
      deadline: (what, call) => this.deadline(what, call),
      maxRecords: TXN_MAX_BATCHES * this.config.batch.max_records,
      maxMs: TXN_MAX_MS,
      now: () => this.clock.monotonic(),
    });
  }

  private baseOptions(role: string) {
    const c = this.config;
    const tls = c.tls?.enabled
      ? {
          ca: c.tls.ca,
          cert: c.tls.cert,
          key: c.tls.key,
          rejectUnauthorized: !c.tls.insecure_skip_verify,
          servername: c.tls.server_name,
        }
      : undefined;
    const sasl = c.sasl
      ? { mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password }
      : undefined;
    return {
      clientId: `${c.client_id ?? `eddy-mirror-${c.name}`}-${role}`,
      bootstrapBrokers: c.bootstrap_servers,
      timeout: c.request_timeout_ms,
      requestTimeout: c.request_timeout_ms,
      connectTimeout: Math.min(c.request_timeout_ms, 10_000),
      retries: 1,
      retryDelay: c.retry_backoff_ms,
      // SNI: server_name if set; else the TLS stack uses the host name (never an IP address:
      // tlsServerName = true would pass "127.0.0.1" as servername, which Bun and Node refuse).
      ...(tls ? { tls, ...(c.tls?.server_name ? { tlsServerName: c.tls.server_name } : {}) } : {}),
      ...(sasl ? { sasl } : {}),
    };
  }
}

interface FetchResponseLike {
  responses: Array<{ partitions: Array<FetchResponsePartitionLike & { lastStableOffset?: bigint }> }>;
}

function isUnknownTopic(err: unknown): boolean {
  const inner = (err as { errors?: Array<{ apiId?: string }> }).errors ?? [];
  if (inner.some((e) => e.apiId === "UNKNOWN_TOPIC_OR_PARTITION")) return true;
  // The client turns UNKNOWN_TOPIC_OR_PARTITION in Metadata into a bare UserError("Unknown topic <name>.").
  return err instanceof UserError && err.message.startsWith("Unknown topic ");
}
