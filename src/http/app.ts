/**
 * Eddy's HTTP API as a hono app: topics, records (JSON and binary), a live
 * SSE stream, consumer-group offsets, /health, /ready, /metrics and the
 * OpenAPI 3.1 document at /openapi.json. Serve it with startHttpServer
 * (server.ts) or call `app.request()` in tests.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { BrokerApi, TopicMappingConfig } from "../broker/index.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import { MetricsRegistry } from "../observability/metrics.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { CredentialStore } from "../util/credentials.ts";
import { httpAuth } from "./auth.ts";
import type { HttpDeps } from "./deps.ts";
import { makeErrorHandler, notFoundHandler } from "./errors.ts";
import { ApiRouter, buildOpenApiDocument } from "./openapi.ts";
import { type ClusterPeer, registerClusterRoutes } from "./routes/cluster.ts";
import { type CoapAdmin, registerCoapRoutes } from "./routes/coap.ts";
import { registerConsoleRoutes } from "./routes/console.ts";
import { registerGroupRoutes } from "./routes/groups.ts";
import { type HealthCheck, registerHealthRoutes } from "./routes/health.ts";
import { registerMappingRoutes } from "./routes/mapping.ts";
import { type MirrorAdmin, registerMirrorRoutes } from "./routes/mirror.ts";
import { type MqttAdmin, registerMqttRoutes } from "./routes/mqtt.ts";
import { registerRecordRoutes } from "./routes/records.ts";
import { registerStatsRoutes } from "./routes/stats.ts";
import { registerStreamRoutes } from "./routes/stream.ts";
import { registerTopicRoutes } from "./routes/topics.ts";
import { StatsHistory } from "./stats-history.ts";

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface HttpAppOptions {
  broker: BrokerApi;
  /**
   * Rendered at /metrics: a registry, or createBrokerMetrics()'s result (its registry is used).
   * HTTP request metrics are added to it. Default: a new registry.
   */
  metrics?: MetricsRegistry | { readonly registry: MetricsRegistry };
  logger?: Logger;
  clock?: Clock;
  /** Largest accepted request body in bytes (413 above). Default 8 MiB. */
  maxBodyBytes?: number;
  /** /ready answers 200 only while this returns true. Default: always ready. */
  isReady?: () => boolean;
  /** Extra checks reported by /health (status "degraded" when one fails). */
  healthChecks?: Record<string, HealthCheck>;
  /** Abort to end all live SSE streams (server shutdown). */
  shutdownSignal?: AbortSignal;
  /** Idle time before an SSE heartbeat comment. Default 15 s. */
  sseHeartbeatMs?: number;
  /** Cap for maxWaitMs on long-polling reads. Default 30 s. */
  maxWaitMsLimit?: number;
  /** Reported by /health and in the OpenAPI document. */
  version?: string;
  /** The broker's data directory: /v1/stats (and the console) report its disk use. */
  dataDir?: string;
  /**
   * Throughput history for GET /v1/stats/history. Default: one sampling the
   * broker every second (stopped by shutdownSignal); give one to sample it yourself.
   */
  statsHistory?: StatsHistory;
  /** Serve the web console at `/`. Default true. */
  console?: boolean;
  /** The MQTT bridge's operator views (/v1/mqtt/...); without it those routes answer 404. */
  mqtt?: MqttAdmin;
  /** The CoAP listener's operator views (/v1/coap/...); without it those routes answer 404. */
  coap?: CoapAdmin;
  /** The mirror's status (/v1/mirror/links); without it no links are listed. */
  mirror?: MirrorAdmin;
  /** The topic mapping MQTT and CoAP use (GET /v1/mapping). Default: the zero-config mapping. */
  mapping?: TopicMappingConfig;
  /** Cluster mode: [[cluster.peers]] (id, url, witness), for the node URLs in GET /v1/cluster. */
  peers?: readonly ClusterPeer[];
  /** Users and API tokens: when any is configured, every route but /health, /ready and the console's files needs them (auth.ts). */
  credentials?: CredentialStore;
  /** With credentials: does /metrics need them too? Default true. */
  metricsRequireAuth?: boolean;
  /** Failed-login rate limit per source address (default 10 per 60 s). */
  authRateLimit?: { maxFailures: number; windowMs: number };
}

