/**
 * AlterPartitionReassignments (key 45) and ListPartitionReassignments (key 46)
 * over raw frames: against a single node (only [this node] is a valid
 * target, nothing to list), and against a Kafka listener on a non-controller
 * node of a 3-node in-process cluster (a stuck reassignment is started,
 * listed, shown by `eddy cluster`, cancelled; per-partition errors; a
 * controller that cannot be reached is REQUEST_TIMED_OUT). Also
 * DescribeProducers' coordinator epoch, and the `eddy cluster` text for
 * reassignments.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, encodeBatch } from "../../src/broker/index.ts";
import { type ClusterView, formatCluster } from "../../src/cli/commands/cluster.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { AlterPartitionReassignmentsRequest } from "../../src/kafka/generated/alter-partition-reassignments-request.ts";
import {
  AlterPartitionReassignments,
  ApiVersions,
  DescribeProducers,
  ListPartitionReassignments,
  Produce,
} from "../../src/kafka/generated/index.ts";
import { startKafkaListener } from "../../src/kafka/server.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { run } from "../cli/run-cli.ts";
import { TestCluster, waitFor } from "../cluster/cluster-harness.ts";
import { createKafkaHarness, RawClient } from "./server-harness.ts";
import { produceBody } from "./server-requests.ts";

const cleanups: Array<() => Promise<void>> = [];
let cluster: TestCluster | null = null;
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
  cluster = null;
});

const NONE = 0;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const REQUEST_TIMED_OUT = 7;
const INVALID_REPLICA_ASSIGNMENT = 39;
const INVALID_REQUEST = 42;
const NO_REASSIGNMENT_IN_PROGRESS = 85;

type Move = [topic: string, partition: number, replicas: number[] | null];

function alterBody(moves: Move[], timeoutMs = 10_000): AlterPartitionReassignmentsRequest {
  const topics = new Map<string, Array<{ partitionIndex: number; replicas: number[] | null }>>();
  for (const [topic, partitionIndex, replicas] of moves) {
    const list = topics.get(topic) ?? [];
    list.push({ partitionIndex, replicas });
    topics.set(topic, list);
  }
  return { timeoutMs, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) };
}

/** Alter; returns "topic-partition" -> error code (and checks the top level is clean). */
async function alter(c: RawClient, moves: Move[], timeoutMs?: number): Promise<Record<string, number>> {
  const res = await c.request(AlterPartitionReassignments, 0, alterBody(moves, timeoutMs));
  expect(res.errorCode).toBe(NONE);
  const out: Record<string, number> = {};
  for (const t of res.responses) {
    for (const p of t.partitions) {
      out[`${t.name}-${p.partitionIndex}`] = p.errorCode;
      if (p.errorCode !== NONE) expect(p.errorMessage).toBeTruthy();
    }
  }
  return out;
}

async function list(c: RawClient, topics: Array<{ name: string; partitionIndexes: number[] }> | null = null) {
  const res = await c.request(ListPartitionReassignments, 0, { timeoutMs: 5_000, topics });
  expect(res.errorCode).toBe(NONE);
  return res.topics;
}

