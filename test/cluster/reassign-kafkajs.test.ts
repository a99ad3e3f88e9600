/**
 * kafkajs admin (alterPartitionReassignments / listPartitionReassignments,
 * Kafka API keys 45/46) against three `eddy` processes: an RF=3 partition
 * moves to two replicas, kafkajs watches it finish, the removed node stops
 * being a replica and the records stay readable; an invalid target comes
 * back as INVALID_REPLICA_ASSIGNMENT; a move to a killed node stays in
 * progress and kafkajs lists it. (kafkajs cannot cancel: its admin refuses
 * null replicas; test/kafka/reassignments.test.ts covers cancels.)
 */
import { describe, expect, it } from "bun:test";
import { Kafka, logLevel } from "kafkajs";
import { waitFor } from "./cluster-harness.ts";
import { useProcessCluster } from "./process-cluster.ts";

const cluster = useProcessCluster({
  tmpPrefix: "eddy-reassign-kafkajs-",
  kafka: true,
  requestTimeoutMs: 5_000,
});

interface TopicView {
  partitions: Array<{ leader: number; replicas: number[]; isr: number[]; highWatermark: number }>;
}

describe("partition reassignment with kafkajs", () => {
  it("moves an RF=3 partition to two nodes and reports invalid targets", async () => {
    await cluster.launch();
    await cluster.createTopic(1);
    await cluster.settledLeader([1, 2, 3], 3);
    const values = Array.from({ length: 10 }, (_, i) => `r${i}`);
    await waitFor("acks=all writes", async () => (await cluster.produce(1, values)) === 200);

    const kafka = new Kafka({
      clientId: "reassign-kafkajs-test",
      brokers: [1, 2, 3].map((id) => `127.0.0.1:${cluster.ports.get(id)!.kafka}`),
      logLevel: logLevel.NOTHING,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 300 },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const bad = await admin
        .alterPartitionReassignments({
          topics: [{ topic: "p", partitionAssignment: [{ partition: 0, replicas: [7] }] }],
        })
        .catch((e: unknown) => e);
      expect((bad as { errors?: Array<{ type?: string }> }).errors?.map((e) => e.type)).toEqual([
        "INVALID_REPLICA_ASSIGNMENT",
      ]);

      const leader = (await cluster.describe(1)).partitions[0]!.leader;
      // Drop the leader: leadership moves to a target replica once the move completes.
      const target = [1, 2, 3].filter((id) => id !== leader);
      await admin.alterPartitionReassignments({
        topics: [{ topic: "p", partitionAssignment: [{ partition: 0, replicas: target }] }],
      });
      const viewOf = async (id: number) =>
        ((await (await cluster.http(id, "/v1/topics/p")).json()) as TopicView).partitions[0]!;
      await waitFor(
        "kafkajs sees the reassignment finish",
        async () => {
          const { topics } = await admin.listPartitionReassignments({});
          if (topics.length > 0) return false;
          for (const id of target) {
            const v = await viewOf(id);
            if (v.replicas.join() !== target.join() || !target.includes(v.leader)) return false;
          }
          return true;
        },
        20_000,
      );
      const newLeader = (await viewOf(target[0]!)).leader;
      await waitFor(
        "the new leader serves every record",
        async () => (await viewOf(newLeader)).highWatermark >= values.length,
      );
      // Kafka Metadata (from whichever node kafkajs asks) shows the new replicas.
      await waitFor("Kafka Metadata shows the new replicas", async () => {
        const meta = await admin.fetchTopicMetadata({ topics: ["p"] });
        return [...meta.topics[0]!.partitions[0]!.replicas].sort().join() === [...target].sort().join();
      });

      // Back to the removed node while it is down: stuck until it returns.
      cluster.procs.get(leader)!.kill(9);
      await cluster.procs.get(leader)!.exited;
      await waitFor("a live controller", async () => {
        const r = await cluster.http(target[0]!, "/v1/cluster").catch(() => null);
        const body = r?.ok ? ((await r.json()) as { controllerId: number | null }) : null;
        return body !== null && body.controllerId !== null && target.includes(body.controllerId);
      });
      const stuck = [target[0]!, leader];
      await admin.alterPartitionReassignments({
        topics: [{ topic: "p", partitionAssignment: [{ partition: 0, replicas: stuck }] }],
      });
      const listed = await admin.listPartitionReassignments({ topics: [{ topic: "p", partitions: [0] }] });
      // kafkajs' decoder gives `name` and `partition` (its .d.ts says `topic` and `partitionIndex`).
      expect(listed.topics as unknown).toEqual([
        {
          name: "p",
          partitions: [
            {
              partition: 0,
              replicas: [...stuck, target[1]!],
              addingReplicas: [leader],
              removingReplicas: [target[1]!],
            },
          ],
        },
      ]);
    } finally {
      await admin.disconnect();
    }
  }, 60_000);
});
