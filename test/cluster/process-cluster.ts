/**
 * Three `eddy` processes (src/main.ts under Bun) on loopback, wired from
 * [cluster] config, for the process tests. Call `useProcessCluster()` at the
 * top of each test file: it registers that file's afterEach, which kills the
 * processes and removes the temp dir.
 *
 * Debugging: EDDY_TEST_LOGS=<dir> keeps each process's stderr there (at
 * EDDY_TEST_LOG_LEVEL, default info).
 *
 * Outside `bun test` (scripts/chaos/run.ts), `createProcessCluster()` gives the
 * same cluster without the afterEach hook: call `cleanup()` yourself.
 *
 * `mqtt: true` / `coap: true` open each node's MQTT (TCP) / CoAP (UDP)
 * listener on an ephemeral loopback port; `listeners(id)` reads the bound
 * addresses from the node's <data_dir>/listeners.json (rewritten at every start).
 */
import { afterEach } from "bun:test";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { type PeerLinks, startPeerLinks } from "../helpers/peer-links.ts";
import { waitFor } from "./cluster-harness.ts";

const MAIN = path.join(import.meta.dir, "../../src/main.ts");
const LOG_DIR = process.env.EDDY_TEST_LOGS ?? "";
const IDS = [1, 2, 3] as const;
let runNo = 0;

export interface NodePorts {
  http: number;
  peer: number;
  /** The Kafka listener (0 unless the cluster was created with `kafka: true`). */
  kafka: number;
}

/** The body of GET /v1/topics/p (the fields the tests read). */
export interface Described {
  partitions: Array<{
    leader: number;
    leaderEpoch: number;
    isr: number[];
    logEndOffset: number;
    highWatermark: number;
  }>;
}

export interface ProcessClusterOptions {
  /** Prefix of the temp dir under os.tmpdir(). */
  tmpPrefix: string;
  /** Abort each HTTP request after this long (a SIGSTOPped node never answers); default none. */
  requestTimeoutMs?: number;
  /** Kafka listeners on, advertised as the peers' `kafka` addresses (Metadata). Default off. */
  kafka?: boolean;
  /** Route every directed peer link through a fault proxy (`links`). Default off. */
  linkProxies?: boolean;
  /** Run this executable (e.g. dist/eddy) instead of `bun src/main.ts`. */
  binary?: string;
  /** Extra lines appended to the [cluster] table of every node's config. */
  clusterConfig?: string;
  /** MQTT listeners on (port 0; addresses from `listeners(id)`). Default off. */
  mqtt?: boolean;
  /** CoAP listeners on (port 0; addresses from `listeners(id)`). Default off. */
  coap?: boolean;
  /** Extra TOML appended at the end of every node's config (e.g. a `[broker]` table). */
  extraConfig?: string;
}

export interface ProcessCluster {
  /** The running processes by node id; a test may kill and delete its own. */
  readonly procs: Map<number, Subprocess>;
  /** The HTTP and peer ports by node id (set by launch()). */
  readonly ports: Map<number, NodePorts>;
  /** The peer link proxies (with `linkProxies: true`, after launch()); null otherwise. */
  readonly links: PeerLinks | null;
  /** The temp dir of the current test (node n's data is in `d<n>`). */
  root(): string;
  /** Writes the three configs and starts the three nodes. */
  launch(): Promise<void>;
  /** Starts node `id` from its config (again, after a kill). */
  start(id: number): void;
  http(id: number, p: string, body?: unknown): Promise<Response>;
  /** Creates topic "p" (1 partition, RF 3) through node `via`, retrying until the cluster takes it. */
  createTopic(via: number, configs?: Record<string, unknown>): Promise<void>;
  describe(id: number): Promise<Described>;
  /** acks=all produce of `values` to p/0 through node `id`; returns the HTTP status. */
  produce(id: number, values: string[]): Promise<number>;
  /** Waits until the nodes `ids` agree on a leader of p/0 with an ISR of `isrSize`; returns it. */
  settledLeader(ids: number[], isrSize: number): Promise<number>;
  /**
   * The bound listener addresses of node `id`'s current process, from its
   * listeners.json (e.g. { http, mqtt, coap }: "127.0.0.1:41234"); waits
   * until the process has written it.
   */
  listeners(id: number): Promise<Record<string, string>>;
  /** Kills every process (kill -9), closes the link proxies and removes the temp dir. */
  cleanup(): Promise<void>;
}

export function useProcessCluster(options: ProcessClusterOptions): ProcessCluster {
  const cluster = createProcessCluster(options);
  afterEach(() => cluster.cleanup());
  return cluster;
}