describe("partition reassignment APIs on a single node", () => {
  it("are advertised; only [this node] is a valid target, a cancel finds nothing, the list is empty", async () => {
    const h = await createKafkaHarness();
    cleanups.push(() => h.close());
    const c = await h.connect();
    await h.broker.createTopic({ name: "s", partitions: 2 });
    const versions = await c.request(ApiVersions, 3, {
      clientSoftwareName: "t",
      clientSoftwareVersion: "1",
    });
    for (const key of [45, 46]) {
      expect(versions.apiKeys.find((a) => a.apiKey === key)).toEqual({
        apiKey: key,
        minVersion: 0,
        maxVersion: 0,
      });
    }
    const self = h.broker.nodeId;
    expect(
      await alter(c, [
        ["s", 0, [self]],
        ["s", 1, [self, self + 1]],
        ["s", 7, [self]],
        ["nope", 0, [self]],
      ]),
    ).toEqual({
      "s-0": NONE,
      "s-1": INVALID_REPLICA_ASSIGNMENT,
      "s-7": UNKNOWN_TOPIC_OR_PARTITION,
      "nope-0": UNKNOWN_TOPIC_OR_PARTITION,
    });
    expect(await alter(c, [["s", 0, null]])).toEqual({ "s-0": NO_REASSIGNMENT_IN_PROGRESS });
    expect(await list(c)).toEqual([]);
    expect(await list(c, [{ name: "s", partitionIndexes: [0, 1] }])).toEqual([]);
    expect((await h.broker.describeTopic("s")).partitions[1]!.replicas).toEqual([self]);
  });

  it("DescribeProducers reports the coordinator epoch of the producer's last marker", async () => {
    const h = await createKafkaHarness();
    cleanups.push(() => h.close());
    const c = await h.connect();
    await h.broker.createTopic({ name: "tx", partitions: 1 });
    const txn = await h.broker.initProducerId({ transactionalId: "tx-e", transactionTimeoutMs: 30_000 });
    expect(txn.error).toBeNull();
    await h.broker.addPartitionsToTxn({
      transactionalId: "tx-e",
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      partitions: [{ topic: "tx", partition: 0 }],
    });
    const batch = encodeBatch([{ key: null, value: new TextEncoder().encode("v") }], {
      now: Date.now(),
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      baseSequence: 0,
      transactional: true,
    });
    const produced = await c.request(Produce, 9, { ...produceBody("tx", batch), transactionalId: "tx-e" });
    expect(produced.responses[0]!.partitionResponses[0]!.errorCode).toBe(NONE);
    const epoch = async () => {
      const res = await c.request(DescribeProducers, 0, { topics: [{ name: "tx", partitionIndexes: [0] }] });
      const p = res.topics[0]!.partitions[0]!;
      expect(p.errorCode).toBe(NONE);
      return p.activeProducers.find((a) => a.producerId === txn.producerId)!.coordinatorEpoch;
    };
    expect(await epoch()).toBe(-1); // no marker yet
    const ended = await h.broker.endTxn({
      transactionalId: "tx-e",
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      commit: true,
    });
    expect(ended.error).toBeNull();
    expect(await epoch()).toBe(0); // a single node's transaction coordinator has epoch 0
  });
});

async function kafkaOn(broker: Broker): Promise<RawClient> {
  const listener = await startKafkaListener({
    broker,
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    clock: systemClock,
  });
  const c = await RawClient.connect(listener.port);
  cleanups.push(async () => {
    c.close();
    await listener.close();
  });
  return c;
}

function serveHttp(broker: Broker): string {
  const app = createHttpApp({ broker });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  cleanups.push(() => server.stop(true));
  return `http://127.0.0.1:${server.port}`;
}

