/**
 * Mirror drain benchmark (issue 5, item 7).
 *
 *   bun scripts/bench/mirror.ts [--records N] [--size B] [--partitions P]
 *                               [--cap BYTES_PER_SEC] [--cap-records N]
 *                               [--central eddy|mock] [--edge file|memory]
 *
 * The central cluster runs in a child process (a second Eddy with its Kafka
 * listener on a memory store, or librdkafka's mock cluster through
 * test/mirror/mock-cluster.py), so edge and central get a core each.
 *
 *  1. baseline: the same client (@platformatic/kafka, idempotent producer,
 *     acks=all) produces `--records` records of `--size` bytes straight to
 *     central, in batches of the mirror's batch size, one batch in flight per
 *     partition (what the mirror does): records/s and MB/s;
 *  2. uncapped drain: the backlog (`--records` over `--partitions` edge
 *     partitions, written before the link starts, as after an outage) is
 *     mirrored with the default link settings; time from startMirror until
 *     every partition's progress (durable at the edge, acked by central)
 *     reaches the high watermark;
 *  3. capped drain: `--cap-records` with bandwidth_bytes_per_sec = `--cap`;
 *     the rate the link's gate counted (its sentBytes / time) against the
 *     cap, after the first second (the bucket starts full).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Producer } from "@platformatic/kafka";
import { startMirror } from "../../bridges/mirror/index.ts";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { startKafkaListener } from "../../src/kafka/server.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    size: { type: "string", default: "100" },
    partitions: { type: "string", default: "1" },
    cap: { type: "string", default: "2000000" },
    "cap-records": { type: "string", default: "60000" },
    central: { type: "string", default: "eddy" },
    edge: { type: "string", default: "file" },
    "serve-central": { type: "boolean", default: false },
    "max-records": { type: "string", default: "1000" },
  },
});

if (args["serve-central"]) {
  await serveCentral();
} else {
  await main();
}

/** Child mode: a central Eddy (memory store) on port 0; prints host:port. */
async function serveCentral(): Promise<void> {
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata: await openMetadataStore({ path: ":memory:" }),
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: true },
  });
  const listener = await startKafkaListener({
    broker,
    host: "127.0.0.1",
    port: 0,
    advertisedHost: "127.0.0.1",
    logger: silentLogger,
    clock: systemClock,
    sasl: null,
  });
  console.log(`127.0.0.1:${listener.port}`);
  for await (const _ of console) {
    // stdin closes when the parent exits
  }
  await listener.close();
  await broker.close();
  process.exit(0);
}

interface Central {
  bootstrap: string;
  stop(): Promise<void>;
}

async function startCentral(kind: string): Promise<Central> {
  const cmd =
    kind === "mock"
      ? ["/usr/bin/python3", path.join(import.meta.dir, "../../test/mirror/mock-cluster.py")]
      : [process.execPath, import.meta.path, "--serve-central"];
  const proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`central (${kind}) exited before printing its address`);
    text += new TextDecoder().decode(value);
  }
  return {
    bootstrap: text.split("\n")[0]!.trim(),
    async stop() {
      proc.stdin.end();
      proc.kill();
      await proc.exited;
    },
  };
}

async function openEdge(kind: string, dir: string): Promise<Broker> {
  return createBroker({
    logStore:
      kind === "memory"
        ? createMemoryLogStore({ clock: systemClock })
        : createFileLogStore({ dataDir: path.join(dir, "data"), clock: systemClock, logger: silentLogger }),
    metadata: await openMetadataStore({ path: kind === "memory" ? ":memory:" : path.join(dir, "meta.db") }),
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: false },
  });
}

async function fillBacklog(edge: Broker, topic: string, partitions: number, records: number, size: number) {
  await edge.createTopic({ name: topic, partitions });
  const value = new Uint8Array(size).fill(0x61);
  const per = Math.ceil(records / partitions);
  const chunk = 5000;
  await Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      for (let i = 0; i < per; i += chunk) {
        const n = Math.min(chunk, per - i);
        await edge.produce({ topic, partition: p, records: Array.from({ length: n }, () => ({ value })) });
      }
    }),
  );
  return per * partitions;
}

/** Same client, same batch size, one batch in flight per partition. */
async function rawProduce(
  bootstrap: string,
  records: number,
  size: number,
  partitions: number,
  batch: number,
) {
  const topic = `raw-${Date.now()}`;
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId: "bench-raw",
    bootstrapBrokers: [bootstrap],
    idempotent: true,
    producerId: -1n,
    producerEpoch: -1,
    acks: -1,
    autocreateTopics: true,
  });
  const value = Buffer.alloc(size, 0x61);
  const per = Math.ceil(records / partitions);
  // Create the topic (and warm the connection) before timing.
  await producer.send({ messages: [{ topic, partition: 0, value }] });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      for (let i = 0; i < per; i += batch) {
        const n = Math.min(batch, per - i);
        await producer.send({
          messages: Array.from({ length: n }, () => ({ topic, partition: p, value })),
          acks: -1,
        });
      }
    }),
  );
  const ms = performance.now() - t0;
  await producer.close();
  return { records: per * partitions, ms };
}

