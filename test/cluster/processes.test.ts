/**
 * Three `eddy` processes (src/main.ts under Bun) on loopback, wired from
 * [cluster] config: a topic with RF=3 created over HTTP on one node is
 * described by all, acks=all writes survive `kill -9` of the partition
 * leader, and the killed node rejoins the ISR after a restart.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { waitFor } from "./cluster-harness.ts";

const MAIN = path.join(import.meta.dir, "../../src/main.ts");
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
level = "warn"
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
  const proc = Bun.spawn([process.execPath, MAIN, "--config", file], { stdout: "ignore", stderr: "ignore" });
  procs.set(id, proc);
}

async function http(ports: Map<number, NodePorts>, id: number, p: string, body?: unknown): Promise<Response> {
  return fetch(`http://127.0.0.1:${ports.get(id)!.http}${p}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

interface Described {
  partitions: Array<{ leader: number; leaderEpoch: number; isr: number[]; logEndOffset: number }>;
}

describe("eddy processes in a cluster", () => {
  it("replicate over the peer listener and survive kill -9 of a partition leader", async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-procs-"));
    const ports = new Map<number, NodePorts>();
    for (const id of [1, 2, 3]) ports.set(id, { http: await freePort(), peer: await freePort() });
    for (const id of [1, 2, 3]) fs.writeFileSync(path.join(root, `n${id}.toml`), configFor(id, ports));
    for (const id of [1, 2, 3]) start(id);
    await waitFor(
      "the topic is created through node 2",
      async () =>
        (await http(ports, 2, "/v1/topics", { name: "p", partitions: 1, replicationFactor: 3 })).status ===
        201,
      20_000,
    );
    const describe = async (id: number): Promise<Described> =>
      (await (await http(ports, id, "/v1/topics/p")).json()) as Described;
    let leader = -1;
    await waitFor("every node knows the topic", async () => {
      const all = await Promise.all([1, 2, 3].map(describe));
      leader = all[0]!.partitions[0]!.leader;
      return all.every((d) => d.partitions[0]!.leader === leader && d.partitions[0]!.isr.length === 3);
    });
    await waitFor("acks=all writes on the leader", async () => {
      const r = await http(ports, leader, "/v1/topics/p/records", {
        partition: 0,
        acks: "all",
        records: [{ value: "a" }, { value: "b" }],
      });
      return r.status === 200;
    });

    procs.get(leader)!.kill(9);
    await procs.get(leader)!.exited;
    procs.delete(leader);
    const survivor = [1, 2, 3].find((id) => id !== leader)!;
    let next = -1;
    await waitFor("a new leader", async () => {
      const p = (await describe(survivor)).partitions[0]!;
      next = p.leader;
      return next !== leader && next > 0;
    });
    await waitFor("acks=all writes on the new leader", async () => {
      const r = await http(ports, next, "/v1/topics/p/records", {
        partition: 0,
        acks: "all",
        records: [{ value: "c" }],
      });
      return r.status === 200;
    });
    const read = (await (await http(ports, next, "/v1/topics/p/partitions/0/records?offset=0")).json()) as {
      records: Array<{ value: string }>;
    };
    expect(read.records.map((r) => r.value)).toEqual(["a", "b", "c"]);

    start(leader);
    await waitFor("the killed node rejoins the ISR", async () =>
      (await describe(next)).partitions[0]!.isr.includes(leader),
    );
    expect((await describe(leader)).partitions[0]!.logEndOffset).toBe(3);
  }, 60_000);
});
