/**
 * Replication benchmark (issue 7, item 8): three real Eddy processes.
 *
 *   bun scripts/bench/replication.ts [--seconds 5] [--rounds 2] [--cases 100x1000,1024x100]
 *        [--inflight 8] [--cycles 10] [--server binary|source] [--binary dist/eddy]
 *        [--pin gen=1,1=0,2=0,3=0] [--cpu-prof DIR] [--skip-throughput] [--skip-failover]
 *        [--only rf1|rf3] [--main PATH/src/main.ts (source mode: another tree, e.g. a baseline)]
 *
 * Starts `dist/eddy` (if present; else `bun src/main.ts`) three times on
 * loopback (scripts/bench/replication-cluster.ts: ephemeral ports, a temp
 * dir, default cluster timeouts, default fsync durability), then:
 *
 * 1. Throughput: acks=all produce to a one-partition RF=1 topic and to a
 *    one-partition RF=3 topic (min.insync.replicas=2), with the same load
 *    generator (scripts/bench/replication-load.ts: pre-encoded Produce v9
 *    frames, `--inflight` requests in flight on one connection to the
 *    partition leader). Each case is `<record bytes>x<records per request>`;
 *    rounds alternate the RF=1/RF=3 order. Reports records/s, request
 *    latency, the RF=3/RF=1 ratio (per round and the median), and the CPU
 *    each node and the generator used per record (from /proc): on a 2-core
 *    machine the three nodes share the cores, so the ratio understates what
 *    three machines would do; the leader's CPU per record shows that bound.
 * 2. Failover: `--cycles` times, a producer writes acks=all (10 records of
 *    100 B per request, one in flight) to a partition of an RF=3 topic with
 *    three partitions; the bench kill -9s the partition's leader (alternating
 *    between a leader that is not the controller and one that is) and
 *    measures from the kill to the first acknowledged write sent after it
 *    (the producer reconnects to the leader the survivors name, polling
 *    every 10 ms). The killed node is restarted and the ISR back to 3 before
 *    the next cycle. Reports p50/p99/max.
 *
 * --pin runs the generator (`gen`) and each node on the given CPU lists
 * (taskset). --cpu-prof (with --server source) writes each node's Bun CPU
 * profile into DIR on shutdown.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BenchCluster, NODE_IDS, procCpuSeconds } from "./replication-cluster.ts";
import { percentile, ProduceConn, produceFrame, pump } from "./replication-load.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "2" },
    cases: { type: "string", default: "100x1000,1024x100" },
    inflight: { type: "string", default: "8" },
    cycles: { type: "string", default: "10" },
    server: { type: "string" },
    binary: { type: "string", default: "dist/eddy" },
    pin: { type: "string" },
    "cpu-prof": { type: "string" },
    "skip-throughput": { type: "boolean", default: false },
    "skip-failover": { type: "boolean", default: false },
    "log-level": { type: "string", default: "error" },
    only: { type: "string" },
    main: { type: "string" },
    durability: { type: "string" },
  },
});
const repo = path.resolve(import.meta.dir, "../..");
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const INFLIGHT = Number(args.inflight);
const CYCLES = Number(args.cycles);
const CASES = args.cases.split(",").map((c) => {
  const [size, records] = c.split("x").map(Number);
  return { size: size!, records: records! };
});
const binary = path.resolve(repo, args.binary);
const useBinary = args.server === "binary" || (args.server !== "source" && fs.existsSync(binary));
const mainTs = path.resolve(args.main ?? path.join(repo, "src/main.ts"));
const command = useBinary ? [binary] : [process.execPath, mainTs];
if (args["cpu-prof"] && useBinary) throw new Error("--cpu-prof needs --server source");

const pin = new Map<number, string>();
let genCpus: string | null = null;
for (const part of args.pin ? args.pin.split(",") : []) {
  const [who, cpus] = part.split("=");
  if (who === "gen") genCpus = cpus!;
  else pin.set(Number(who), cpus!);
}
if (genCpus) spawnSync("taskset", ["-a", "-p", "-c", genCpus, String(process.pid)], { stdio: "ignore" });

const cluster = new BenchCluster({
  command,
  pin,
  cpuProfDir: args["cpu-prof"] ? path.resolve(args["cpu-prof"]) : undefined,
  logLevel: args["log-level"],
});

const us = (s: number): string => (s * 1e6).toFixed(1);
const ms = (x: number): string => x.toFixed(1);

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs per record: leader, each follower (max), generator. */
  leaderCpu: number;
  followerCpu: number;
  genCpu: number;
  /** Generator CPU as a share of one core. */
  genLoad: number;
}

