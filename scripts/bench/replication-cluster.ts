/**
 * Three Eddy processes on loopback for the replication benchmark
 * (scripts/bench/replication.ts): `dist/eddy` when it exists (else
 * `bun src/main.ts`), ephemeral ports, one temp dir, default cluster
 * timeouts. Each node can be pinned to CPUs (taskset) and profiled
 * (`bun --cpu-prof`, source mode only; written on a graceful stop).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";

export const NODE_IDS: readonly number[] = [1, 2, 3];

export interface ClusterView {
  controllerId: number | null;
  partitions: Array<{ topic: string; partition: number; leader: number; leaderEpoch: number; isr: number[] }>;
}

export interface BenchClusterOptions {
  /** Command that starts one node, before `--config FILE`. */
  command: string[];
  /** CPU list per node id for taskset (none = not pinned). */
  pin?: ReadonlyMap<number, string>;
  /** Directory for Bun CPU profiles (source mode). */
  cpuProfDir?: string;
  logLevel?: string;
}

interface NodePorts {
  http: number;
  kafka: number;
  peer: number;
}

export class BenchCluster {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-repl-"));
  readonly procs = new Map<number, Subprocess>();
  private readonly ports = new Map<number, NodePorts>();

  constructor(private readonly o: BenchClusterOptions) {}

  async launch(): Promise<void> {
    for (const id of NODE_IDS) {
      this.ports.set(id, { http: await freePort(), kafka: await freePort(), peer: await freePort() });
    }
    for (const id of NODE_IDS) fs.writeFileSync(this.configFile(id), this.config(id));
    for (const id of NODE_IDS) this.start(id);
    for (const id of NODE_IDS) await this.waitHttp(id);
  }

  start(id: number): void {
    const prof = this.o.cpuProfDir
      ? [
          "--cpu-prof",
          "--cpu-prof-md",
          `--cpu-prof-dir=${this.o.cpuProfDir}`,
          `--cpu-prof-name=node${id}-${Date.now()}`,
        ]
      : [];
    const [exe, ...rest] = this.o.command;
    const cmd = [exe!, ...prof, ...rest, "--config", this.configFile(id)];
    const cpus = this.o.pin?.get(id);
    const argv = cpus ? ["taskset", "-c", cpus, ...cmd] : cmd;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EDDY_")));
    this.procs.set(id, Bun.spawn(argv, { stdout: "ignore", stderr: "inherit", env }));
  }

  /** kill -9; resolves once the process is gone. */
  async kill(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    p.kill(9);
    await p.exited;
    this.procs.delete(id);
  }

  /** Graceful stop of every node (SIGTERM; profiles are written), then remove the temp dir. */
  async close(): Promise<void> {
    for (const p of this.procs.values()) p.kill("SIGTERM");
    const timeout = setTimeout(() => {
      for (const p of this.procs.values()) p.kill(9);
    }, 10_000);
    await Promise.all([...this.procs.values()].map((p) => p.exited));
    clearTimeout(timeout);
    this.procs.clear();
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  kafkaPort(id: number): number {
    return this.ports.get(id)!.kafka;
  }

  async http(id: number, p: string, body?: unknown, timeoutMs = 2_000): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.ports.get(id)!.http}${p}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  /** GET /v1/cluster on node `id` (null if it does not answer). */
  async view(id: number): Promise<ClusterView | null> {
    try {
      const r = await this.http(id, "/v1/cluster", undefined, 1_000);
      return r.ok ? ((await r.json()) as ClusterView) : null;
    } catch {
      return null;
    }
  }

  async createTopic(name: string, body: Record<string, unknown>): Promise<void> {
    await waitUntil(`topic ${name} created`, 30_000, async () => {
      try {
        const r = await this.http(1, "/v1/topics", { name, ...body }, 10_000);
        return r.status === 201;
      } catch {
        return false;
      }
    });
  }

  /** Wait until every running node reports the same leader for topic/partition with an ISR of `isrSize`. */
  async settled(topic: string, partition: number, isrSize: number, timeoutMs = 60_000): Promise<number> {
    let leader = -1;
    await waitUntil(`${topic}-${partition} settled with ISR ${isrSize}`, timeoutMs, async () => {
      const views = await Promise.all([...this.procs.keys()].map((id) => this.view(id)));
      const parts = views.map((v) =>
        v?.partitions.find((p) => p.topic === topic && p.partition === partition),
      );
      leader = parts[0]?.leader ?? -1;
      return (
        leader > 0 &&
        this.procs.has(leader) &&
        parts.every((p) => p !== undefined && p.leader === leader && p.isr.length === isrSize)
      );
    });
    return leader;
  }

  /** CPU seconds (user + system) used so far by node `id`'s process. */
  cpuSeconds(id: number): number {
    const pid = this.procs.get(id)?.pid;
    return pid === undefined ? 0 : procCpuSeconds(pid);
  }

  private configFile(id: number): string {
    return path.join(this.root, `n${id}.toml`);
  }

  private config(id: number): string {
    const me = this.ports.get(id)!;
    const peers = [...this.ports]
      .map(
        ([pid, p]) =>
          `[[cluster.peers]]\nid = ${pid}\nurl = "http://127.0.0.1:${p.peer}"\nkafka = "127.0.0.1:${p.kafka}"\n`,
      )
      .join("");
    return `data_dir = "${path.join(this.root, `d${id}`)}"
node_id = ${id}
[logging]
level = "${this.o.logLevel ?? "error"}"
[listeners]
http = "127.0.0.1:${me.http}"
kafka = "127.0.0.1:${me.kafka}"
mqtt = "off"
coap = "off"
peer = "127.0.0.1:${me.peer}"
[cluster]
secret = "bench"
${peers}`;
  }

  private async waitHttp(id: number): Promise<void> {
    await waitUntil(`node ${id} answers HTTP`, 30_000, async () => (await this.view(id)) !== null);
  }
}

export async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting: ${what}`);
}

/** utime + stime of a process from /proc (Linux), in seconds. */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
