/**
 * Operations endpoints: /health (liveness, with details), /ready (503 until
 * the broker is open and while it shuts down), /metrics (Prometheus text 0.0.4).
 */
import { z } from "zod";
import type { MetricsRegistry } from "../../observability/metrics.ts";
import type { HttpDeps } from "../deps.ts";
import type { ApiRouter } from "../openapi.ts";

export interface HealthCheckResult {
  ok: boolean;
  detail?: string;
}
export type HealthCheck = () => HealthCheckResult | Promise<HealthCheckResult>;

export interface HealthOptions {
  isReady: () => boolean;
  checks: Record<string, HealthCheck>;
  metrics: MetricsRegistry;
  startedAt: number;
  version: string;
}

const healthSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  ready: z.boolean(),
  version: z.string(),
  nodeId: z.number().int(),
  clusterId: z.string(),
  uptimeMs: z.number().int(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
});

export function registerHealthRoutes(router: ApiRouter, deps: HttpDeps, opts: HealthOptions): void {
  router.add(
    {
      method: "get",
      path: "/health",
      tag: "operations",
      summary: "Liveness and details; status is degraded when a check fails or the broker is not ready",
      responses: { 200: { description: "The process is alive", schema: healthSchema } },
    },
    async (c) => {
      const checks: Record<string, HealthCheckResult> = {};
      await Promise.all(
        Object.entries(opts.checks).map(async ([name, check]) => {
          try {
            checks[name] = await check();
          } catch (err) {
            checks[name] = { ok: false, detail: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
      const ready = opts.isReady();
      const ok = ready && Object.values(checks).every((r) => r.ok);
      return c.json({
        status: ok ? "ok" : "degraded",
        ready,
        version: opts.version,
        nodeId: deps.broker.nodeId,
        clusterId: deps.broker.clusterId,
        uptimeMs: Math.max(0, Math.round(deps.clock.now() - opts.startedAt)),
        checks,
      });
    },
  );

  router.add(
    {
      method: "get",
      path: "/ready",
      tag: "operations",
      summary: "Readiness: 200 once the broker is open, 503 before and while shutting down",
      responses: {
        200: { description: "Ready", schema: z.object({ ready: z.literal(true) }) },
        503: { description: "Not ready", schema: z.object({ ready: z.literal(false) }) },
      },
    },
    (c) => {
      const ready = opts.isReady() && !deps.shutdownSignal.aborted;
      return c.json({ ready }, ready ? 200 : 503);
    },
  );

  router.add(
    {
      method: "get",
      path: "/metrics",
      tag: "operations",
      summary: "Prometheus metrics (text exposition format 0.0.4)",
      responses: { 200: { description: "Metrics", contentType: "text/plain; version=0.0.4" } },
    },
    async () =>
      new Response(await opts.metrics.expose(), { headers: { "content-type": opts.metrics.contentType } }),
  );
}