export function createHttpApp(opts: HttpAppOptions): Hono {
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? systemClock;
  const metrics =
    opts.metrics instanceof MetricsRegistry
      ? opts.metrics
      : (opts.metrics?.registry ?? new MetricsRegistry());
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const version = opts.version ?? "0.0.0";
  const deps: HttpDeps = {
    broker: opts.broker,
    logger,
    clock,
    shutdownSignal: opts.shutdownSignal ?? new AbortController().signal,
    sseHeartbeatMs: opts.sseHeartbeatMs ?? 15_000,
    maxWaitMsLimit: opts.maxWaitMsLimit ?? 30_000,
  };

  const app = new Hono();
  const requests = metrics.counter({
    name: "eddy_http_requests_total",
    help: "HTTP requests by method, route and status.",
    labelNames: ["method", "route", "status"],
  });
  const durations = metrics.histogram({
    name: "eddy_http_request_duration_seconds",
    help: "Time to produce the HTTP response head, by method and route.",
    labelNames: ["method", "route"],
  });

  app.use("*", async (c, next) => {
    const start = clock.monotonic();
    await next();
    const route = c.req.routePath === "/*" || c.req.routePath === "*" ? "unmatched" : c.req.routePath;
    requests.inc({ method: c.req.method, route, status: c.res.status });
    durations.observe({ method: c.req.method, route }, (clock.monotonic() - start) / 1000);
  });
  if (opts.credentials?.enabled) {
    app.use(
      "*",
      httpAuth({
        credentials: opts.credentials,
        metricsRequireAuth: opts.metricsRequireAuth ?? true,
        maxFailures: opts.authRateLimit?.maxFailures,
        windowMs: opts.authRateLimit?.windowMs,
        clock,
        logger,
      }),
    );
  }
  app.use(
    "*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new EddyError(
          ErrorCode.BATCH_TOO_LARGE,
          `request body is larger than ${maxBodyBytes} bytes: send fewer or smaller records per request`,
          { limit: maxBodyBytes },
        );
      },
    }),
  );
  app.onError(makeErrorHandler(logger));
  app.notFound(notFoundHandler);

  const router = new ApiRouter(app);
  const startedAt = clock.now();
  registerHealthRoutes(router, deps, {
    isReady: opts.isReady ?? (() => true),
    checks: opts.healthChecks ?? {},
    metrics,
    startedAt,
    version,
  });
  let history = opts.statsHistory;
  if (!history) {
    history = new StatsHistory({ read: () => opts.broker.stats(), clock });
    history.start({ signal: deps.shutdownSignal });
  }
  registerStatsRoutes(router, deps, { dataDir: opts.dataDir, startedAt, history });
  if (opts.console !== false) registerConsoleRoutes(app);
  registerTopicRoutes(router, deps);
  registerRecordRoutes(router, deps);
  registerStreamRoutes(router, deps);
  registerGroupRoutes(router, deps);
  registerClusterRoutes(router, deps, opts.peers);
  registerMqttRoutes(router, opts.mqtt);
  registerMappingRoutes(router, opts.mapping);
  registerCoapRoutes(router, opts.coap);
  registerMirrorRoutes(router, opts.mirror);

  let document: Record<string, unknown> | undefined;
  router.add(
    {
      method: "get",
      path: "/openapi.json",
      tag: "operations",
      summary: "This API's OpenAPI 3.1 document",
      responses: { 200: { description: "OpenAPI document", schema: z.record(z.string(), z.unknown()) } },
    },
    (c) => {
      document ??= buildOpenApiDocument(router.routes, {
        title: "Eddy HTTP API",
        version,
        description:
          "Topics, records, live streams and consumer-group offsets of an Eddy broker; MQTT, CoAP and mirror status.",
      });
      if (opts.credentials?.enabled) addSecuritySchemes(document);
      return c.json(document);
    },
  );
  return app;
}

/** With [auth] configured: declare Basic and Bearer, required by every operation (probes excepted). */
function addSecuritySchemes(document: Record<string, unknown>): void {
  document.components ??= {};
  const components = document.components as Record<string, unknown>;
  components.securitySchemes = {
    basic: { type: "http", scheme: "basic", description: "A user from [auth.users]" },
    bearer: { type: "http", scheme: "bearer", description: "An API token from [auth.tokens]" },
  };
  document.security = [{ basic: [] }, { bearer: [] }];
  const paths = (document.paths ?? {}) as Record<string, Record<string, Record<string, unknown>>>;
  for (const path of ["/health", "/ready"]) {
    for (const op of Object.values(paths[path] ?? {})) op.security = [];
  }
}
