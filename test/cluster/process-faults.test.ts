/**
 * Fault tests on three `eddy` processes (src/main.ts under Bun) on loopback:
 * SIGSTOP of a partition leader for longer than replica.lag.time.max.ms, and
 * a node restarted with a wiped data directory.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { waitFor } from "./cluster-harness.ts";

const MAIN = path.join(import.meta.dir, "../../src/main.ts");
/** Debugging: EDDY_TEST_LOGS=<dir> keeps each process's stderr there (at EDDY_TEST_LOG_LEVEL, default info). */
const LOG_DIR = process.env.EDDY_TEST_LOGS ?? "";
let runNo = 0;
const procs = new Map<number, Subprocess>();
let root = "";
afterEach(async () => {
  for (const p of procs.values()) p.kill(9);
  await Promise.all([...procs.values()].map((p) => p.exited));
  procs.clear();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

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

interface NodePorts {
  http: number;
  peer: number;
}

function configFor(id: number, ports: Map<number, NodePorts>): string {
  const me = ports.get(id)!;
  const peers = [...ports]
    .map(([pid, p]) => `[[cluster.peers]]\nid = ${pid}\nurl = "http://127.0.0.1:${p.peer}"\n`)
    .join("");
  return `data_dir = "${path.join(root, `d${id}`)}"
node_id = ${id}
[logging]
level = "${LOG_DIR ? (process.env.EDDY_TEST_LOG_LEVEL ?? "info") : "warn"}"
[listeners]
http = "127.0.0.1:${me.http}"
kafka = "off"
mqtt = "off"
coap = "off"
peer = "127.0.0.1:${me.peer}"
[cluster]
secret = "process-test"
election_timeout_ms = 300
heartbeat_interval_ms = 50
replica_lag_time_max_ms = 1000
${peers}`;
}

function start(id: number): void {
  const file = path.join(root, `n${id}.toml`);
  const stderr = LOG_DIR
    ? Bun.file(path.join(LOG_DIR, `run${runNo}-n${id}-${Date.now()}.log`))
    : ("ignore" as const);
  // EDDY_* variables are config overrides to eddy: keep the test's own out.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EDDY_TEST_")));
  const proc = Bun.spawn([process.execPath, MAIN, "--config", file], { stdout: "ignore", stderr, env });
  procs.set(id, proc);
}

async function http(ports: Map<number, NodePorts>, id: number, p: string, body?: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${ports.get(id)!.http}${p}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    // A stopped (SIGSTOP) node never answers.
    signal: AbortSignal.timeout(2_000),
  });
}

interface Described {
  partitions: Array<{
    leader: number;
    leaderEpoch: number;
    isr: number[];
    logEndOffset: number;
    highWatermark: number;
  }>;
}

async function startCluster(): Promise<Map<number, NodePorts>> {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-faults-"));
  runNo++;
  if (LOG_DIR) fs.mkdirSync(LOG_DIR, { recursive: true });
  const ports = new Map<number, NodePorts>();
  for (const id of [1, 2, 3]) ports.set(id, { http: await freePort(), peer: await freePort() });
  for (const id of [1, 2, 3]) fs.writeFileSync(path.join(root, `n${id}.toml`), configFor(id, ports));
  for (const id of [1, 2, 3]) start(id);
  await waitFor(
    "the topic is created",
    async () =>
      (
        await http(ports, 1, "/v1/topics", {
          name: "p",
          partitions: 1,
          replicationFactor: 3,
          configs: { "min.insync.replicas": 2 },
        })
      ).status === 201,
    20_000,
  );
  return ports;
}

const describeOn = async (ports: Map<number, NodePorts>, id: number): Promise<Described> =>
  (await (await http(ports, id, "/v1/topics/p")).json()) as Described;

async function produceAll(ports: Map<number, NodePorts>, id: number, values: string[]): Promise<number> {
  const r = await http(ports, id, "/v1/topics/p/records", {
    partition: 0,
    acks: "all",
    records: values.map((value) => ({ value })),
  });
  return r.status;
}

