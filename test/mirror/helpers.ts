/**
 * Mirror test helpers: librdkafka's mock cluster (a python helper, Debian
 * package python3-confluent-kafka) as the central cluster, a reader of what
 * arrived there, and an edge broker on a memory or file store.
 */
import path from "node:path";
import { Consumer } from "@platformatic/kafka";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

const PYTHON = "/usr/bin/python3";

export interface MockCluster {
  bootstrap: string;
  /** Broker 1 drops connections and refuses new ones. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMockCluster(): Promise<MockCluster> {
  const proc = Bun.spawn([PYTHON, path.join(import.meta.dir, "mock-cluster.py")], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "ignore",
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("mock-cluster.py exited; is python3-confluent-kafka installed?");
      buffered += decoder.decode(value, { stream: true });
    }
  };
  const bootstrap = (await nextLine()).trim();
  const command = async (cmd: string): Promise<void> => {
    proc.stdin.write(`${cmd}\n`);
    proc.stdin.flush();
    const answer = await nextLine();
    if (answer !== "ok") throw new Error(`mock cluster '${cmd}': ${answer}`);
  };
  return {
    bootstrap,
    down: () => command("down"),
    up: () => command("up"),
    async stop() {
      proc.stdin.end();
      proc.kill();
      await proc.exited;
    },
  };
}

export interface CentralRecord {
  offset: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Every record of one central partition (from offset 0 up to the high watermark). */
export async function readCentral(
  bootstrap: string,
  topic: string,
  partition: number,
): Promise<CentralRecord[]> {
  const consumer = new Consumer({
    clientId: "test-reader",
    groupId: "test-reader",
    bootstrapBrokers: [bootstrap],
  });
  try {
    const meta = await consumer.metadata({ topics: [topic], forceUpdate: true });
    const info = meta.topics.get(topic);
    if (!info) return [];
    const topicId = /^0{8}-/.test(info.id) ? topic : info.id;
    const leader = info.partitions[partition]?.leader ?? 1;
    const out: CentralRecord[] = [];
    let offset = 0;
    for (;;) {
      const res = await consumer.fetch({
        node: leader,
        topics: [
          {
            topicId,
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(offset),
                lastFetchedEpoch: -1,
                partitionMaxBytes: 1 << 20,
              },
            ],
          },
        ],
        maxWaitTime: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
      });
      const p = res.responses[0]?.partitions[0];
      const before = out.length;
      for (const batch of p?.records ?? []) {
        for (const r of batch.records) {
          const at = Number(batch.firstOffset) + r.offsetDelta;
          if (at < offset) continue;
          const headers: Record<string, string> = {};
          for (const [k, v] of r.headers) headers[k?.toString() ?? ""] = v?.toString() ?? "";
          out.push({
            offset: at,
            key: r.key?.toString() ?? null,
            value: r.value?.toString() ?? null,
            headers,
          });
        }
      }
      if (out.length === before) return out;
      offset = out[out.length - 1]!.offset + 1;
      if (p && offset >= Number(p.highWatermark)) return out;
    }
  } finally {
    await consumer.close(true);
  }
}

/** An edge broker: memory store, or a file store in `dataDir` (reopenable). */
export async function createEdge(
  opts: { dataDir?: string; topicConfigs?: Record<string, string | number> } = {},
): Promise<Broker> {
  const logStore = opts.dataDir
    ? createFileLogStore({
        dataDir: path.join(opts.dataDir, "data"),
        clock: systemClock,
        logger: silentLogger,
      })
    : createMemoryLogStore({ clock: systemClock });
  const metadata = await openMetadataStore({
    path: opts.dataDir ? path.join(opts.dataDir, "meta.db") : ":memory:",
  });
  return createBroker({
    logStore,
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: false, topicConfigs: opts.topicConfigs },
  });
}

/** Poll `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

export function values(n: number, from = 0, prefix = "v"): Array<{ key: Uint8Array; value: Uint8Array }> {
  const enc = new TextEncoder();
  return Array.from({ length: n }, (_, i) => ({
    key: enc.encode(`k${from + i}`),
    value: enc.encode(`${prefix}${from + i}`),
  }));
}
