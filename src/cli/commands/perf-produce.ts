/**
 * `eddy perf produce` — like kafka-producer-perf-test.sh: send --num-records
 * records of --record-size bytes as fast as allowed (--throughput caps
 * records/s), a few requests in flight, then print throughput and latency.
 * Latency is a request's round trip, counted for every record in it.
 */
import { type Args, parseCommandArgs } from "../args.ts";
import type { Acks, CliBackend, ProduceRecord } from "../backend.ts";
import { type Ctx, sleep } from "../io.ts";
import { Progress } from "../progress.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, withBackend } from "./command.ts";
import { LatencyStats, progressText, summaryLine, type Summary } from "./perf-stats.ts";
import { parseAcks } from "./produce.ts";

export const PERF_PRODUCE_HELP = `Usage: eddy perf produce --topic T --num-records N --record-size B [options]

Measure produce throughput and latency, like kafka-producer-perf-test.sh.

  --topic T             an existing topic
  --num-records N       how many records to send
  --record-size B       value size in bytes
  --throughput R        at most R records/s (-1 = unlimited, the default)
  --batch-size N        records per request (default: 500, fewer for big records)
  --max-in-flight N     concurrent requests (default 4)
  --acks 0|1|all        (default all)
${CLIENT_HELP}
Examples:
  eddy perf produce --topic bench --num-records 100000 --record-size 100
  eddy perf produce --topic bench --num-records 20000 --record-size 1024 --throughput 5000 --acks 1
`;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  topic: { type: "string" },
  "num-records": { type: "string" },
  "record-size": { type: "string" },
  throughput: { type: "string" },
  "batch-size": { type: "string" },
  "max-in-flight": { type: "string" },
  acks: { type: "string" },
} as const;

/** Keep each request well under the server's body limit. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export async function perfProduce(argv: string[], ctx: Ctx): Promise<number> {
  const args = parseCommandArgs("perf produce", argv, OPTIONS);
  const topic = args.required("topic");
  const numRecords = args.requiredInt("num-records", { min: 1 });
  const recordSize = args.requiredInt("record-size", { min: 0, max: 16 * 1024 * 1024 });
  const throughput = args.int("throughput", { min: -1 }) ?? -1;
  if (throughput === 0) throw args.usage("--throughput must be positive, or -1 for unlimited");
  const batchSize = batchSizeFor(args, recordSize);
  const inFlight = args.int("max-in-flight", { min: 1, max: 64 }) ?? 4;
  const acks = parseAcks(args.string("acks"), (m) => args.usage(m));
  return withBackend(args, ctx, async (api) => {
    await api.partitionsOf(topic); // fail fast with TOPIC_NOT_FOUND
    return run(api, ctx, { topic, numRecords, recordSize, throughput, batchSize, inFlight, acks });
  });
}

interface PerfProduceOptions {
  topic: string;
  numRecords: number;
  recordSize: number;
  throughput: number;
  batchSize: number;
  inFlight: number;
  acks: Acks;
}

async function run(api: CliBackend, ctx: Ctx, o: PerfProduceOptions): Promise<number> {
  const { topic, numRecords, recordSize, throughput, batchSize, inFlight, acks } = o;
  const payload = randomText(recordSize);
  const stats: Summary = { records: 0, bytes: 0, elapsedMs: 0, latency: new LatencyStats() };
  const progress = new Progress({
    stream: ctx.stderr,
    total: numRecords,
    describe: () => progressText(stats),
  });
  const start = performance.now();
  let queued = 0;
  let failure: unknown = null;
  const running = new Set<Promise<void>>();

  while (queued < numRecords && failure === null && !ctx.signal.aborted) {
    const n = Math.min(batchSize, numRecords - queued);
    if (throughput > 0) {
      const due = start + (queued / throughput) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait, ctx.signal);
    }
    queued += n;
    const p = sendBatch(api, { topic, n, payload, acks }).then(
      (ms) => {
        stats.records += n;
        stats.bytes += n * recordSize;
        stats.latency.add(ms, n);
        stats.elapsedMs = performance.now() - start;
        progress.update(stats.records);
      },
      (err) => {
        failure ??= err;
      },
    );
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= inFlight) await Promise.race(running);
  }
  await Promise.all(running);
  stats.elapsedMs = performance.now() - start;
  progress.finish();
  if (failure !== null) throw failure;
  await ctx.out(summaryLine("sent", stats));
  return ctx.signal.aborted ? 130 : 0;
}

function batchSizeFor(args: Args, recordSize: number): number {
  const given = args.int("batch-size", { min: 1, max: 10_000 });
  if (given !== undefined) return given;
  return Math.max(1, Math.min(500, Math.floor(MAX_REQUEST_BYTES / (recordSize + 64))));
}

async function sendBatch(
  api: CliBackend,
  b: { topic: string; n: number; payload: string; acks: Acks },
): Promise<number> {
  const records: ProduceRecord[] = new Array(b.n);
  for (let i = 0; i < b.n; i++) records[i] = { value: b.payload };
  const t0 = performance.now();
  await api.produce(b.topic, records, b.acks);
  return performance.now() - t0;
}

/** Random uppercase letters, like Kafka's perf test payload. */
function randomText(size: number): string {
  const codes = new Uint8Array(size);
  for (let i = 0; i < size; i++) codes[i] = 65 + Math.floor(Math.random() * 26);
  return new TextDecoder().decode(codes);
}
