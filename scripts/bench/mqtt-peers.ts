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

export interface Peer {
  name: string;
  port: number;
  pid: number;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  rssBytes(): number;
  /** Ask the server to collect garbage (Eddy only), so that RSS shows live memory. */
  collect(): Promise<void>;
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

function peer(name: string, port: number, proc: Subprocess, cleanup: () => void): Peer {
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
  partitions?: number;
  maxInflight?: number;
  durability?: string;
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
  const args = [
    ...(opts.maxInflight === undefined ? [] : ["--max-inflight", String(opts.maxInflight)]),
    ...(opts.durability === undefined ? [] : ["--durability", opts.durability]),
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
  return peer("eddy", port, proc, () => fs.rmSync(dir, { recursive: true, force: true }));
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
}): Promise<void> {
  const { createBroker } = await import("../../src/broker/index.ts");
  const { createFileLogStore } = await import("../../src/log/file-store.ts");
  const { openMetadataStore } = await import("../../src/metadata/index.ts");
  const { silentLogger } = await import("../../src/observability/logger.ts");
  const { systemClock } = await import("../../src/util/clock.ts");
  const { startMqttListener } = await import("../../bridges/mqtt/index.ts");
  const broker = await createBroker({
    logStore: await createFileLogStore({
      dataDir: path.join(opts.dir, "data"),
      clock: systemClock,
      logger: silentLogger,
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
  });
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