export function createProcessCluster(options: ProcessClusterOptions): ProcessCluster {
  const procs = new Map<number, Subprocess>();
  const ports = new Map<number, NodePorts>();
  let links: PeerLinks | null = null;
  let root = "";
  const listenersFile = (id: number): string => path.join(root, `d${id}`, "listeners.json");

  const configFor = (id: number): string => {
    const me = ports.get(id)!;
    const peers = [...ports]
      .map(([pid, p]) => {
        const url = links && pid !== id ? links.url(id, pid) : `http://127.0.0.1:${p.peer}`;
        const kafka = options.kafka ? `kafka = "127.0.0.1:${p.kafka}"\n` : "";
        return `[[cluster.peers]]\nid = ${pid}\nurl = "${url}"\n${kafka}`;
      })
      .join("");
    return `data_dir = "${path.join(root, `d${id}`)}"
node_id = ${id}
[logging]
level = "${LOG_DIR ? (process.env.EDDY_TEST_LOG_LEVEL ?? "info") : "warn"}"
[listeners]
http = "127.0.0.1:${me.http}"
kafka = "${options.kafka ? `127.0.0.1:${me.kafka}` : "off"}"
mqtt = "${options.mqtt ? "127.0.0.1:0" : "off"}"
coap = "${options.coap ? "127.0.0.1:0" : "off"}"
peer = "127.0.0.1:${me.peer}"
[cluster]
secret = "process-test"
election_timeout_ms = 300
heartbeat_interval_ms = 50
replica_lag_time_max_ms = 1000
${options.clusterConfig ?? ""}
${peers}${options.extraConfig ? `\n${options.extraConfig}\n` : ""}`;
  };

  const cluster: ProcessCluster = {
    procs,
    ports,
    get links() {
      return links;
    },
    root: () => root,
    async launch() {
      root = fs.mkdtempSync(path.join(os.tmpdir(), options.tmpPrefix));
      runNo++;
      if (LOG_DIR) fs.mkdirSync(LOG_DIR, { recursive: true });
      ports.clear();
      for (const id of IDS) {
        const kafka = options.kafka ? await freePort() : 0;
        ports.set(id, { http: await freePort(), peer: await freePort(), kafka });
      }
      if (options.linkProxies) {
        await links?.close();
        links = await startPeerLinks({ ids: IDS, peerPort: (id) => ports.get(id)!.peer });
      }
      for (const id of IDS) fs.writeFileSync(path.join(root, `n${id}.toml`), configFor(id));
      for (const id of IDS) cluster.start(id);
    },
    start(id) {
      const file = path.join(root, `n${id}.toml`);
      const stderr = LOG_DIR
        ? Bun.file(path.join(LOG_DIR, `run${runNo}-n${id}-${Date.now()}.log`))
        : ("ignore" as const);
      // EDDY_* variables are config overrides to eddy: keep the test's own out.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith("EDDY_TEST_")),
      );
      const argv = options.binary
        ? [options.binary, "--config", file]
        : [process.execPath, MAIN, "--config", file];
      // listeners(id) must not read the previous process's addresses.
      fs.rmSync(listenersFile(id), { force: true });
      procs.set(id, Bun.spawn(argv, { stdout: "ignore", stderr, env }));
    },
    http(id, p, body) {
      return fetch(`http://127.0.0.1:${ports.get(id)!.http}${p}`, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal:
          options.requestTimeoutMs === undefined ? undefined : AbortSignal.timeout(options.requestTimeoutMs),
      });
    },
    async createTopic(via, configs) {
      const body = { name: "p", partitions: 1, replicationFactor: 3, ...(configs ? { configs } : {}) };
      await waitFor(
        `the topic is created through node ${via}`,
        async () => (await cluster.http(via, "/v1/topics", body)).status === 201,
        20_000,
      );
    },
    async describe(id) {
      return (await (await cluster.http(id, "/v1/topics/p")).json()) as Described;
    },
    async produce(id, values) {
      const r = await cluster.http(id, "/v1/topics/p/records", {
        partition: 0,
        acks: "all",
        records: values.map((value) => ({ value })),
      });
      return r.status;
    },
    async settledLeader(ids, isrSize) {
      let leader = -1;
      await waitFor("the nodes agree on a leader and the ISR", async () => {
        const all = await Promise.all(ids.map((id) => cluster.describe(id)));
        leader = all[0]!.partitions[0]!.leader;
        return (
          leader > 0 &&
          all.every((d) => d.partitions[0]!.leader === leader && d.partitions[0]!.isr.length === isrSize)
        );
      });
      return leader;
    },
    async listeners(id) {
      let found: Record<string, string> | null = null;
      await waitFor(`node ${id} wrote listeners.json`, () => {
        if (!fs.existsSync(listenersFile(id))) return false;
        found = JSON.parse(fs.readFileSync(listenersFile(id), "utf8")) as Record<string, string>;
        return true;
      });
      return found!;
    },
    async cleanup() {
      for (const p of procs.values()) p.kill(9);
      await Promise.all([...procs.values()].map((p) => p.exited));
      procs.clear();
      await links?.close();
      links = null;
      if (root) fs.rmSync(root, { recursive: true, force: true });
      root = "";
    },
  };
  return cluster;
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
