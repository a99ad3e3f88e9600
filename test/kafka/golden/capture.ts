/**
 * Capture real client request frames for the golden-bytes suite:
 *
 *   bun test/kafka/golden/capture.ts
 *
 * Starts an in-process Eddy Kafka listener that advertises a recording TCP
 * proxy in front of it, runs kcat (-L, -P with every codec, -C) and kafkajs
 * (admin, producer) through the proxy, and writes every request frame as hex
 * to test/kafka/golden/frames.json (one entry per distinct API key + version
 * + client). Re-run it when adding clients; the test (server-golden.test.ts)
 * replays the committed file.
 */
import fs from "node:fs";
import path from "node:path";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { createBroker } from "../../../src/broker/index.ts";
import { apiCodec } from "../../../src/kafka/generated/index.ts";
import { FrameDecoder } from "../../../src/kafka/protocol/frame.ts";
import { startKafkaListener } from "../../../src/kafka/server.ts";
import { createMemoryLogStore } from "../../../src/log/memory-log.ts";
import { openMetadataStore } from "../../../src/metadata/index.ts";
import { silentLogger } from "../../../src/observability/logger.ts";
import { systemClock } from "../../../src/util/clock.ts";

export interface GoldenFrame {
  client: string;
  api: string;
  apiKey: number;
  apiVersion: number;
  /** The request frame without its size prefix. */
  hex: string;
}

const OUT = path.join(import.meta.dir, "frames.json");
let client = "none";
const captured = new Map<string, GoldenFrame>();

const broker = await createBroker({
  logStore: createMemoryLogStore({ clock: systemClock }),
  metadata: await openMetadataStore({ path: ":memory:" }),
  logger: silentLogger,
  housekeepingIntervalMs: 0,
  defaults: { autoCreateTopics: true },
});

let upstreamPort = 0;
const proxy = Bun.listen<{ upstream: Awaited<ReturnType<typeof Bun.connect>> | null; pending: Uint8Array[] }>(
  {
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(down) {
        down.data = { upstream: null, pending: [] };
        const decoder = new FrameDecoder();
        (down.data as unknown as { decoder: FrameDecoder }).decoder = decoder;
        const up = await Bun.connect({
          hostname: "127.0.0.1",
          port: upstreamPort,
          socket: {
            data(_u, chunk) {
              down.write(chunk, 0, chunk.length);
            },
            close() {
              down.end();
            },
          },
        });
        down.data.upstream = up;
        for (const c of down.data.pending) up.write(c, 0, c.length);
        down.data.pending = [];
      },
      data(down, chunk) {
        const copy = new Uint8Array(chunk);
        const decoder = (down.data as unknown as { decoder: FrameDecoder }).decoder;
        for (const frame of decoder.push(copy)) {
          const apiKey = (frame[0]! << 8) | frame[1]!;
          const apiVersion = (frame[2]! << 8) | frame[3]!;
          const key = `${client}/${apiKey}/${apiVersion}`;
          if (!captured.has(key)) {
            captured.set(key, {
              client,
              api: apiCodec(apiKey)?.name ?? "unknown",
              apiKey,
              apiVersion,
              hex: Buffer.from(frame).toString("hex"),
            });
          }
        }
        if (down.data.upstream) down.data.upstream.write(copy, 0, copy.length);
        else down.data.pending.push(copy);
      },
      close(down) {
        down.data.upstream?.end();
      },
    },
  },
);

const listener = await startKafkaListener({
  broker,
  host: "127.0.0.1",
  port: 0,
  advertisedPort: proxy.port,
  logger: silentLogger,
  clock: systemClock,
});
upstreamPort = listener.port;
const bootstrap = `127.0.0.1:${proxy.port}`;

async function kcat(args: string[], input?: string): Promise<void> {
  const p = Bun.spawn(["kcat", "-b", bootstrap, ...args], {
    stdin: input === undefined ? "ignore" : Buffer.from(input),
    stdout: "ignore",
    stderr: "inherit",
  });
  await p.exited;
}

client = "kcat";
await kcat(["-L"]);
await kcat(["-P", "-t", "golden", "-K:", "-H", "h=v"], "k:v\n");
for (const z of ["gzip", "snappy", "lz4", "zstd"]) {
  client = `kcat-${z}`;
  await kcat(["-P", "-t", "golden", "-z", z], `${z} value\n`);
}
client = "kcat";
await kcat(["-C", "-t", "golden", "-o", "beginning", "-e"]);

client = "kafkajs";
const kafka = new Kafka({ clientId: "golden", brokers: [bootstrap], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: "golden-js", numPartitions: 2 }] });
await admin.fetchTopicOffsets("golden-js");
await admin.describeConfigs({ resources: [{ type: 2, name: "golden-js" }], includeSynonyms: true });
await admin.disconnect();
const producer = kafka.producer();
await producer.connect();
await producer.send({ topic: "golden-js", messages: [{ key: "k", value: "v", headers: { h: "1" } }] });
await producer.send({ topic: "golden-js", compression: CompressionTypes.GZIP, messages: [{ value: "gz" }] });
await producer.disconnect();

const frames = [...captured.values()].sort(
  (a, b) => a.client.localeCompare(b.client) || a.apiKey - b.apiKey || a.apiVersion - b.apiVersion,
);
fs.writeFileSync(OUT, `${JSON.stringify(frames, null, 1)}\n`);
process.stdout.write(`wrote ${frames.length} frames to ${OUT}\n`);
proxy.stop(true);
await listener.close();
await broker.close();
process.exit(0);
