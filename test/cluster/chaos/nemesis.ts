/**
 * The chaos nemesis: one fault at a time on a three-node process cluster
 * (process-cluster.ts, with peer link proxies), then heal.
 *
 * - kill-leader:       kill -9 a partition leader, restart it at heal;
 * - pause-leader:      SIGSTOP a partition leader (longer than the election timeout
 *                      and replica.lag.time.max.ms), SIGCONT at heal;
 * - isolate-node:      cut every link of a random node (black hole);
 * - partition-leader:  a minority partition: a partition leader alone on one side,
 *                      the two others on the other (connections reset and refused);
 * - asymmetric:        cut only a partition leader's outbound links (its requests —
 *                      Raft messages, fetches — do not arrive; the others' requests
 *                      to it do) or only its inbound links (the reverse);
 * - wipe-node:         kill -9 a node, delete its data directory, restart it at heal.
 */
import fs from "node:fs";
import path from "node:path";
import { CutMode } from "../../helpers/peer-links.ts";
import type { ProcessCluster } from "../process-cluster.ts";

export const FAULTS = [
  "kill-leader",
  "pause-leader",
  "isolate-node",
  "partition-leader",
  "asymmetric",
  "wipe-node",
] as const;
export type Fault = (typeof FAULTS)[number];

export interface PartitionState {
  partition: number;
  leader: number;
  leaderEpoch: number;
  isr: number[];
  logEndOffset: number;
  highWatermark: number;
}

export interface ActiveFault {
  fault: Fault;
  /** What was done, e.g. "kill -9 node 2 (leader of partition 1)". */
  detail: string;
  heal(): Promise<void>;
}

export const NODES = [1, 2, 3] as const;

/** Random numbers from a seed (mulberry32), so a run can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The partitions of `topic` as node `id` describes them (its local LEO), or null if it does not answer. */
export async function describeOn(
  cluster: ProcessCluster,
  id: number,
  topic: string,
): Promise<PartitionState[] | null> {
  if (!cluster.procs.has(id)) return null;
  try {
    const r = await cluster.http(id, `/v1/topics/${topic}`);
    if (r.status !== 200) return null;
    const { partitions } = (await r.json()) as { partitions: PartitionState[] };
    return partitions.sort((a, b) => a.partition - b.partition);
  } catch {
    return null;
  }
}

/** The leader of `partition` by the highest leader epoch any node reports; -1 if none. */
export async function currentLeader(
  cluster: ProcessCluster,
  topic: string,
  partition: number,
): Promise<number> {
  const views = await Promise.all(NODES.map((id) => describeOn(cluster, id, topic)));
  let best: PartitionState | undefined;
  for (const v of views) {
    const p = v?.[partition];
    if (p && p.leader > 0 && (!best || p.leaderEpoch > best.leaderEpoch)) best = p;
  }
  return best?.leader ?? -1;
}

async function killNode(cluster: ProcessCluster, id: number): Promise<void> {
  const proc = cluster.procs.get(id);
  if (!proc) return;
  proc.kill(9);
  await proc.exited;
  cluster.procs.delete(id);
}

export interface InjectOptions {
  cluster: ProcessCluster;
  topic: string;
  partitions: number;
  random: () => number;
}

/** Apply `fault` now; the returned heal() undoes it. */
export async function inject(fault: Fault, o: InjectOptions): Promise<ActiveFault> {
  const { cluster, random } = o;
  const links = cluster.links;
  if (!links) throw new Error("the nemesis needs a cluster with linkProxies: true");
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const partition = Math.floor(random() * o.partitions);
  let leader = await currentLeader(cluster, o.topic, partition);
  if (leader < 0) leader = pick(NODES);
  const leaderOf = `node ${leader} (leader of partition ${partition})`;
  const others = NODES.filter((id) => id !== leader);

  switch (fault) {
    case "kill-leader": {
      await killNode(cluster, leader);
      return { fault, detail: `kill -9 ${leaderOf}`, heal: async () => cluster.start(leader) };
    }
    case "pause-leader": {
      const proc = cluster.procs.get(leader)!;
      proc.kill("SIGSTOP");
      return {
        fault,
        detail: `SIGSTOP ${leaderOf}`,
        heal: async () => {
          proc.kill("SIGCONT");
        },
      };
    }
    case "isolate-node": {
      const victim = pick(NODES);
      links.isolate(victim, CutMode.BLACKHOLE);
      return { fault, detail: `isolate node ${victim} (black hole)`, heal: async () => links.heal() };
    }
    case "partition-leader": {
      const mode = pick([CutMode.RESET, CutMode.BLACKHOLE]);
      links.partition([[leader], others], mode);
      return {
        fault,
        detail: `minority partition [${leader}] | [${others.join(",")}] (${mode}), ${leaderOf}`,
        heal: async () => links.heal(),
      };
    }
    case "asymmetric": {
      const outbound = random() < 0.5;
      for (const other of others) {
        if (outbound) links.cut(leader, other, CutMode.BLACKHOLE);
        else links.cut(other, leader, CutMode.BLACKHOLE);
      }
      return {
        fault,
        detail: `asymmetric cut ${links.cuts().join(" ")} (${outbound ? "outbound" : "inbound"} of ${leaderOf})`,
        heal: async () => links.heal(),
      };
    }
    case "wipe-node": {
      const victim = pick(NODES);
      await killNode(cluster, victim);
      fs.rmSync(path.join(cluster.root(), `d${victim}`), { recursive: true, force: true });
      return {
        fault,
        detail: `kill -9 node ${victim}, wipe its data directory`,
        heal: async () => cluster.start(victim),
      };
    }
  }
}