async function drain(opts: {
  bootstrap: string;
  edgeKind: string;
  records: number;
  size: number;
  partitions: number;
  cap: number;
  batch: number;
}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-mirror-"));
  const edge = await openEdge(opts.edgeKind, dir);
  try {
    const topic = `backlog${opts.cap > 0 ? "c" : ""}${Date.now()}`;
    const total = await fillBacklog(edge, topic, opts.partitions, opts.records, opts.size);
    const t0 = performance.now();
    const mirror = await startMirror({
      broker: edge,
      links: [
        {
          name: "bench",
          bootstrap_servers: [opts.bootstrap],
          topics: [topic],
          source_id: "gw",
          bandwidth_bytes_per_sec: opts.cap,
          batch: { max_records: opts.batch },
        },
      ],
      logger: silentLogger,
      clock: systemClock,
    });
    let atOneSecond: { ms: number; bytes: number } | null = null;
    for (;;) {
      const s = mirror.status()[0]!;
      const mirrored = s.partitions.reduce((sum, p) => sum + p.mirroredOffset, 0);
      const sent = s.partitions.reduce((sum, p) => sum + p.sentBytes, 0);
      const now = performance.now();
      if (atOneSecond === null && now - t0 >= 1000) atOneSecond = { ms: now, bytes: sent };
      if (mirrored >= total) {
        const ms = now - t0;
        await mirror.close();
        const steady =
          atOneSecond !== null && now - atOneSecond.ms > 500
            ? ((sent - atOneSecond.bytes) * 1000) / (now - atOneSecond.ms)
            : null;
        return { records: total, ms, sentBytes: sent, steadyBytesPerSec: steady };
      }
      if (s.state === "down") throw new Error(`link down: ${s.lastError?.message}`);
      await Bun.sleep(5);
    }
  } finally {
    await edge.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const records = Number(args.records);
  const size = Number(args.size);
  const partitions = Number(args.partitions);
  const cap = Number(args.cap);
  const batch = Number(args["max-records"]);
  const central = await startCentral(args.central ?? "eddy");
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  try {
    console.log(
      `central: ${args.central} at ${central.bootstrap}; edge: ${args.edge} store; ${fmt(records)} × ${size} B over ${partitions} partition(s), batch ${batch}`,
    );
    const raw = await rawProduce(central.bootstrap, records, size, partitions, batch);
    const rawRate = (raw.records * 1000) / raw.ms;
    console.log(
      `raw produce (same client, acks=all, idempotent): ${fmt(rawRate)} records/s, ${((rawRate * size) / 1e6).toFixed(1)} MB/s of values (${(raw.ms / 1000).toFixed(2)} s)`,
    );
    const d = await drain({
      bootstrap: central.bootstrap,
      edgeKind: args.edge ?? "file",
      records,
      size,
      partitions,
      cap: 0,
      batch,
    });
    const rate = (d.records * 1000) / d.ms;
    console.log(
      `uncapped drain: ${fmt(d.records)} records in ${(d.ms / 1000).toFixed(2)} s = ${fmt(rate)} records/s, ${((rate * size) / 1e6).toFixed(1)} MB/s of values, ${((d.sentBytes * 1000) / d.ms / 1e6).toFixed(1)} MB/s counted by the gate (${(rate / rawRate).toFixed(2)}× raw)`,
    );
    const capRecords = Number(args["cap-records"]);
    const c = await drain({
      bootstrap: central.bootstrap,
      edgeKind: args.edge ?? "file",
      records: capRecords,
      size,
      partitions,
      cap,
      batch,
    });
    const overall = (c.sentBytes * 1000) / c.ms;
    const steady = c.steadyBytesPerSec;
    console.log(
      `capped drain (cap ${fmt(cap)} B/s): ${fmt(c.records)} records in ${(c.ms / 1000).toFixed(2)} s; gate-counted ${fmt(overall)} B/s overall (${((overall / cap - 1) * 100).toFixed(1)} % vs cap, includes the initial 1 s burst)${steady === null ? "" : `, ${fmt(steady)} B/s after the first second (${((steady / cap - 1) * 100).toFixed(1)} % vs cap)`}`,
    );
  } finally {
    await central.stop();
  }
}
