/**
 * Mirror drain benchmark (issue 5, item 7).
 *
 *   bun scripts/bench/mirror.ts [--records N] [--size B] [--partitions P] [--only drain|latency|mqtt]
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
 *     cap, over the whole drain and after the first second. The gate counts
 *     keys + values + headers + 16 B per record, not the wire bytes;
 *  4. steady-state delay (`--central eddy` only): `--latency-rate` records/s
 *     produced one by one at the edge (BrokerApi, fsync) for
 *     `--latency-seconds`, each stamped with Date.now(); the central child
 *     notes Date.now() - timestamp when each record becomes visible there
 *     (onAppend); p50/p99/max at the default batching (linger 5 ms);
 *  5. steady-state delay from an MQTT publish (`--central eddy` only): the
 *     MQTT listener runs on the edge broker, MQTT.js publishes QoS 1 on
 *     `lat/m` (mapped to the mirrored stream topic `latmqtt`) at
 *     `--mqtt-rate` messages/s for `--mqtt-seconds`, each payload starting
 *     with the publisher's Date.now(); the central child notes Date.now() -
 *     that stamp when the record becomes visible there.
 *
 * `--only latency|mqtt` runs just item 4 or item 5 (no baselines, no drains);
 * `--only drain` just item 2 (to compare builds back to back on a busy machine).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Producer } from "@platformatic/kafka";
import mqtt from "mqtt";
import { startMirror } from "../../bridges/mirror/index.ts";
import { startMqttListener } from "../../bridges/mqtt/index.ts";
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
    "latency-rate": { type: "string", default: "500" },
    "latency-seconds": { type: "string", default: "5" },
    "mqtt-rate": { type: "string", default: "200" },
    "mqtt-seconds": { type: "string", default: "10" },
    only: { type: "string" },
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
  // Delay of records of "lat*" topics: now - record timestamp, at the moment they become visible here to
  // read_committed consumers (the mirror's records count once their transaction committed).
  const delays: number[] = [];
  const seen = new Map<string, number>();
  const reading = new Map<string, Promise<void>>();
  broker.onAppend((e) => {
    if (!e.topic.startsWith("gw.lat")) return;
    const now = Date.now();
    const key = `${e.topic}/${e.partition}`;
    const previous = reading.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      const from = seen.get(key) ?? 0;
      const page = await broker.readRecords({
        topic: e.topic,
        partition: e.partition,
        offset: from,
        maxRecords: 100_000,
        isolation: "read_committed",
      });
      seen.set(key, Math.max(from, page.nextOffset));
      // MQTT records carry the publisher's clock at the start of the payload, not in the record timestamp.
      const stamped = e.topic === "gw.latmqtt";
      for (const r of page.records) delays.push(now - (stamped ? payloadStamp(r.value) : r.timestamp));
    });
    reading.set(
      key,
      next.catch(() => {}),
    );
  });
  console.log(`127.0.0.1:${listener.port}`);
  for await (const line of console) {
    // "delays" → one JSON line with the delays noted since the last call; stdin closes when the parent exits
    if (line.trim() === "delays") console.log(JSON.stringify(delays.splice(0)));
  }
  await listener.close();
  await broker.close();
  process.exit(0);
}

/** The publisher's Date.now() written as decimal digits at the start of an MQTT payload. */
function payloadStamp(value: Uint8Array | null): number {
  const digits = /^\d+/.exec(new TextDecoder().decode(value ?? new Uint8Array()));
  return digits ? Number(digits[0]) : Number.NaN;
}

interface Central {
  bootstrap: string;
  /** Delays (ms) measured by a central Eddy since the last call. */
  delays(): Promise<number[]>;
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
  const line = async (): Promise<string> => {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`central (${kind}) exited`);
      text += new TextDecoder().decode(value);
    }
    const nl = text.indexOf("\n");
    const out = text.slice(0, nl);
    text = text.slice(nl + 1);
    return out;
  };
  const bootstrap = (await line()).trim();
  return {
    bootstrap,
    async delays() {
      proc.stdin.write("delays\n");
      proc.stdin.flush();
      return JSON.parse(await line()) as number[];
    },
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
  withHeaders: boolean,
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
          messages: Array.from({ length: n }, (_, j) => ({
            topic,
            partition: p,
            value,
            // The three headers the mirror adds to every record (source, edge offset, edge topic id).
            ...(withHeaders ? { headers: mirrorHeaders(p, i + j) } : {}),
          })),
          acks: -1,
        });
      }
    }),
  );
  const ms = performance.now() - t0;
  await producer.close();
  return { records: per * partitions, ms };
}

