/**
 * The servers the MQTT benchmark compares, each in its own process on a free
 * loopback port: Eddy (this script's `--serve-eddy` mode: a broker on the file
 * log store with the default fsync durability and the in-process MQTT
 * listener), mosquitto (persistence off, set_tcp_nodelay true) and
 * nats-server (an `mqtt {}` listener with JetStream on a file store) when
 * installed.
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { heapSize, heapStats } from "bun:jsc";
import type { MqttListener } from "../../bridges/mqtt/index.ts";
import type { BrokerApi } from "../../src/broker/index.ts";

export interface Peer {
  name: string;
  port: number;
  pid: number;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  rssBytes(): number;
  /** Ask the server to collect garbage (Eddy only), so that RSS shows live memory. */
  collect(): Promise<void>;
  /** Eddy started with `trace`: print its event-loop lag and fsync figures since the last call, under `label`. */
  trace(label: string): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const TICKS = 100; // USER_HZ on Linux

function procCpu(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function procRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

async function waitForPort(port: number, proc: Subprocess, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

function peer(
  name: string,
  port: number,
  proc: Subprocess,
  cleanup: () => void,
  tracing: string | null = null,
): Peer {
  return {
    name,
    port,
    pid: proc.pid,
    cpuSeconds: () => procCpu(proc.pid),
    rssBytes: () => procRss(proc.pid),
    async collect() {
      if (name !== "eddy") return;
      proc.kill("SIGUSR2");
      await Bun.sleep(300);
    },
    async trace(label: string) {
      if (name !== "eddy" || !tracing) return;
      fs.writeFileSync(tracing, label);
      proc.kill("SIGUSR1");
      await Bun.sleep(100);
    },
    async stop() {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill(9), 10_000);
      await proc.exited;
      clearTimeout(timer);
      cleanup();
    },
  };
}

export async function startEddy(opts: {
  profileDir?: string;
  heapProfileDir?: string;
  partitions?: number;
  maxInflight?: number;
  durability?: string;
  maxInboundQos0?: number;
  trace?: boolean;
}): Promise<Peer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-mqtt-"));
  const port = await freePort();
  const prof = opts.profileDir
    ? [
        "--cpu-prof",
        "--cpu-prof-md",
        `--cpu-prof-dir=${opts.profileDir}`,
        "--cpu-prof-name=eddy-mqtt.cpuprofile",
      ]
    : [];
  if (opts.heapProfileDir)
    prof.push(
      "--heap-prof",
      "--heap-prof-md",
      `--heap-prof-dir=${opts.heapProfileDir}`,
      "--heap-prof-name=eddy-mqtt.heapprofile",
    );
  const args = [
    ...(opts.maxInflight === undefined ? [] : ["--max-inflight", String(opts.maxInflight)]),
    ...(opts.durability === undefined ? [] : ["--durability", opts.durability]),
    ...(opts.maxInboundQos0 === undefined ? [] : ["--max-inbound-qos0", String(opts.maxInboundQos0)]),
    ...(opts.trace ? ["--trace"] : []),
    "--serve-eddy",
    "--dir",
    dir,
    "--port",
    String(port),
    "--partitions",
    String(opts.partitions ?? 1),
  ];
  const proc = Bun.spawn([process.execPath, ...prof, import.meta.dir + "/mqtt.ts", ...args], {
    stdout: "inherit",
    stderr: "inherit",
  });
  await waitForPort(port, proc, "eddy");
  const label = opts.trace ? path.join(dir, "trace-label") : null;
  return peer("eddy", port, proc, () => fs.rmSync(dir, { recursive: true, force: true }), label);
}

export async function startMosquitto(): Promise<Peer | null> {
  if (!Bun.which("mosquitto")) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-mosquitto-"));
  const port = await freePort();
  const conf = path.join(dir, "mosquitto.conf");
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      "set_tcp_nodelay true",
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn(["mosquitto", "-c", conf], { stdout: "ignore", stderr: "ignore" });
  await waitForPort(port, proc, "mosquitto");
  return peer("mosquitto", port, proc, () => fs.rmSync(dir, { recursive: true, force: true }));
}