async function measure(topic: string, size: number, records: number): Promise<Measured> {
  const leader = await cluster.settled(topic, 0, topic === "rf1" ? 1 : 3);
  const frame = produceFrame({ topic, partition: 0, records, size, acks: -1, timeoutMs: 30_000 });
  const conn = await ProduceConn.open("127.0.0.1", cluster.kafkaPort(leader));
  try {
    await pump(conn, frame, 1, INFLIGHT); // warm-up
    const cpu0 = new Map(NODE_IDS.map((id) => [id, cluster.cpuSeconds(id)]));
    const gen0 = procCpuSeconds(process.pid);
    const r = await pump(conn, frame, SECONDS, INFLIGHT);
    const gen = procCpuSeconds(process.pid) - gen0;
    const n = r.requests * records;
    const cpu = (id: number): number => (cluster.cpuSeconds(id) - cpu0.get(id)!) / n;
    const followers = NODE_IDS.filter((id) => id !== leader);
    return {
      rps: n / r.seconds,
      p50: percentile(r.latencies, 0.5),
      p99: percentile(r.latencies, 0.99),
      errors: r.errors,
      leaderCpu: cpu(leader),
      followerCpu: Math.max(...followers.map(cpu)),
      genCpu: gen / n,
      genLoad: gen / r.seconds,
    };
  } finally {
    conn.close();
  }
}

async function throughput(): Promise<void> {
  // --durability (diagnostic only): another topic durability than the default fsync.
  const extra = args.durability ? { durability: args.durability } : {};
  await cluster.createTopic("rf1", { partitions: 1, replicationFactor: 1, configs: extra });
  await cluster.createTopic("rf3", {
    partitions: 1,
    replicationFactor: 3,
    configs: { "min.insync.replicas": "2", ...extra },
  });
  console.log(
    `\n| case | round | RF | records/s | MB/s | p50 ms | p99 ms | leader µs/rec | follower µs/rec | gen µs/rec | gen CPU | RF=3/RF=1 |`,
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const c of CASES) {
    const ratios: number[] = [];
    const best = { rf1: 0, rf3: 0 };
    /** RF=1 leader CPU per record over the busiest RF=3 node's: the ratio with a core per node. */
    const cpuRatios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = (round % 2 === 1 ? ["rf1", "rf3"] : ["rf3", "rf1"]).filter(
        (t) => args.only === undefined || t === args.only,
      );
      const res = new Map<string, Measured>();
      for (const t of order) res.set(t, await measure(t, c.size, c.records));
      if (args.only) {
        const m = res.get(args.only)!;
        console.log(
          `| ${c.size} B x ${c.records} | ${round} | ${args.only} | ${Math.round(m.rps)} | leader ${us(m.leaderCpu)} µs/rec, follower ${us(m.followerCpu)} |`,
        );
        continue;
      }
      const ratio = res.get("rf3")!.rps / res.get("rf1")!.rps;
      ratios.push(ratio);
      const m1 = res.get("rf1")!;
      const m3 = res.get("rf3")!;
      best.rf1 = Math.max(best.rf1, m1.rps);
      best.rf3 = Math.max(best.rf3, m3.rps);
      cpuRatios.push(m1.leaderCpu / Math.max(m3.leaderCpu, m3.followerCpu));
      for (const t of ["rf1", "rf3"]) {
        const m = res.get(t)!;
        console.log(
          `| ${c.size} B x ${c.records} | ${round} | ${t === "rf1" ? 1 : 3} | ${Math.round(m.rps)} | ${((m.rps * c.size) / 1e6).toFixed(1)} | ${ms(m.p50)} | ${ms(m.p99)} | ${us(m.leaderCpu)} | ${t === "rf1" ? "—" : us(m.followerCpu)} | ${us(m.genCpu)} | ${Math.round(m.genLoad * 100)} % | ${t === "rf3" ? ratio.toFixed(2) : ""} |${m.errors ? ` ${m.errors} errors` : ""}`,
        );
      }
    }
    ratios.sort((a, b) => a - b);
    cpuRatios.sort((a, b) => a - b);
    console.log(
      `\n${c.size} B x ${c.records}: RF=3/RF=1 median ${percentile(ratios, 0.5).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(", ")}); best RF=3 / best RF=1 ${(best.rf3 / best.rf1).toFixed(2)}; CPU-bound with a core per node ${percentile(cpuRatios, 0.5).toFixed(2)}\n`,
    );
  }
}