async function settledLeader(ports: Map<number, NodePorts>, ids: number[], isrSize: number): Promise<number> {
  let leader = -1;
  await waitFor("the nodes agree on a leader and the ISR", async () => {
    const all = await Promise.all(ids.map((id) => describeOn(ports, id)));
    leader = all[0]!.partitions[0]!.leader;
    return (
      leader > 0 &&
      all.every((d) => d.partitions[0]!.leader === leader && d.partitions[0]!.isr.length === isrSize)
    );
  });
  return leader;
}

describe("eddy processes under faults", () => {
  it("a SIGSTOPped leader is replaced, then steps down and rejoins the ISR after SIGCONT", async () => {
    const ports = await startCluster();
    const leader = await settledLeader(ports, [1, 2, 3], 3);
    await waitFor(
      "acks=all writes on the leader",
      async () => (await produceAll(ports, leader, ["a", "b"])) === 200,
    );
    const epochBefore = (await describeOn(ports, leader)).partitions[0]!.leaderEpoch;

    const frozen = procs.get(leader)!;
    frozen.kill("SIGSTOP");
    const others = [1, 2, 3].filter((id) => id !== leader);
    let next = -1;
    await waitFor("a new leader among the others", async () => {
      const p = (await describeOn(ports, others[0]!)).partitions[0]!;
      next = p.leader;
      return next !== leader && next > 0 && p.leaderEpoch > epochBefore;
    });
    // acks=all (min.insync.replicas=2) goes on with two of three nodes.
    await waitFor(
      "acks=all writes on the new leader",
      async () => (await produceAll(ports, next, ["c"])) === 200,
    );
    expect(await produceAll(ports, next, ["d"])).toBe(200);

    frozen.kill("SIGCONT");
    // The old leader learns the new epoch, stops leading (421 NOT_LEADER), truncates by epoch and catches up.
    await waitFor("the old leader steps down", async () => {
      const d = (await describeOn(ports, leader)).partitions[0]!;
      return d.leader === next && (await produceAll(ports, leader, ["stale"])) === 421;
    });
    await waitFor("the old leader rejoins the ISR", async () =>
      (await describeOn(ports, next)).partitions[0]!.isr.includes(leader),
    );
    await waitFor("the old leader holds the new leader's log", async () => {
      const [a, b] = await Promise.all([describeOn(ports, leader), describeOn(ports, next)]);
      return (
        a.partitions[0]!.logEndOffset === 4 &&
        a.partitions[0]!.highWatermark === b.partitions[0]!.highWatermark
      );
    });
    const read = (await (await http(ports, next, "/v1/topics/p/partitions/0/records?offset=0")).json()) as {
      records: Array<{ value: string }>;
    };
    expect(read.records.map((r) => r.value)).toEqual(["a", "b", "c", "d"]);
  }, 40_000);

  it("a node restarted with a wiped data directory catches up and rejoins the ISR", async () => {
    const ports = await startCluster();
    const leader = await settledLeader(ports, [1, 2, 3], 3);
    await waitFor("acks=all writes", async () => (await produceAll(ports, leader, ["a", "b", "c"])) === 200);
    const victim = [1, 2, 3].find((id) => id !== leader)!;
    procs.get(victim)!.kill(9);
    await procs.get(victim)!.exited;
    procs.delete(victim);
    fs.rmSync(path.join(root, `d${victim}`), { recursive: true, force: true });
    expect(await produceAll(ports, leader, ["d"])).toBe(200);

    start(victim);
    await waitFor(
      "the wiped node rejoins the ISR",
      async () => (await describeOn(ports, leader)).partitions[0]!.isr.includes(victim),
      40_000,
    );
    const d = (await describeOn(ports, victim)).partitions[0]!;
    expect(d.logEndOffset).toBe(4);
    expect(d.leader).toBe(leader);
    // A follower serves nothing itself: reads and writes go to the leader.
    expect((await http(ports, victim, "/v1/topics/p/partitions/0/records?offset=0")).status).toBe(421);
    expect(await produceAll(ports, victim, ["x"])).toBe(421);
  }, 60_000);
});