export async function startNats(): Promise<Peer | null> {
  if (!Bun.which("nats-server")) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-nats-"));
  const port = await freePort();
  const natsPort = await freePort();
  const conf = path.join(dir, "nats.conf");
  fs.writeFileSync(
    conf,
    [
      `listen: 127.0.0.1:${natsPort}`,
      'server_name: "bench"',
      `jetstream { store_dir: "${path.join(dir, "js")}" }`,
      `mqtt { listen: 127.0.0.1:${port} }`,
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn(["nats-server", "-c", conf], { stdout: "ignore", stderr: "ignore" });
  await waitForPort(port, proc, "nats-server");
  return peer("nats", port, proc, () => fs.rmSync(dir, { recursive: true, force: true }));
}

/** `--serve-eddy` mode: run the broker + MQTT listener until SIGTERM. */
export async function serveEddy(opts: {
  dir: string;
  port: number;
  partitions: number;
  maxInflight?: number;
  durability?: string;
  maxInboundQos0?: number;
  /** Print event-loop lag and fsync figures on SIGUSR1 (the label is read from <dir>/trace-label). */
  trace?: boolean;
}): Promise<void> {
  const { createBroker } = await import("../../src/broker/index.ts");
  const { createFileLogStore } = await import("../../src/log/file-store.ts");
  const { openMetadataStore } = await import("../../src/metadata/index.ts");
  const { silentLogger } = await import("../../src/observability/logger.ts");
  const { systemClock } = await import("../../src/util/clock.ts");
  const { startMqttListener } = await import("../../bridges/mqtt/index.ts");
  const fsyncs: Array<[number, number]> = [];
  const ioTimes = { write: [] as number[], fdatasync: [] as number[] };
  const broker = await createBroker({
    logStore: await createFileLogStore({
      dataDir: path.join(opts.dir, "data"),
      clock: systemClock,
      logger: silentLogger,
      ...(opts.trace
        ? {
            observer: { onFsync: (ms: number, bytes: number) => void fsyncs.push([ms, bytes]) },
            // The log's own write(2) and fdatasync(2) times (the fsync figures above add the event loop's).
            io: {
              write: (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => {
                const t = performance.now();
                const n = fs.writeSync(fd, buf, offset, length, position);
                ioTimes.write.push(performance.now() - t);
                return n;
              },
              fdatasync: (fd: number) =>
                new Promise<void>((resolve, reject) => {
                  const t = performance.now();
                  fs.fdatasync(fd, (err) => {
                    ioTimes.fdatasync.push(performance.now() - t);
                    if (err) reject(err);
                    else resolve();
                  });
                }),
            },
          }
        : {}),
    }),
    metadata: openMetadataStore({ path: path.join(opts.dir, "eddy.db") }),
    logger: silentLogger,
    clock: systemClock,
    housekeepingIntervalMs: 0,
    defaults: {
      autoCreateTopics: true,
      numPartitions: opts.partitions,
      ...(opts.durability === undefined ? {} : { topicConfigs: { durability: opts.durability } }),
    },
  });
  const listener = await startMqttListener({
    broker,
    port: opts.port,
    maxConnections: 100_000,
    ...(opts.maxInflight === undefined ? {} : { maxInflight: opts.maxInflight }),
    ...(opts.maxInboundQos0 === undefined ? {} : { maxInboundQos0: opts.maxInboundQos0 }),
  });
  if (opts.trace) {
    const lag = loopLag();
    const stages = traceStages(listener.bridge, broker);
    process.on("SIGUSR1", () => {
      const label = fs.readFileSync(path.join(opts.dir, "trace-label"), "utf8");
      if (label !== "-") {
        const ms = fsyncs.map(([d]) => d).sort((a, b) => a - b);
        const bytes = fsyncs.reduce((n, [, b]) => n + b, 0);
        console.error(
          `# eddy ${label}: loop lag ${lag.report()}; group-commit fsyncs n=${ms.length} p50=${q(ms, 50)} p99=${q(ms, 99)} max=${q(ms, 100)} ms, ${(bytes / Math.max(1, ms.length) / 1024).toFixed(1)} KiB each; log write(2) ${pcts(ioTimes.write)}, fdatasync callback ${pcts(ioTimes.fdatasync)}${stages()}`,
        );
        // EDDY_BENCH_HEAP_SNAPSHOTS=DIR: a V8-format heap snapshot after each workload (heap-<label>.heapsnapshot).
        const snapDir = process.env.EDDY_BENCH_HEAP_SNAPSHOTS;
        if (snapDir) {
          Bun.gc(true);
          fs.writeFileSync(path.join(snapDir, `heap-${label}.heapsnapshot`), Bun.generateHeapSnapshot("v8"));
        }
      }
      // Whatever this report cost is not counted in the next workload's figures.
      fsyncs.length = 0;
      ioTimes.write.length = 0;
      ioTimes.fdatasync.length = 0;
      stages.reset();
      lag.reset();
    });
  }
  const stop = async () => {
    await listener.close();
    await broker.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  // The benchmark asks for a full collection before it reads RSS (idle-connection figure).
  process.on("SIGUSR2", () => Bun.gc(true));
  process.on("SIGINT", () => void stop());
}

/** "p50/p99/max ms" of unsorted values. */
function pcts(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  return `p50/p99/max ${q(s, 50)}/${q(s, 99)}/${q(s, 100)} ms`;
}

/** Percentile of sorted values, 2 decimals. */
function q(sorted: number[], p: number): string {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]?.toFixed(2) ?? "—";
}

/**
 * Event-loop lateness of a 1 ms timer (trace mode), and garbage collections:
 * a WeakRef to a fresh object is cleared by the next collection (eden or
 * full), so the timer counts them; the JS heap size is the live size after
 * the last collection. Each call reports and resets.
 */
function loopLag(): { report(): string; reset(): void } {
  let lates: number[] = [];
  let last = performance.now();
  let ref = new WeakRef({});
  let collections = 0;
  let t0 = performance.now();
  let big: string[] = [];
  let gcLates: number[] = [];
  const t = setInterval(() => {
    const now = performance.now();
    const late = now - last - 1;
    lates.push(late);
    last = now;
    const collected = ref.deref() === undefined;
    if (collected) {
      collections++;
      ref = new WeakRef({});
    }
    if (collected) gcLates.push(late);
    if (late > 20 && big.length < 20)
      big.push(`${late.toFixed(0)}ms@${((now - t0) / 1000).toFixed(2)}s${collected ? "+gc" : ""}`);
  }, 1);
  t.unref?.();
  return {
    report() {
      const s = [...lates].sort((a, b) => a - b);
      const over = (ms: number) => s.filter((x) => x > ms).length;
      const secs = (performance.now() - t0) / 1000;
      const out = `p50=${q(s, 50)} p99=${q(s, 99)} max=${q(s, 100)} ms (>2 ms ${over(2)}×, >5 ms ${over(5)}×); ${(collections / secs).toFixed(1)} GC/s (ticks with a GC: ${pcts(gcLates)}, >2 ms ${gcLates.filter((x) => x > 2).length}×); heap ${(heapSize() / 2 ** 20).toFixed(1)} MiB (${heapObjects()})`;
      return big.length > 0 ? `${out}; stalls > 20 ms: ${big.join(" ")}` : out;
    },
    reset() {
      lates = [];
      big = [];
      gcLates = [];
      collections = 0;
      t0 = performance.now();
      last = t0;
    },
  };
}

/** The heap's extra (ArrayBuffer) memory and its most numerous object types. */
function heapObjects(): string {
  const h = heapStats();
  const top = Object.entries(h.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return `extra ${(h.extraMemorySize / 2 ** 20).toFixed(1)} MiB, ${h.objectCount} objects: ${top}`;
}

/**
 * Per-message stages of the inbound QoS 1 path (trace mode), measured from
 * outside: stored (the publish handler called bridge.storeMessage) → append
 * called → appended (appendBatch settled) → done (durable: the PUBACK is
 * written in the same call). Assumes one stream partition (the default).
 * Reports the p50/p99 of each step and, for the slowest 1 % of messages, the
 * mean of each step.
 */
function traceStages(bridge: MqttListener["bridge"], broker: BrokerApi): (() => string) & { reset(): void } {
  const N = 1 << 20;
  const t = { stored: new Float64Array(N), call: new Float64Array(N), appended: new Float64Array(N) };
  const done: number[] = [];
  let next = 0; // messages stored
  let placed = 0; // messages handed to appendBatch
  const storeMessage = bridge.storeMessage.bind(bridge);
  let mixed = false; // QoS 0 traffic in this window: not traced (the figures are for QoS 1 workloads)
  bridge.storeMessage = (msg, cb) => {
    if (msg.qos !== 1 || mixed) {
      mixed = true;
      storeMessage(msg, cb);
      return;
    }
    const i = next++ & (N - 1);
    t.stored[i] = performance.now();
    storeMessage(msg, (err) => {
      done.push(i, performance.now());
      cb(err);
    });
  };
  const appendBatch = broker.appendBatch.bind(broker);
  broker.appendBatch = async (req) => {
    const from = placed;
    const n = new DataView(req.batch.buffer, req.batch.byteOffset).getInt32(57);
    if (req.topic.startsWith("__") || mixed) return appendBatch(req);
    placed += n;
    const now = performance.now();
    for (let k = from; k < from + n; k++) t.call[k & (N - 1)] = now;
    const res = await appendBatch(req);
    const at = performance.now();
    for (let k = from; k < from + n; k++) t.appended[k & (N - 1)] = at;
    return res;
  };
  const report = () => {
    const steps: number[][] = [[], [], [], []];
    for (let k = 0; k < done.length; k += 2) {
      const i = done[k]!;
      const end = done[k + 1]!;
      steps[0]!.push(t.call[i]! - t.stored[i]!);
      steps[1]!.push(t.appended[i]! - t.call[i]!);
      steps[2]!.push(end - t.appended[i]!);
      steps[3]!.push(end - t.stored[i]!);
    }
    if (steps[3]!.length === 0 || mixed) return "";
    const total = steps[3]!;
    const cut = [...total].sort((a, b) => a - b)[Math.floor(total.length * 0.99)]!;
    const slow = (s: number[]) => {
      let sum = 0;
      let n = 0;
      for (let k = 0; k < s.length; k++) {
        if (total[k]! < cut) continue;
        sum += s[k]!;
        n++;
      }
      return (sum / Math.max(1, n)).toFixed(2);
    };
    const names = ["queued", "append", "durable", "total"];
    const parts = steps.map((s, k) => {
      const sorted = [...s].sort((a, b) => a - b);
      return `${names[k]} ${q(sorted, 50)}/${q(sorted, 99)} (slow ${slow(s)})`;
    });
    return `\n# eddy stages (store → PUBACK written, p50/p99 ms, slowest 1 % mean): ${parts.join(", ")}`;
  };
  return Object.assign(report, {
    reset() {
      done.length = 0;
      mixed = false;
      next = placed;
    },
  });
}

/**
 * The disk's own fdatasync latency, as a baseline for QoS 1 latency: `n`
 * appends of 200 bytes to a fresh file in `dir` (the benchmark's temp
 * directory, the disk Eddy writes to), each followed by fdatasync.
 */
export function rawFdatasync(dir: string, n = 2000): { p50: number; p99: number } {
  const file = path.join(dir, `fsync-probe-${process.pid}`);
  const fd = fs.openSync(file, "w");
  const buf = Buffer.alloc(200, 0x61);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      fs.writeSync(fd, buf, 0, buf.length, i * buf.length);
      const t = performance.now();
      fs.fdatasyncSync(fd);
      lat.push(performance.now() - t);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  lat.sort((a, b) => a - b);
  const at = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
  return { p50: at(50), p99: at(99) };
}
