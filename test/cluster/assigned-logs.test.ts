/**
 * Only assigned replicas open partition logs: a node creates no directory for
 * a partition it does not replicate, a witness opens none, non-replicas refuse
 * reads and writes with NOT_LEADER, and deleting a topic removes its data.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { ErrorCode } from "../../src/broker/index.ts";
import { partitionDirName } from "../../src/log/format.ts";
import { codeOf, enc } from "../broker/helpers.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Partition directories present in a node's data directory, as "topic-partition". */
function dirsOn(c: TestCluster, id: number, topic: string, partitions: number): string[] {
  const data = path.join(c.node(id).dir, "data");
  const found: string[] = [];
  for (let p = 0; p < partitions; p++) {
    if (fs.existsSync(path.join(data, partitionDirName(topic, p)))) found.push(`${topic}-${p}`);
  }
  return found;
}

describe("assigned logs", () => {
  it("opens logs only on a partition's replicas and removes them when the topic is deleted", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const created = await c.broker(1).createTopic({ name: "a", partitions: 3, replicationFactor: 1 });
    await waitFor("every node applied the topic", async () => {
      for (const id of [1, 2, 3])
        if ((await c.broker(id).describeTopic("a")).partitions.length !== 3) return false;
      return true;
    });
    // Each partition lives on exactly its one replica.
    for (const id of [1, 2, 3]) {
      const mine = created.partitions.filter((p) => p.replicas.includes(id)).map((p) => `a-${p.partition}`);
      expect(dirsOn(c, id, "a", 3)).toEqual(mine);
    }
    // A node without a replica refuses Kafka-style writes (requireLeader); the replica serves them.
    const p0 = created.partitions[0]!;
    const other = [1, 2, 3].find((id) => id !== p0.leader)!;
    await c.leaderOf("a", 0);
    expect(
      await codeOf(
        c.broker(other).produce({
          topic: "a",
          partition: 0,
          acks: -1,
          requireLeader: true,
          records: [{ value: enc("x") }],
        }),
      ),
    ).toBe(ErrorCode.NOT_LEADER);
    const res = await c.broker(p0.leader).produce({
      topic: "a",
      partition: 0,
      acks: -1,
      records: [{ value: enc("x") }],
    });
    expect(res.partitions[0]!.lastOffset).toBe(0);
    expect(dirsOn(c, other, "a", 3)).not.toContain("a-0");

    // Deleting the topic removes its data everywhere.
    await c.broker(2).deleteTopic("a");
    await waitFor("every node removed the topic's data", () =>
      [1, 2, 3].every((id) => dirsOn(c, id, "a", 3).length === 0),
    );
  });

  it("opens no logs on a witness and keeps RF=2 data on the two data nodes", async () => {
    cluster = await TestCluster.start(3, {}, [3]);
    const c = cluster;
    await c.broker(1).createTopic({ name: "w", partitions: 4, replicationFactor: 2 });
    await waitFor("every node applied the topic", async () => {
      for (const id of [1, 2, 3])
        if ((await c.broker(id).describeTopic("w")).partitions.length !== 4) return false;
      return true;
    });
    expect(dirsOn(c, 1, "w", 4)).toHaveLength(4);
    expect(dirsOn(c, 2, "w", 4)).toHaveLength(4);
    expect(dirsOn(c, 3, "w", 4)).toEqual([]);
    expect(fs.readdirSync(path.join(c.node(3).dir, "data")).filter((d) => d.startsWith("w-"))).toEqual([]);
  });

  it("removes stale data of an unassigned partition found on start-up", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const created = await c.broker(1).createTopic({ name: "s", partitions: 1, replicationFactor: 1 });
    const owner = created.partitions[0]!.replicas[0]!;
    const other = [1, 2, 3].find((id) => id !== owner)!;
    await waitFor("the topic reached the other node", async () => {
      return (await c.broker(other).describeTopic("s")).partitions.length === 1;
    });
    await c.shutdown(other);
    // Leftover data (e.g. from an old assignment) sits in the node's data directory.
    const stale = path.join(c.node(other).dir, "data", partitionDirName("s", 0));
    fs.mkdirSync(stale, { recursive: true });
    await c.restart(other);
    await waitFor("the restarted node caught up", () => c.broker(other).clusterStatus()?.ready === true);
    expect(fs.existsSync(stale)).toBe(false);
  });
});
