/**
 * Fault tests on three `eddy` processes (src/main.ts under Bun) on loopback:
 * SIGSTOP of a partition leader for longer than replica.lag.time.max.ms, and
 * a node restarted with a wiped data directory.
 */
import { describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { waitFor } from "./cluster-harness.ts";
import { useProcessCluster } from "./process-cluster.ts";

// A SIGSTOPped node never answers: give up on a request after 2 s.
const cluster = useProcessCluster({ tmpPrefix: "eddy-faults-", requestTimeoutMs: 2_000 });

async function startCluster(): Promise<void> {
  await cluster.launch();
  await cluster.createTopic(1, { "min.insync.replicas": 2 });
}

describe("eddy processes under faults", () => {
  it("a SIGSTOPped leader is replaced, then steps down and rejoins the ISR after SIGCONT", async () => {
    await startCluster();
    const leader = await cluster.settledLeader([1, 2, 3], 3);
    await waitFor(
      "acks=all writes on the leader",
      async () => (await cluster.produce(leader, ["a", "b"])) === 200,
    );
    const epochBefore = (await cluster.describe(leader)).partitions[0]!.leaderEpoch;

    const frozen = cluster.procs.get(leader)!;
    frozen.kill("SIGSTOP");
    const others = [1, 2, 3].filter((id) => id !== leader);
    let next = -1;
    await waitFor("a new leader among the others", async () => {
      const p = (await cluster.describe(others[0]!)).partitions[0]!;
      next = p.leader;
      return next !== leader && next > 0 && p.leaderEpoch > epochBefore;
    });
    // acks=all (min.insync.replicas=2) goes on with two of three nodes.
    await waitFor(
      "acks=all writes on the new leader",
      async () => (await cluster.produce(next, ["c"])) === 200,
    );
    expect(await cluster.produce(next, ["d"])).toBe(200);

    frozen.kill("SIGCONT");
    // The old leader learns the new epoch, stops leading, truncates by epoch and catches up.
    await waitFor("the old leader steps down", async () => {
      const d = (await cluster.describe(leader)).partitions[0]!;
      return d.leader === next;
    });
    await waitFor("the old leader rejoins the ISR", async () =>
      (await cluster.describe(next)).partitions[0]!.isr.includes(leader),
    );
    await waitFor("the old leader holds the new leader's log", async () => {
      const [a, b] = await Promise.all([cluster.describe(leader), cluster.describe(next)]);
      return (
        a.partitions[0]!.logEndOffset === 4 &&
        a.partitions[0]!.highWatermark === b.partitions[0]!.highWatermark
      );
    });
    const read = (await (await cluster.http(next, "/v1/topics/p/partitions/0/records?offset=0")).json()) as {
      records: Array<{ value: string }>;
    };
    expect(read.records.map((r) => r.value)).toEqual(["a", "b", "c", "d"]);
  }, 40_000);

  it("a node restarted with a wiped data directory catches up and rejoins the ISR", async () => {
    await startCluster();
    const leader = await cluster.settledLeader([1, 2, 3], 3);
    await waitFor("acks=all writes", async () => (await cluster.produce(leader, ["a", "b", "c"])) === 200);
    const victim = [1, 2, 3].find((id) => id !== leader)!;
    cluster.procs.get(victim)!.kill(9);
    await cluster.procs.get(victim)!.exited;
    cluster.procs.delete(victim);
    fs.rmSync(path.join(cluster.root(), `d${victim}`), { recursive: true, force: true });
    expect(await cluster.produce(leader, ["d"])).toBe(200);

    cluster.start(victim);
    await waitFor(
      "the wiped node rejoins the ISR",
      async () => (await cluster.describe(leader)).partitions[0]!.isr.includes(victim),
      40_000,
    );
    const d = (await cluster.describe(victim)).partitions[0]!;
    expect(d.logEndOffset).toBe(4);
    expect(d.leader).toBe(leader);
    // The HTTP API works on a follower: reads come from its replica, writes are forwarded to the leader.
    const read = await cluster.http(victim, "/v1/topics/p/partitions/0/records?offset=0");
    expect(read.status).toBe(200);
    const body = (await read.json()) as { records: Array<{ value: string }> };
    expect(body.records.map((r) => r.value)).toEqual(["a", "b", "c", "d"]);
    expect(await cluster.produce(victim, ["x"])).toBe(200);
    expect((await cluster.describe(leader)).partitions[0]!.highWatermark).toBe(5);
  }, 60_000);
});
