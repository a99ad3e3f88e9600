/**
 * GET /v1/stats: one small JSON snapshot for dashboards (the web console's
 * overview polls it): cumulative traffic counters since start, totals over
 * all partitions, and the data directory's disk. Rates are the client's job:
 * take two snapshots and divide the counter deltas by the `time` delta.
 */
import fs from "node:fs";
import { z } from "zod";
import { isEddyError } from "../../errors.ts";
import type { HttpDeps } from "../deps.ts";
import type { ApiRouter } from "../openapi.ts";
import type { StatsHistory } from "../stats-history.ts";

export interface StatsOptions {
  /** The broker's data directory, for disk use; without it `disk` is null. */
  dataDir?: string;
  startedAt: number;
  /** Per-second throughput samples for GET /v1/stats/history. */
  history: StatsHistory;
}

const diskSchema = z.object({
  path: z.string(),
  totalBytes: z.number().int(),
  freeBytes: z.number().int().describe("Available to the broker (statfs bavail)"),
  usedBytes: z.number().int(),
});

export const statsSchema = z.object({
  time: z.number().int().describe("When the snapshot was taken (ms since the epoch)"),
  uptimeMs: z.number().int(),
  nodeId: z.number().int(),
  clusterId: z.string(),
  topics: z.number().int(),
  partitions: z.number().int(),
  records: z.number().int().describe("Records held: high watermark minus log start, summed"),
  logBytes: z.number().int().describe("Bytes of partition logs, summed"),
  segments: z.number().int(),
  appendedRecords: z.number().int().describe("Records appended since start"),
  appendedBytes: z.number().int().describe("Bytes appended since start"),
  fetchedBytes: z.number().int().describe("Bytes read by consumers since start"),
  disk: diskSchema.nullable(),
});

export const statsHistorySchema = z.object({
  intervalMs: z.number().int().describe("Sampling period"),
  capacity: z.number().int().describe("Samples kept at most (the oldest go first)"),
  samples: z
    .array(
      z.object({
        time: z.number().int().describe("End of the interval (ms since the epoch)"),
        recordsInPerSec: z.number(),
        bytesInPerSec: z.number(),
        bytesOutPerSec: z.number().describe("Bytes read by consumers"),
      }),
    )
    .describe("Oldest first"),
});

export function registerStatsRoutes(router: ApiRouter, deps: HttpDeps, opts: StatsOptions): void {
  const { broker, clock } = deps;
  router.add(
    {
      method: "get",
      path: "/v1/stats",
      tag: "operations",
      summary: "Traffic counters, storage totals and disk use (for dashboards)",
      responses: { 200: { description: "A snapshot", schema: statsSchema } },
    },
    async (c) => {
      const summaries = await broker.listTopics();
      let partitions = 0;
      let records = 0;
      let logBytes = 0;
      let segments = 0;
      for (const s of summaries) {
        let topic: Awaited<ReturnType<typeof broker.describeTopic>>;
        try {
          topic = await broker.describeTopic(s.name);
        } catch (err) {
          // Deleted between list and describe: leave it out of the totals.
          if (isEddyError(err)) continue;
          throw err;
        }
        for (const p of topic.partitions) {
          partitions++;
          records += Math.max(0, p.highWatermark - p.logStartOffset);
          logBytes += p.sizeBytes;
          segments += p.segments;
        }
      }
      const now = clock.now();
      return c.json({
        time: now,
        uptimeMs: Math.max(0, Math.round(now - opts.startedAt)),
        nodeId: broker.nodeId,
        clusterId: broker.clusterId,
        topics: summaries.length,
        partitions,
        records,
        logBytes,
        segments,
        ...broker.stats(),
        disk: opts.dataDir ? diskOf(opts.dataDir) : null,
      });
    },
  );
  registerHistoryRoute(router, opts.history);
}

function registerHistoryRoute(router: ApiRouter, history: StatsHistory): void {
  router.add(
    {
      method: "get",
      path: "/v1/stats/history",
      tag: "operations",
      summary: "Recent throughput, sampled by the broker (records and bytes per second, oldest first)",
      responses: { 200: { description: "Samples", schema: statsHistorySchema } },
    },
    (c) => c.json({ intervalMs: history.intervalMs, capacity: history.capacity, samples: history.samples() }),
  );
}

function diskOf(dir: string): z.output<typeof diskSchema> | null {
  try {
    const s = fs.statfsSync(dir);
    const total = s.blocks * s.bsize;
    return {
      path: dir,
      totalBytes: total,
      freeBytes: s.bavail * s.bsize,
      usedBytes: Math.max(0, total - s.bfree * s.bsize),
    };
  } catch {
    return null;
  }
}