function mirrorHeaders(partition: number, offset: number): Map<Buffer, Buffer> {
  return new Map([
    [Buffer.from("eddy.mirror.src"), Buffer.from(`gw/backlog/${partition}`)],
    [Buffer.from("eddy.mirror.offset"), Buffer.from(String(offset))],
    [Buffer.from("eddy.mirror.topic_id"), Buffer.from("AAAAAAAAAAAAAAAAAAAAAA")],
  ]);
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
    if (args.only !== undefined) {
      if (args.central !== "eddy" && args.only !== "drain") {
        throw new Error("--only latency|mqtt needs --central eddy");
      }
      if (args.only === "latency") await latency(central, args.edge ?? "file", size);
      else if (args.only === "mqtt") await mqttLatency(central, args.edge ?? "file", size);
      else if (args.only === "drain") {
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
          `uncapped drain: ${fmt(d.records)} records in ${(d.ms / 1000).toFixed(2)} s = ${fmt(rate)} records/s`,
        );
      } else throw new Error(`--only: expected drain, latency or mqtt, got ${args.only}`);
      return;
    }
    console.log(
      `central: ${args.central} at ${central.bootstrap}; edge: ${args.edge} store; ${fmt(records)} × ${size} B over ${partitions} partition(s), batch ${batch}`,
    );
    const raw = await rawProduce(central.bootstrap, records, size, partitions, batch, false);
    const rawRate = (raw.records * 1000) / raw.ms;
    console.log(
      `raw produce (same client, acks=all, idempotent): ${fmt(rawRate)} records/s, ${((rawRate * size) / 1e6).toFixed(1)} MB/s of values (${(raw.ms / 1000).toFixed(2)} s)`,
    );
    const rawH = await rawProduce(central.bootstrap, records, size, partitions, batch, true);
    const rawHRate = (rawH.records * 1000) / rawH.ms;
    console.log(
      `raw produce with the mirror's three headers per record: ${fmt(rawHRate)} records/s (${(rawH.ms / 1000).toFixed(2)} s)`,
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
      `uncapped drain: ${fmt(d.records)} records in ${(d.ms / 1000).toFixed(2)} s = ${fmt(rate)} records/s, ${((rate * size) / 1e6).toFixed(1)} MB/s of values, ${((d.sentBytes * 1000) / d.ms / 1e6).toFixed(1)} MB/s counted by the gate (${(rate / rawRate).toFixed(2)}× raw, ${(rate / rawHRate).toFixed(2)}× raw with headers)`,
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
      `capped drain (cap ${fmt(cap)} B/s): ${fmt(c.records)} records in ${(c.ms / 1000).toFixed(2)} s; gate-counted ${fmt(overall)} B/s overall (${((overall / cap - 1) * 100).toFixed(1)} % vs cap, from startMirror on)${steady === null ? "" : `, ${fmt(steady)} B/s after the first second (${((steady / cap - 1) * 100).toFixed(1)} % vs cap)`}`,
    );
    if (args.central === "eddy") {
      await latency(central, args.edge ?? "file", size);
      await mqttLatency(central, args.edge ?? "file", size);
    }
  } finally {
    await central.stop();
  }
}

function pct(xs: number[], q: number): number {
  return xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
}

/** Collect central's delays until `total` have arrived (or ~5 s pass); sorted. */
async function collectDelays(central: Central, total: number): Promise<number[]> {
  const delays: number[] = [];
  for (let tries = 0; tries < 200 && delays.length < total; tries++) {
    delays.push(...(await central.delays()));
    await Bun.sleep(25);
  }
  return delays.sort((a, b) => a - b);
}

