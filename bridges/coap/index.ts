/**
 * The CoAP bridge: a UDP listener (Bun.udpSocket) in front of the sans-IO
 * message layer, the pub/sub resources and Observe. `src/main.ts` wires it:
 *
 *   const coap = await startCoapListener({ broker, host, port: 5683, logger, metrics });
 *   ...; await coap.close();
 *
 * Datagrams above `maxDatagramBytes` are dropped before decoding; bodies above
 * `maxBodyBytes` are refused (4.13, Size1). See router.ts for the pipeline.
 * Publishes are micro-batched per topic (publish-batcher.ts); outgoing
 * datagrams leave in sendMany chunks (outbox.ts); topic properties persist
 * in `__coap_topics` (resources/topic-props-store.ts), loaded before the
 * socket opens; `metrics` (optional) gets the counters of metrics.ts.
 * `rateLimit: false` turns the per-source limit off (benchmarks, trusted nets).
 * `mapping` is the topic mapping shared with the MQTT bridge (see README.md):
 * `/ps/data/sensors/dev1/temp` publishes and observes MQTT topic `sensors/dev1/temp`.
 */
import {
  type BrokerApi,
  compileMapping,
  type TopicMapping,
  type TopicMappingConfig,
} from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { MetricsRegistry } from "../../src/observability/metrics.ts";
import { type Clock, systemClock } from "../../src/util/clock.ts";
import { EchoVerifier, type EchoOptions, RateLimiter, type RateLimitOptions } from "./abuse.ts";
import { Block1Assembler } from "./block.ts";
import { TransmissionDefaults } from "./codec/constants.ts";
import { MessageLayer } from "./message-layer.ts";
import { CoapMetrics, DropReason } from "./metrics.ts";
import { type ObservationInfo, ObserveManager } from "./observe.ts";
import { Outbox } from "./outbox.ts";
import { PublishBatcher } from "./publish-batcher.ts";
import { TopicPropsStore } from "./resources/topic-props-store.ts";
import { createRouter, KNOWN_CRITICAL_OPTIONS } from "./router.ts";
import { systemTimers, type Timers } from "../../src/util/timers.ts";

export interface CoapListenerOptions {
  broker: BrokerApi;
  logger: Logger;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 5683; 0 picks a free port. */
  port?: number;
  clock?: Clock;
  timers?: Timers;
  /** Path of the topic collection. Default "ps". */
  prefix?: string;
  maxDatagramBytes?: number;
  maxBodyBytes?: number;
  /** Largest block size exponent served (6 = 1024 bytes). */
  maxBlockSzx?: number;
  /** Per source address; false disables. Default 1000/s, burst 2000. */
  rateLimit?: RateLimitOptions | false;
  /** Amplification guard (RFC 9175 Echo); false disables. */
  echo?: Partial<EchoOptions> | false;
  maxObservers?: number;
  observerCheckMs?: number;
  /** Send every n-th notification as CON. Default 100. */
  conEvery?: number;
  separateAckDelayMs?: number;
  ackTimeoutMs?: number;
  maxRetransmit?: number;
  maxHistoryRecords?: number;
  maxHistoryBytes?: number;
  random?: () => number;
  /** Register the listener's metrics (responses by code, observers, drops, rate limiting) here. */
  metrics?: MetricsRegistry;
  /**
   * Memory bound of the deduplication cache (estimated bytes; default 64 MiB, about
   * 700k exchanges: the full EXCHANGE_LIFETIME of 247 s at ~2.8k requests/s; past it the
   * oldest exchanges are forgotten early). See dedup-cache.ts.
   */
  maxDedupBytes?: number;
  /** Keep topic properties in the internal topic `__coap_topics` across restarts. Default true. */
  persistTopicProps?: boolean;
  /** Publishes per broker produce call (micro-batching). Default 1000. */
  maxPublishBatch?: number;
  /**
   * The topic mapping shared with the MQTT bridge (a config, or one compiled
   * already). Default: the zero-config mapping (every topic → stream topic `mqtt`).
   */
  mapping?: TopicMappingConfig | TopicMapping;
  /** Records scanned back per partition for the latest value of a mapped topic. Default 10 000. */
  maxMappedScan?: number;
  /** Period of the sweep removing topics whose expiration-date passed. Default 1000 ms. */
  expiryCheckMs?: number;
}

export interface CoapListener {
  host: string;
  port: number;
  /** Live observations (for metrics and tests). */
  observers(): number;
  /** The live observations (at most `limit`), each with its resource path ("/ps/data/<topic>"). */
  observations(limit?: number): CoapObservation[];
  /** The listener's counters (also exported through the `metrics` registry when given). */
  readonly counters: CoapMetrics;
  close(): Promise<void>;
}

/** One live observation, for operator views (src/main.ts → GET /v1/coap/observers). */
export interface CoapObservation extends ObservationInfo {
  /** The observed resource's path, "/<prefix>/data/<topic>". */
  path: string;
}

