/**
 * Eddy's HTTP API as a hono app: topics, records (JSON and binary), a live
 * SSE stream, consumer-group offsets, /health, /ready, /metrics and the
 * OpenAPI 3.1 document at /openapi.json. Serve it with startHttpServer
 * (server.ts) or call `app.request()` in tests.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { BrokerApi } from "../broker/index.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import { type Logger, silentLogger } from "../observability/logger.ts";
import { MetricsRegistry } from "../observability/metrics.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import type { HttpDeps } from "./deps.ts";
import { makeErrorHandler, notFoundHandler } from "./errors.ts";
import { ApiRouter, buildOpenApiDocument } from "./openapi.ts";
import { registerConsoleRoutes } from "./routes/console.ts";
import { registerGroupRoutes } from "./routes/groups.ts";
import { type HealthCheck, registerHealthRoutes } from "./routes/health.ts";
import { registerRecordRoutes } from "./routes/records.ts";
import { registerStatsRoutes } from "./routes/stats.ts";
import { registerStreamRoutes } from "./routes/stream.ts";
import { registerTopicRoutes } from "./routes/topics.ts";

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
  /** Serve the web console at `/`. Default true. */
  console?: boolean;
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
  registerStatsRoutes(router, deps, { dataDir: opts.dataDir, startedAt });
  if (opts.console !== false) registerConsoleRoutes(app);
  registerTopicRoutes(router, deps);
  registerRecordRoutes(router, deps);
  registerStreamRoutes(router, deps);
  registerGroupRoutes(router, deps);

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
        description: "Topics, records, live streams and consumer-group offsets of an Eddy broker.",
      });
      return c.json(document);
    },
  );
  return app;
}