async function latency(central: Central, edgeKind: string, size: number): Promise<void> {
  const rate = Number(args["latency-rate"]);
  const seconds = Number(args["latency-seconds"]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-mirror-"));
  const edge = await openEdge(edgeKind, dir);
  try {
    await edge.createTopic({ name: "lat", partitions: 1 });
    const mirror = await startMirror({
      broker: edge,
      links: [{ name: "lat", bootstrap_servers: [central.bootstrap], topics: ["lat"], source_id: "gw" }],
      logger: silentLogger,
      clock: systemClock,
    });
    const value = new Uint8Array(size).fill(0x61);
    // Warm up (central topic, producer id, connections) with one record first; it is left out.
    await edge.produce({ topic: "lat", partition: 0, records: [{ value, timestamp: Date.now() }] });
    while ((mirror.status()[0]?.partitions[0]?.mirroredOffset ?? 0) < 1) await Bun.sleep(5);
    await Bun.sleep(50);
    await central.delays(); // drop the warm-up record's
    const total = rate * seconds;
    const acks: number[] = [];
    const lateness: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const before = performance.now();
      lateness.push(Math.max(0, before - due));
      await edge.produce({ topic: "lat", partition: 0, records: [{ value, timestamp: Date.now() }] });
      acks.push(performance.now() - before);
    }
    const delays = await collectDelays(central, total);
    await mirror.close();
    acks.sort((a, b) => a - b);
    lateness.sort((a, b) => a - b);
    console.log(
      `steady-state delay edge produce → visible at central, ${rate} records/s for ${seconds} s (${delays.length} of ${total}): p50 ${pct(delays, 0.5)} ms, p99 ${pct(delays, 0.99)} ms, max ${delays[delays.length - 1]} ms; controls: the edge's own append (produce → ack) p50 ${pct(acks, 0.5).toFixed(1)} / p99 ${pct(acks, 0.99).toFixed(1)} ms, the producing loop's lateness (CPU starvation) p99 ${pct(lateness, 0.99).toFixed(1)} ms`,
    );
  } finally {
    await edge.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Item 5: MQTT.js QoS 1 publish at the edge's MQTT listener → visible at central. */
async function mqttLatency(central: Central, edgeKind: string, size: number): Promise<void> {
  const rate = Number(args["mqtt-rate"]);
  const seconds = Number(args["mqtt-seconds"]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-mirror-"));
  const edge = await openEdge(edgeKind, dir);
  await edge.createTopic({ name: "latmqtt", partitions: 1 });
  const listener = await startMqttListener({
    broker: edge,
    port: 0,
    logger: silentLogger,
    clock: systemClock,
    mapping: { rules: [{ filter: "lat/#", topic: "latmqtt" }], defaultTopic: null },
  });
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${listener.port}`, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  try {
    const mirror = await startMirror({
      broker: edge,
      links: [
        { name: "latmqtt", bootstrap_servers: [central.bootstrap], topics: ["latmqtt"], source_id: "gw" },
      ],
      logger: silentLogger,
      clock: systemClock,
    });
    const pad = "a".repeat(Math.max(0, size - 13));
    const payload = () => `${Date.now()}${pad}`;
    // Warm up (central topic, producer id, connections) with one message first; it is left out.
    await client.publishAsync("lat/m", payload(), { qos: 1 });
    while ((mirror.status()[0]?.partitions[0]?.mirroredOffset ?? 0) < 1) await Bun.sleep(5);
    await Bun.sleep(50);
    await central.delays();
    const total = rate * seconds;
    const acks: number[] = [];
    const lateness: number[] = [];
    const pending: Promise<unknown>[] = [];
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const before = performance.now();
      lateness.push(Math.max(0, before - due));
      // Not awaited: a steady rate, several QoS 1 publishes in flight like a real device fleet.
      pending.push(
        client.publishAsync("lat/m", payload(), { qos: 1 }).then(() => acks.push(performance.now() - before)),
      );
    }
    await Promise.all(pending);
    const delays = await collectDelays(central, total);
    await mirror.close();
    acks.sort((a, b) => a - b);
    lateness.sort((a, b) => a - b);
    console.log(
      `steady-state delay MQTT publish (QoS 1) at the edge → visible at central, ${rate} messages/s for ${seconds} s (${delays.length} of ${total}): p50 ${pct(delays, 0.5)} ms, p99 ${pct(delays, 0.99)} ms, max ${delays[delays.length - 1]} ms; controls: publish → PUBACK p50 ${pct(acks, 0.5).toFixed(1)} / p99 ${pct(acks, 0.99).toFixed(1)} ms, the publishing loop's lateness p99 ${pct(lateness, 0.99).toFixed(1)} ms`,
    );
  } finally {
    await client.endAsync(true).catch(() => {});
    await listener.close();
    await edge.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