export async function startCoapListener(o: CoapListenerOptions): Promise<CoapListener> {
  const clock = o.clock ?? systemClock;
  const timers = o.timers ?? systemTimers;
  const logger = o.logger.child({ component: "coap" });
  const random = o.random ?? Math.random;
  const maxDatagram = o.maxDatagramBytes ?? 1500;
  const maxBlockSzx = o.maxBlockSzx ?? 6;
  const props = new TopicPropsStore(o.persistTopicProps === false ? undefined : o.broker);
  await props.load();
  const counters = new CoapMetrics();
  const mapping =
    o.mapping && "forward" in o.mapping
      ? o.mapping
      : compileMapping(o.mapping as TopicMappingConfig | undefined);
  let send: (address: string, port: number, bytes: Uint8Array) => void = () => {};

  const echo =
    o.echo === false
      ? undefined
      : new EchoVerifier(clock, {
          amplificationFactor: 3,
          freeBytes: 64,
          echoFreshnessMs: 60_000,
          verifiedTtlMs: 3_600_000,
          secret: Math.floor(random() * 0xffffffff),
          ...o.echo,
        });
  let observe: ObserveManager | undefined;
  const layer = new MessageLayer({
    clock,
    timers,
    logger,
    random,
    knownOptions: KNOWN_CRITICAL_OPTIONS,
    separateAckDelayMs: o.separateAckDelayMs,
    ackTimeoutMs: o.ackTimeoutMs,
    maxRetransmit: o.maxRetransmit,
    send: (peer, bytes) => send(peer.address, peer.port, bytes),
    handle: (req) => router.handle(req),
    onReset: (peer, token) => observe?.onReset(peer, token),
    onResponse: (code) => counters.response(code),
    onMalformed: () => counters.drop(DropReason.MALFORMED),
    maxDedupBytes: o.maxDedupBytes,
  });
  observe = new ObserveManager({
    broker: o.broker,
    layer,
    clock,
    logger,
    props,
    mapping,
    maxObservers: o.maxObservers ?? 10_000,
    observerCheckMs: o.observerCheckMs ?? 86_400_000,
    conEvery: o.conEvery ?? 100,
    maxPayloadSzx: maxBlockSzx,
    echo,
    backlog: () => outbox.queued,
    onDropped: (n) => {
      counters.droppedNotifications += n;
    },
  });
  const router = createRouter({
    broker: o.broker,
    logger,
    prefix: o.prefix ?? "ps",
    props,
    observe,
    publisher: new PublishBatcher({ broker: o.broker, maxBatchRecords: o.maxPublishBatch }),
    mapping,
    maxMappedScan: o.maxMappedScan ?? 10_000,
    onRateLimited: () => {
      counters.rateLimited++;
    },
    blocks: new Block1Assembler({
      maxBodyBytes: o.maxBodyBytes ?? 64 * 1024,
      lifetimeMs: TransmissionDefaults.EXCHANGE_LIFETIME,
      maxAssemblies: 1000,
      now: () => clock.monotonic(),
    }),
    rate:
      o.rateLimit === false
        ? undefined
        : new RateLimiter(clock, o.rateLimit ?? { ratePerSecond: 1000, burst: 2000 }),
    echo,
    maxBlockSzx,
    maxHistoryRecords: o.maxHistoryRecords ?? 100,
    maxHistoryBytes: o.maxHistoryBytes ?? 256 * 1024,
    clock,
    timers,
    expiryCheckMs: o.expiryCheckMs,
  });

  const socket = await Bun.udpSocket({
    hostname: o.host ?? "127.0.0.1",
    port: o.port ?? 5683,
    binaryType: "uint8array",
    socket: {
      data(_s, buf, port, address) {
        if (buf.length > maxDatagram) {
          counters.drop(DropReason.OVERSIZED);
          logger.debug("coap: dropped oversized datagram", { address, port, bytes: buf.length });
          return;
        }
        layer.receive({ address, port }, buf);
      },
      drain() {
        outbox.drain();
      },
      error(_s, err) {
        // ICMP errors (a peer that went away) surface here; CoAP's own timeouts handle them.
        logger.debug("coap: socket error", { error: String((err as Error | undefined)?.message ?? err) });
      },
    },
  });
  const outbox = new Outbox({
    sendMany: (packets) => (socket.closed ? packets.length / 3 : socket.sendMany(packets)),
    onDrop: (n) => counters.drop(DropReason.OUTBOX_FULL, n),
  });
  send = (address, port, bytes) => outbox.send(address, port, bytes);
  const detachMetrics = o.metrics ? counters.attach(o.metrics, () => observe.count) : () => {};
  logger.info("coap listener started", { host: socket.hostname, port: socket.port });
  return {
    host: socket.hostname,
    port: socket.port,
    observers: () => observe.count,
    observations: (limit) =>
      observe.list(limit).map((ob) => ({ ...ob, path: `/${o.prefix ?? "ps"}/data/${ob.resource}` })),
    counters,
    async close() {
      detachMetrics();
      router.close();
      observe.close();
      layer.close();
      outbox.flushAll();
      outbox.clear();
      socket.close();
    },
  };
}
