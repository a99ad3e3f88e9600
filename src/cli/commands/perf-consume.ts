/**
 * `eddy perf consume` — like kafka-consumer-perf-test.sh: read --messages
 * records from the start of every partition as fast as possible, then print
 * throughput and fetch latency (the round trip of each read request).
 */
import { parseCommandArgs } from "../args.ts";
import type { Ctx } from "../io.ts";
import { Progress } from "../progress.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, connect } from "./command.ts";
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
  const api = await connect(args, ctx);
  const partitions = (await api.describeTopic(topic)).partitions.map((p) => p.partition);

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

  const read = async (partition: number) => {
    let offset = (await api.listOffset(topic, partition, "earliest")).offset;
    while (!stop.signal.aborted && stats.records < messages) {
      const t0 = performance.now();
      let res: Awaited<ReturnType<typeof api.readRecords>>;
      try {
        const want = Math.max(1, Math.min(fetchSize, messages - stats.records));
        res = await api.readRecords(
          topic,
          partition,
          { offset, maxRecords: want, maxWaitMs: 500 },
          stop.signal,
        );
      } catch (err) {
        if (stop.signal.aborted) return;
        throw err;
      }
      const n = Math.min(res.records.length, messages - stats.records);
      if (n > 0) {
        stats.latency.add(performance.now() - t0, n);
        for (let i = 0; i < n; i++) {
          const r = res.records[i]!;
          stats.bytes += b64Size(r.key) + b64Size(r.value);
        }
        stats.records += n;
        stats.elapsedMs = performance.now() - start;
        lastProgress = performance.now();
        progress.update(stats.records);
      }
      offset = res.nextOffset;
      if (stats.records >= messages) stop.abort();
    }
  };
  try {
    await Promise.all(
      partitions.map((p) =>
        read(p).catch((err) => {
          stop.abort();
          throw err;
        }),
      ),
    );
  } finally {
    clearInterval(watchdog);
    ctx.signal.removeEventListener("abort", onAbort);
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

/** Decoded size of a base64 string without decoding it. */
function b64Size(s: string | null): number {
  if (s === null) return 0;
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  return Math.floor((s.length * 3) / 4) - pad;
}