describe("partition reassignment APIs on a cluster", () => {
  it("start, list and cancel through a node that is not the controller; errors per partition", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "k", partitions: 2, replicationFactor: 2 });
    const before = (await c.broker(1).describeTopic("k")).partitions[0]!;
    const spare = [1, 2, 3].find((r) => !before.replicas.includes(r))!;
    await waitFor("every node applied the topic", async () => {
      for (const n of c.live()) if ((await n.broker.listTopics()).every((t) => t.name !== "k")) return false;
      return true;
    });
    await c.abandon(spare);
    // Answer on the live node that is not the controller: it must carry the request there.
    let via = -1;
    await waitFor("a controller among the live nodes", () => {
      const controller = c.live()[0]!.broker.clusterStatus()?.controllerId ?? null;
      via = c.live().find((n) => controller !== null && n.id !== controller)?.id ?? -1;
      return via > 0;
    });
    const kafka = await kafkaOn(c.broker(via));
    const url = serveHttp(c.broker(via));

    // Stuck: the added replica is down, so it never joins the ISR.
    const target = [before.replicas[0]!, spare];
    const other = (await c.broker(via).describeTopic("k")).partitions[1]!;
    expect(
      await alter(kafka, [
        ["k", 0, target],
        ["k", 1, [...other.replicas, 9]],
        ["k", 5, target],
        ["nope", 0, target],
      ]),
    ).toEqual({
      "k-0": NONE,
      "k-1": INVALID_REPLICA_ASSIGNMENT,
      "k-5": UNKNOWN_TOPIC_OR_PARTITION,
      "nope-0": UNKNOWN_TOPIC_OR_PARTITION,
    });
    expect(
      await alter(kafka, [
        ["k", 1, []],
        ["k", 1, [spare]],
      ]),
    ).toEqual({ "k-1": INVALID_REQUEST });
    expect(
      await alter(kafka, [
        ["k", 1, [other.replicas[0]!, other.replicas[0]!]],
        ["nope", 3, null],
      ]),
    ).toEqual({ "k-1": INVALID_REPLICA_ASSIGNMENT, "nope-3": UNKNOWN_TOPIC_OR_PARTITION });
    const r1 = await kafka.request(AlterPartitionReassignments, 0, alterBody([["k", 1, []]]));
    expect(r1.responses[0]!.partitions[0]).toMatchObject({
      errorCode: INVALID_REPLICA_ASSIGNMENT,
      errorMessage: expect.stringContaining("at least one target replica"),
    });
    expect(await alter(kafka, [["k", 1, null]])).toEqual({ "k-1": NO_REASSIGNMENT_IN_PROGRESS });

    const removing = before.replicas.filter((r) => !target.includes(r));
    const expected = [
      {
        name: "k",
        partitions: [
          {
            partitionIndex: 0,
            replicas: [...target, ...removing],
            addingReplicas: [spare],
            removingReplicas: removing,
          },
        ],
      },
    ];
    expect(await list(kafka)).toEqual(expected);
    expect(await list(kafka, [{ name: "k", partitionIndexes: [0, 1] }])).toEqual(expected);
    expect(await list(kafka, [{ name: "k", partitionIndexes: [1] }])).toEqual([]);
    expect(await list(kafka, [{ name: "nope", partitionIndexes: [0] }])).toEqual([]);

    // `eddy cluster` shows it in progress.
    const status = await run(["cluster", "--url", url]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("1 reassignment(s) in progress:");
    expect(status.stdout).toMatch(/REPLICAS\s+TARGET\s+ADDING\s+REMOVING/);
    const row = new RegExp(
      `^k\\s+0\\s+${[...target, ...removing].join(",")}\\s+${target.join(",")}\\s+${spare}\\s`,
      "m",
    );
    expect(status.stdout).toMatch(row);
    expect(status.stdout).toContain("(reassigning)");
    const brief = await run(["cluster", "--under-replicated", "--url", url]);
    expect(brief.stdout).toContain("1 reassignment(s) in progress (`eddy cluster` lists them).");

    // Cancel: back to the original replicas, nothing left to list.
    expect(await alter(kafka, [["k", 0, null]])).toEqual({ "k-0": NONE });
    expect(await list(kafka)).toEqual([]);
    expect((await c.broker(via).describeTopic("k")).partitions[0]!.replicas).toEqual(before.replicas);
    expect(await alter(kafka, [["k", 0, null]])).toEqual({ "k-0": NO_REASSIGNMENT_IN_PROGRESS });
    const after = await run(["cluster", "--url", url]);
    expect(after.stdout).not.toContain("reassign");

    // Without a majority there is no controller: the request times out after timeoutMs.
    const third = [1, 2, 3].find((id) => id !== via && id !== spare)!;
    await c.abandon(third);
    const res = await kafka.request(AlterPartitionReassignments, 0, alterBody([["k", 0, target]], 300));
    expect(res.responses[0]!.partitions[0]).toMatchObject({
      errorCode: REQUEST_TIMED_OUT,
      errorMessage: expect.stringContaining("within 300 ms"),
    });
  }, 30_000);
});

describe("eddy cluster text", () => {
  const view: ClusterView = {
    mode: "cluster",
    nodeId: 2,
    controllerId: 1,
    nodes: [1, 2, 3].map((id) => ({ id, kafkaHost: null, kafkaPort: null })),
    partitions: [
      { topic: "a", partition: 0, leader: 1, leaderEpoch: 3, replicas: [1, 3, 2], isr: [1, 2] },
      { topic: "a", partition: 1, leader: 2, leaderEpoch: 1, replicas: [2, 3], isr: [2, 3] },
    ],
    underReplicated: [
      { topic: "a", partition: 0, leader: 1, leaderEpoch: 3, replicas: [1, 3, 2], isr: [1, 2] },
    ],
    offline: [],
    reassignments: [
      {
        topic: "a",
        partition: 0,
        originalReplicas: [1, 2],
        targetReplicas: [1, 3],
        replicas: [1, 3, 2],
        addingReplicas: [3],
        removingReplicas: [2],
        leader: 1,
        leaderEpoch: 3,
        isr: [1, 2],
      },
    ],
  };

  it("lists reassignments in progress and marks their partitions", () => {
    const text = formatCluster(view);
    expect(text).toContain("1 reassignment(s) in progress:");
    const rows = text.split("\n");
    const row = rows.find((l) => /^a\s+0\s+1,3,2\s+1,3\s+3\s+2\s+1,2\s+1$/.test(l));
    expect(row).toBeDefined();
    expect(rows.some((l) => l.startsWith("a") && l.endsWith("under-replicated (reassigning)"))).toBe(true);
    expect(rows.some((l) => /^a\s+1\s/.test(l) && l.endsWith(" ok"))).toBe(true);
    expect(formatCluster(view, true)).toContain("1 reassignment(s) in progress (`eddy cluster` lists them).");
    const none = formatCluster({ ...view, reassignments: undefined });
    expect(none).not.toContain("reassign");
  });
});