/** One failover cycle; returns [ms from kill to the first acknowledged write after it, "leader"|"controller"]. */
async function failoverCycle(want: "leader" | "controller"): Promise<[number, string]> {
  const parts = [0, 1, 2];
  let leaders: number[] = [];
  for (const p of parts) leaders.push(await cluster.settled("fo", p, 3));
  const view = await cluster.view(leaders[0]!);
  const controller = view?.controllerId ?? -1;
  leaders = parts.map(
    (p) => view?.partitions.find((x) => x.topic === "fo" && x.partition === p)?.leader ?? -1,
  );
  let part = parts.find((p) => (want === "controller") === (leaders[p] === controller));
  if (part === undefined) part = 0;
  const victim = leaders[part]!;
  const kind = victim === controller ? "controller" : "leader";
  const frame = produceFrame({
    topic: "fo",
    partition: part,
    records: 10,
    size: 100,
    acks: -1,
    timeoutMs: 30_000,
  });
  const conn = await ProduceConn.open("127.0.0.1", cluster.kafkaPort(victim));
  for (let i = 0; i < 20; i++) {
    const code = await conn.send(frame);
    if (code !== 0) throw new Error(`steady-state produce failed with error ${code}`);
  }
  let writing = true;
  const background = (async () => {
    while (writing) await conn.send(frame);
  })().catch(() => {});
  await Bun.sleep(100 + Math.random() * 200);
  const t0 = performance.now();
  const killed = cluster.kill(victim);
  await background;
  writing = false;
  conn.close();
  await killed;
  for (;;) {
    const survivors = NODE_IDS.filter((id) => id !== victim);
    let next = -1;
    for (const id of survivors) {
      const v = await cluster.view(id);
      const l = v?.partitions.find((x) => x.topic === "fo" && x.partition === part)?.leader ?? -1;
      if (l > 0 && l !== victim) next = l;
    }
    if (next > 0) {
      try {
        const c2 = await ProduceConn.open("127.0.0.1", cluster.kafkaPort(next));
        try {
          if ((await c2.send(frame)) === 0) {
            const elapsed = performance.now() - t0;
            cluster.start(victim);
            return [elapsed, kind];
          }
        } finally {
          c2.close();
        }
      } catch {
        // not there yet
      }
    }
    await Bun.sleep(10);
  }
}

async function failover(): Promise<void> {
  await cluster.createTopic("fo", {
    partitions: 3,
    replicationFactor: 3,
    configs: { "min.insync.replicas": "2" },
  });
  const all: number[] = [];
  const byKind = new Map<string, number[]>();
  for (let i = 0; i < CYCLES; i++) {
    const [t, kind] = await failoverCycle(i % 2 === 0 ? "leader" : "controller");
    all.push(t);
    byKind.set(kind, [...(byKind.get(kind) ?? []), t]);
    console.log(
      `  cycle ${i + 1}: killed a ${kind === "controller" ? "controller + " : ""}leader, writes accepted after ${Math.round(t)} ms`,
    );
  }
  const row = (name: string, xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b);
    return `| ${name} | ${s.length} | ${Math.round(percentile(s, 0.5))} | ${Math.round(percentile(s, 0.99))} | ${Math.round(s.at(-1)!)} |`;
  };
  console.log("\n| killed | cycles | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|");
  for (const [k, xs] of byKind)
    console.log(row(k === "controller" ? "controller + leader" : "leader only", xs));
  console.log(row("all", all));
  for (const p of [0, 1, 2]) await cluster.settled("fo", p, 3);
}

console.log(
  `Replication benchmark · ${new Date().toISOString().slice(0, 16)}Z · ${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ""} · Bun ${Bun.version} · ${useBinary ? args.binary : `bun ${path.relative(repo, mainTs)}`} · ${SECONDS} s per measurement, ${INFLIGHT} requests in flight${args.pin ? ` · pinned ${args.pin}` : ""}`,
);
try {
  await cluster.launch();
  if (!args["skip-throughput"]) await throughput();
  if (!args["skip-failover"]) await failover();
} finally {
  await cluster.close();
}
