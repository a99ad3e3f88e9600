/**
 * `eddy perf consume` — like kafka-consumer-perf-test.sh: read --messages
 * records from the start of every partition as fast as possible, then print
 * throughput and fetch latency (the round trip of each read request).
 */
import { parseCommandArgs } from "../args.ts";
import type { CliBackend } from "../backend.ts";
import type { Ctx } from "../io.ts";
import { Progress } from "../progress.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, withBackend } from "./command.ts";
import { LatencyStats, progressText, summaryLine, type Summary } from "./perf-stats.ts";

export const PERF_CONSUME_HELP = `Usage: eddy perf consume --topic T --messages N [options]

Measure consume throughput, like kafka-consumer-perf-test.sh: read N records
from the earliest offsets of all partitions.

  --topic T           the topic
  --messages N        how many records to read
  --fetch-size N      records per read request (default 1000, max 10000)
  --timeout N         give up after N ms without new records (default 10000)
${CLIENT_HELP}
Examples:
  eddy perf consume --topic bench --messages 100000
`;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  topic: { type: "string" },
  messages: { type: "string" },
  "fetch-size": { type: "string" },
  timeout: { type: "string" },
} as const;

export async function perfConsume(argv: string[], ctx: Ctx): Promise<number> {
  const args = parseCommandArgs("perf consume", argv, OPTIONS);
  const topic = args.required("topic");
  const messages = args.requiredInt("messages", { min: 1 });
  const fetchSize = args.int("fetch-size", { min: 1, max: 10_000 }) ?? 1000;
  const timeoutMs = args.int("timeout", { min: 1 }) ?? 10_000;
  return withBackend(args, ctx, (api) => run(api, ctx, { topic, messages, fetchSize, timeoutMs }));
}

async function run(
  api: CliBackend,
  ctx: Ctx,
  o: { topic: string; messages: number; fetchSize: number; timeoutMs: number },
): Promise<number> {
  const { topic, messages, fetchSize, timeoutMs } = o;
  const partitions = await api.partitionsOf(topic);
  const starts = new Map<number, number>();
  for (const p of partitions) starts.set(p, await api.listOffset(topic, p, "earliest"));

  const stats: Summary = { records: 0, bytes: 0, elapsedMs: 0, latency: new LatencyStats() };
  const progress = new Progress({ stream: ctx.stderr, total: messages, describe: () => progressText(stats) });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  const start = performance.now();
  let lastProgress = start;
  let timedOut = false;
  const watchdog = setInterval(
    () => {
      if (performance.now() - lastProgress >= timeoutMs) {
        timedOut = true;
        stop.abort();
      }
    },
    Math.min(timeoutMs, 200),
  );
  const reader = await api.openReader({
    topic,
    assignment: starts,
    maxRecords: () => Math.max(1, Math.min(fetchSize, messages - stats.records)),
    pollMs: 500,
    warn: (m) => ctx.err(m),
    signal: stop.signal,
  });
  // Fetch latency: the time from asking for more to receiving the batch.
  let asked = performance.now();
  try {
    for await (const batch of reader.batches()) {
      const n = Math.min(batch.records.length, messages - stats.records);
      if (n > 0) {
        stats.latency.add(performance.now() - asked, n);
        for (let i = 0; i < n; i++) {
          const r = batch.records[i]!;
          stats.bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
        }
        stats.records += n;
        stats.elapsedMs = performance.now() - start;
        lastProgress = performance.now();
        progress.update(stats.records);
      }
      if (stats.records >= messages) stop.abort();
      asked = performance.now();
    }
  } finally {
    clearInterval(watchdog);
    ctx.signal.removeEventListener("abort", onAbort);
    await reader.close();
  }
  stats.elapsedMs = performance.now() - start;
  progress.finish();
  if (timedOut && stats.records < messages) {
    ctx.err(
      `WARNING: exiting before consuming the expected number of messages: no new records for ${timeoutMs} ms ` +
        `(read ${stats.records} of ${messages})`,
    );
  }
  await ctx.out(summaryLine("consumed", stats));
  return 0;
}
