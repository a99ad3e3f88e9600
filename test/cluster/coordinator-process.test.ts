/**
 * Group coordinator failover on three `eddy` processes (issue 7, item 5): a
 * kafkajs consumer group reads an RF=3 topic and commits after each batch;
 * the node that coordinates the group is killed with kill -9; the consumer
 * finds the new coordinator, joins again and goes on from its committed
 * offset: nothing committed before the kill is read again, nothing is
 * skipped, and the new coordinator holds the committed offsets.
 */
import { describe, expect, it } from "bun:test";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { coordinatorPartition } from "../../src/cluster/coordinator-placement.ts";
import { waitFor } from "./cluster-harness.ts";
import { useProcessCluster } from "./process-cluster.ts";

const cluster = useProcessCluster({
  tmpPrefix: "eddy-coord-procs-",
  kafka: true,
  requestTimeoutMs: 5_000,
  // Appended after [cluster]: a table of its own (the peers' [[cluster.peers]] follow).
  clusterConfig: "\n[groups]\ninitial_rebalance_delay_ms = 100\n",
});

const GROUP = "process-readers";

interface Consumed {
  offset: number;
  value: string;
}

async function groupOffset(via: number): Promise<number | null> {
  const r = await cluster.http(via, `/v1/groups/${GROUP}`);
  if (r.status !== 200) return null;
  const body = (await r.json()) as { partitions: Array<{ committedOffset: number }> };
  return body.partitions[0]?.committedOffset ?? null;
}

async function coordinatorOf(via: number): Promise<number> {
  const r = await cluster.http(via, "/v1/topics/__consumer_offsets");
  if (r.status !== 200) return -1;
  const body = (await r.json()) as { partitions: Array<{ leader: number }> };
  return body.partitions[coordinatorPartition(GROUP)]?.leader ?? -1;
}

describe("group coordinator failover across processes", () => {
  it("a kafkajs consumer goes on from its committed offsets after kill -9 of its coordinator", async () => {
    await cluster.launch();
    await cluster.createTopic(1, { "min.insync.replicas": 2 });
    await cluster.settledLeader([1, 2, 3], 3);
    const first = Array.from({ length: 20 }, (_, i) => `a${i}`);
    await waitFor("acks=all writes", async () => (await cluster.produce(1, first)) === 200);

    const kafka = new Kafka({
      clientId: "coordinator-process-test",
      brokers: [1, 2, 3].map((id) => `127.0.0.1:${cluster.ports.get(id)!.kafka}`),
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 300 },
    });
    const consumer: Consumer = kafka.consumer({
      groupId: GROUP,
      sessionTimeout: 6_000,
      rebalanceTimeout: 5_000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 300 },
    });
    const consumed: Consumed[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: "p", fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          consumed.push({
            offset: Number(message.offset),
            value: JSON.parse(message.value?.toString() ?? "null") as string,
          });
        },
      });
      await waitFor(
        "the first records are consumed and committed",
        async () => {
          return consumed.length >= 20 && (await groupOffset(1)) === 20;
        },
        20_000,
      );
      expect(consumed.map((c) => c.value)).toEqual(first);

      // Kill the group's coordinator (it may lead the topic's partition too).
      const coordinator = await coordinatorOf(1);
      expect([1, 2, 3]).toContain(coordinator);
      const survivors = [1, 2, 3].filter((id) => id !== coordinator);
      const proc = cluster.procs.get(coordinator)!;
      proc.kill(9);
      await proc.exited;
      cluster.procs.delete(coordinator);

      // A survivor takes the group over and holds its committed offset.
      await waitFor(
        "a new coordinator",
        async () => {
          const at = await coordinatorOf(survivors[0]!);
          return at !== coordinator && survivors.includes(at);
        },
        15_000,
      );
      await waitFor(
        "the new coordinator serves the committed offset",
        async () => {
          return (await groupOffset(survivors[0]!)) === 20;
        },
        15_000,
      );

      const leader = await cluster.settledLeader(survivors, 2);
      const second = Array.from({ length: 10 }, (_, i) => `b${i}`);
      await waitFor(
        "acks=all writes after the failover",
        async () => {
          return (await cluster.produce(leader, second)) === 200;
        },
        15_000,
      );
      await waitFor(
        "the consumer goes on and commits everything",
        async () => {
          return (
            new Set(consumed.map((c) => c.offset)).size >= 30 && (await groupOffset(survivors[1]!)) === 30
          );
        },
        20_000,
      );

      // Nothing committed before the kill was read again, nothing was skipped.
      const offsets = consumed.map((c) => c.offset);
      expect(offsets.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      const after = consumed.slice(20);
      expect(after.every((c) => c.offset >= 20)).toBe(true);
      expect([...new Set(after.map((c) => c.offset))].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 10 }, (_, i) => 20 + i),
      );
      const byOffset = new Map(consumed.map((c) => [c.offset, c.value]));
      expect([...byOffset.keys()].sort((a, b) => a - b).map((o) => byOffset.get(o))).toEqual([
        ...first,
        ...second,
      ]);
    } finally {
      await consumer.disconnect().catch(() => {});
    }
  }, 60_000);
});
