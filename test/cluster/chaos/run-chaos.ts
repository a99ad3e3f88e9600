/**
 * One chaos run: three eddy processes with every peer link behind a fault
 * proxy, a topic with RF=3 and min.insync.replicas=2, the acks=all workload
 * (workload.ts) throughout, and `cycles` nemesis cycles (nemesis.ts): settle,
 * fault, hold, heal, wait until every partition has a full ISR again and
 * writes are acknowledged again. Then the workload stops, the replicas catch
 * up, a consumer reads every partition from its leader, the nodes stop, each
 * node's replica is read from disk, and the checker (checker.ts) judges.
 *
 * Used by scripts/chaos/run.ts (many cycles) and test/cluster/chaos/chaos.test.ts (a few).
 */
import path from "node:path";
import { createProcessCluster, type ProcessCluster } from "../process-cluster.ts";
import { type CheckReport, check } from "./checker.ts";
import { readReplica } from "./disk-read.ts";
import type { FinalRead, Op } from "./history.ts";
import { KafkaClient } from "./kafka-client.ts";
import { describeOn, type Fault, FAULTS, inject, NODES, seededRandom } from "./nemesis.ts";
import { startWorkload } from "./workload.ts";

export interface ChaosOptions {
  cycles: number;
  /** Faults to cycle through (each round in a shuffled order); default all of FAULTS. */
  faults?: readonly Fault[];
  seed?: number;
  /** Default 6. */
  producers?: number;
  partitions?: number;
  /** How long each fault lasts (default 3000 ms: > election timeout 300 ms and replica lag 1000 ms). */
  faultMs?: number;
  /** Quiet time after writes resumed, before the next fault (default 500 ms). */
  settleMs?: number;
  /** Run this executable instead of `bun src/main.ts`. */
  binary?: string;
  log?: (line: string) => void;
}

export interface CycleRecord {
  cycle: number;
  fault: Fault;
  detail: string;
  /** Acknowledged writes invoked while the fault was on. */
  okDuringFault: number;
  /** From heal until every partition had a full ISR on every node. */
  recoveredMs: number;
  /** Acknowledged writes invoked after the heal (when the next cycle started). */
  okAfterHeal: number;
  /** Set when the cluster did not get back to a full ISR, or to acknowledged writes, in time. */
  stuck?: string;
}

export interface ChaosResult {
  report: CheckReport;
  cycles: CycleRecord[];
  history: readonly Op[];
  durationMs: number;
  topic: string;
}

const TOPIC = "chaos";

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => {});
  const partitions = o.partitions ?? 3;
  const faultMs = o.faultMs ?? 3000;
  const random = seededRandom(o.seed ?? 1);
  const started = performance.now();
  const cluster = createProcessCluster({
    tmpPrefix: "eddy-chaos-",
    requestTimeoutMs: 2_000,
    kafka: true,
    linkProxies: true,
    binary: o.binary,
  });
  try {
    await cluster.launch();
    await waitFor(
      "the chaos topic is created",
      async () => {
        const body = {
          name: TOPIC,
          partitions,
          replicationFactor: 3,
          configs: { "min.insync.replicas": 2 },
        };
        const r = await cluster.http(1, "/v1/topics", body).catch(() => null);
        return r?.status === 201;
      },
      30_000,
    );
    await settled(cluster, partitions, 30_000);
    const workload = startWorkload({
      topic: TOPIC,
      producers: o.producers ?? 6,
      partitions,
      nodes: NODES,
      port: (id) => cluster.ports.get(id)!.kafka,
      requestTimeoutMs: 1_500,
      ackTimeoutMs: 1_000,
    });
    const cycles: CycleRecord[] = [];
    const faults = o.faults ?? FAULTS;
    let round: Fault[] = [];
    for (let n = 1; n <= o.cycles; n++) {
      if (round.length === 0) round = shuffle([...faults], random);
      const fault = round.shift()!;
      const faultStart = performance.now();
      const active = await inject(fault, { cluster, topic: TOPIC, partitions, random });
      log(`cycle ${n}/${o.cycles}: ${active.detail}`);
      await Bun.sleep(faultMs);
      const okDuringFault = workload.okSince(faultStart);
      await active.heal();
      const healedAt = performance.now();
      let stuck: string | undefined;
      try {
        await settled(cluster, partitions, 60_000);
      } catch (err) {
        stuck = `${String(err)}; views: ${await viewsSummary(cluster)}`;
      }
      const recoveredMs = Math.round(performance.now() - healedAt);
      try {
        await waitFor(
          "writes are acknowledged after the heal",
          () => workload.okSince(healedAt) >= partitions,
          30_000,
        );
      } catch (err) {
        stuck ??= String(err);
      }
      await Bun.sleep(o.settleMs ?? 500);
      const okAfterHeal = workload.okSince(healedAt);
      const rec: CycleRecord = {
        cycle: n,
        fault,
        detail: active.detail,
        okDuringFault,
        recoveredMs,
        okAfterHeal,
      };
      if (stuck) rec.stuck = stuck;
      cycles.push(rec);
      log(
        `  healed: ${stuck ? `NOT RECOVERED (${stuck})` : `ISR full after ${recoveredMs} ms`}; ` +
          `ok during fault ${okDuringFault}, after heal ${okAfterHeal}`,
      );
    }
    await workload.stop();
    const reads = await finalReads(cluster, partitions);
    const report = check(workload.history, reads);
    return {
      report,
      cycles,
      history: workload.history,
      durationMs: performance.now() - started,
      topic: TOPIC,
    };
  } finally {
    await cluster.cleanup();
  }
}

