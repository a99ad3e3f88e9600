/**
 * Three `eddy` processes (src/main.ts under Bun) on loopback, wired from
 * [cluster] config: a topic with RF=3 created over HTTP on one node is
 * described by all, acks=all writes survive `kill -9` of the partition
 * leader, and the killed node rejoins the ISR after a restart.
 */
import { describe, expect, it } from "bun:test";
import { waitFor } from "./cluster-harness.ts";
import { useProcessCluster } from "./process-cluster.ts";

const cluster = useProcessCluster({ tmpPrefix: "eddy-procs-" });

describe("eddy processes in a cluster", () => {
  it("replicate over the peer listener and survive kill -9 of a partition leader", async () => {
    await cluster.launch();
    await cluster.createTopic(2);
    const leader = await cluster.settledLeader([1, 2, 3], 3);
    await waitFor(
      "acks=all writes on the leader",
      async () => (await cluster.produce(leader, ["a", "b"])) === 200,
    );

    cluster.procs.get(leader)!.kill(9);
    await cluster.procs.get(leader)!.exited;
    cluster.procs.delete(leader);
    const survivor = [1, 2, 3].find((id) => id !== leader)!;
    let next = -1;
    await waitFor("a new leader", async () => {
      const p = (await cluster.describe(survivor)).partitions[0]!;
      next = p.leader;
      return next !== leader && next > 0;
    });
    await waitFor(
      "acks=all writes on the new leader",
      async () => (await cluster.produce(next, ["c"])) === 200,
    );
    const read = (await (await cluster.http(next, "/v1/topics/p/partitions/0/records?offset=0")).json()) as {
      records: Array<{ value: string }>;
    };
    expect(read.records.map((r) => r.value)).toEqual(["a", "b", "c"]);

    cluster.start(leader);
    await waitFor("the killed node rejoins the ISR", async () =>
      (await cluster.describe(next)).partitions[0]!.isr.includes(leader),
    );
    expect((await cluster.describe(leader)).partitions[0]!.logEndOffset).toBe(3);
  }, 60_000);
});