/** Every node answers, agrees on each partition's leader, and reports a full ISR. */
async function settled(cluster: ProcessCluster, partitions: number, ms: number): Promise<void> {
  await waitFor(
    "every partition has one leader and a full ISR on every node",
    async () => {
      const views = await Promise.all(NODES.map((id) => describeOn(cluster, id, TOPIC)));
      for (let p = 0; p < partitions; p++) {
        const states = views.map((v) => v?.[p]);
        const leader = states[0]?.leader ?? -1;
        if (leader <= 0 || !states.every((s) => s && s.leader === leader && s.isr.length === NODES.length)) {
          return false;
        }
      }
      return true;
    },
    ms,
  );
}

/**
 * With no more writes: wait until every node holds the leader's whole log and
 * the high watermark covers it, read each partition from its leader as a
 * consumer, then stop the nodes and read each replica from disk.
 */
async function finalReads(cluster: ProcessCluster, partitions: number): Promise<FinalRead[]> {
  await waitFor(
    "the replicas catch up",
    async () => {
      const views = await Promise.all(NODES.map((id) => describeOn(cluster, id, TOPIC)));
      for (let p = 0; p < partitions; p++) {
        const states = views.map((v) => v?.[p]);
        const leader = states[0]?.leader ?? -1;
        const lead = views[NODES.indexOf(leader as (typeof NODES)[number])]?.[p];
        if (!lead || lead.highWatermark !== lead.logEndOffset || lead.isr.length !== NODES.length)
          return false;
        if (!states.every((s) => s && s.leader === lead.leader && s.logEndOffset === lead.logEndOffset)) {
          return false;
        }
      }
      return true;
    },
    60_000,
  );
  const reads: FinalRead[] = [];
  const client = new KafkaClient({
    topic: TOPIC,
    nodes: NODES,
    port: (id) => cluster.ports.get(id)!.kafka,
    requestTimeoutMs: 10_000,
    ackTimeoutMs: 2_000,
  });
  try {
    await client.refreshLeaders();
    for (let p = 0; p < partitions; p++) {
      const leader = client.leaderOf(p);
      if (leader === undefined) throw new Error(`no leader for partition ${p} at the final read`);
      reads.push({ partition: p, node: leader, source: "fetch", records: await client.readAll(leader, p) });
    }
  } finally {
    client.close();
  }
  for (const id of NODES) {
    const proc = cluster.procs.get(id);
    if (!proc) continue;
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
    if (!exited) {
      proc.kill(9);
      await proc.exited;
    }
    cluster.procs.delete(id);
  }
  for (const id of NODES) {
    for (let p = 0; p < partitions; p++) {
      const records = readReplica(path.join(cluster.root(), `d${id}`), TOPIC, p);
      reads.push({ partition: p, node: id, source: "disk", records });
    }
  }
  return reads;
}

/** Each node's view of the partitions (leader/epoch, ISR, LEO/HW), for reports. */
async function viewsSummary(cluster: ProcessCluster): Promise<string> {
  const views = await Promise.all(NODES.map((id) => describeOn(cluster, id, TOPIC)));
  return views
    .map((v, i) => {
      const parts = v?.map(
        (p) =>
          `p${p.partition} L${p.leader}/e${p.leaderEpoch} isr[${p.isr}] ${p.logEndOffset}/${p.highWatermark}`,
      );
      return `node ${NODES[i]}: ${parts ? parts.join(", ") : "no answer"}`;
    })
    .join(" | ");
}

/** Like cluster-harness's waitFor, polling less often (the nodes are busy). */
async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    if (await Promise.resolve(cond()).catch(() => false)) return;
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await Bun.sleep(100);
  }
}

function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
