/**
 * Mirror in cluster mode (issue 7 item 5: mirror progress fails over with its
 * partitions): a 3-node in-process edge cluster, one mirror per node with the
 * same link. Only the leader of a source partition forwards it; when that
 * leader is abandoned mid-drain, the new leader's mirror goes on from the
 * persisted progress (`__mirror_progress`, replicated), and central ends
 * with every record exactly once, in partition order.
 *
 * A leader cut off from the other edge nodes (not from central) keeps
 * running and forwarding what it holds: the new leader's forwarder fences
 * it through the partition's transactional.id, so read_committed readers at
 * central still see every record once. Every replica of a mirrored
 * partition holds the link's retention floor from the replicated progress.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Mirror, type MirrorLinkInput, startMirror } from "../../bridges/mirror/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { TestCluster, waitFor } from "../cluster/cluster-harness.ts";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { values } from "./helpers.ts";

const TOPIC = "cm";
const REMOTE = `gw.${TOPIC}`;

let cluster: TestCluster | undefined;
let central: CentralEddy | undefined;
const mirrors = new Map<number, Mirror>();
/** Nodes cut off by a test: abandoned before their mirrors close (their progress writes wait for peers). */
const isolated = new Set<number>();

function link(bootstrap: string, topic: string, bytesPerSec: number): MirrorLinkInput {
  return {
    name: "up",
    bootstrap_servers: [bootstrap],
    topics: [topic],
    source_id: "gw",
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 1000,
    batch: { max_records: 20, linger_ms: 0 },
    bandwidth_bytes_per_sec: bytesPerSec,
  };
}

/** The last retention floor the link set on each node, per `topic/partition`. */
function watchFloors(c: TestCluster): Map<number, Map<string, number | null>> {
  const floors = new Map<number, Map<string, number | null>>();
  for (const n of c.live()) {
    const seen = new Map<string, number | null>();
    floors.set(n.id, seen);
    const set = n.broker.setRetentionFloor.bind(n.broker);
    n.broker.setRetentionFloor = (topic, partition, owner, offset) => {
      set(topic, partition, owner, offset);
      if (owner === "mirror:up") seen.set(`${topic}/${partition}`, offset);
    };
  }
  return floors;
}

async function expectExactlyOnce(topic: string, partition: number, n: number, prefix: string): Promise<void> {
  const got = await central!.records(topic, partition);
  expect(got.map((r) => header(r, "eddy.mirror.offset"))).toEqual(
    Array.from({ length: n }, (_, i) => String(i)),
  );
  expect(valuesOf(got)).toEqual(Array.from({ length: n }, (_, i) => `${prefix}${i}`));
}

afterEach(async () => {
  for (const id of isolated) await cluster?.abandon(id).catch(() => {});
  isolated.clear();
  for (const m of mirrors.values()) await m.close().catch(() => {});
  mirrors.clear();
  await cluster?.stop();
  await central?.close();
  cluster = central = undefined;
});

describe("mirror on an edge cluster", () => {
  it("forwards from partition leaders only, and fails over with the progress: exactly once, in order", async () => {
    central = await startCentralEddy();
    cluster = await TestCluster.start(3);
    const c = cluster;
    const floors = watchFloors(c);
    await c.broker(1).createTopic({ name: TOPIC, partitions: 2, replicationFactor: 3 });
    const leader0 = await c.leaderOf(TOPIC, 0);
    const leader1 = await c.leaderOf(TOPIC, 1);
    const produce = async (partition: number, n: number, from: number) => {
      const leader = await c.leaderOf(TOPIC, partition);
      await c
        .broker(leader)
        .produce({ topic: TOPIC, partition, acks: -1, records: values(n, from, `p${partition}-`) });
    };
    await produce(0, 300, 0);
    await produce(1, 100, 0);

    for (const n of c.live()) {
      mirrors.set(
        n.id,
        await startMirror({
          broker: n.broker,
          links: [link(central.bootstrap, TOPIC, 40_000)],
          logger: silentLogger,
          clock: systemClock,
        }),
      );
    }
    // Each partition is forwarded by its leader's mirror only.
    for (const [partition, leader] of [
      [0, leader0],
      [1, leader1],
    ] as const) {
      for (const [id, m] of mirrors) {
        const owns = (m.status()[0]?.partitions ?? []).some((p) => p.partition === partition);
        expect(owns).toBe(id === leader);
      }
    }
    // Mid-drain (the bandwidth cap keeps it slow), the leader of partition 0 dies.
    await waitFor(
      "partition 0 partly mirrored",
      async () => (await central!.records(REMOTE, 0)).length >= 60,
    );
    const mirroredBefore = (await central.records(REMOTE, 0)).length;
    expect(mirroredBefore).toBeLessThan(300);
    const dead = mirrors.get(leader0)!;
    mirrors.delete(leader0);
    await c.abandon(leader0);
    await dead.close().catch(() => {});

    const next0 = await c.leaderOf(TOPIC, 0, leader0);
    expect(next0).not.toBe(leader0);
    await produce(0, 50, 300);
    await produce(1, 20, 100);
    await waitFor(
      "everything mirrored by the new leader",
      async () =>
        (await central!.records(REMOTE, 0)).length >= 350 &&
        (await central!.records(REMOTE, 1)).length >= 120,
      30_000,
    );
    await Bun.sleep(300); // nothing more arrives
    await expectExactlyOnce(REMOTE, 0, 350, "p0-");
    await expectExactlyOnce(REMOTE, 1, 120, "p1-");
    // The new leader resumed from the progress the old one saved, not from the start.
    const status = mirrors
      .get(next0)!
      .status()[0]!
      .partitions.find((p) => p.partition === 0)!;
    expect(status.mirroredOffset).toBe(350);
    expect(status.sentRecords).toBeLessThanOrEqual(350 - mirroredBefore + 50);
    // Every live replica holds the link's position as its floor: the leader's from its forwarder, the
    // others' from the replicated progress (none keeps a stale one).
    for (const n of c.live()) {
      await waitFor(`node ${n.id}'s floors`, () => {
        const seen = floors.get(n.id)!;
        return seen.get(`${TOPIC}/0`) === 350 && seen.get(`${TOPIC}/1`) === 120;
      });
    }
  }, 60_000);

  it("leadership moves to another live node: the old leader stops, its floor follows the new leader's progress", async () => {
    const topic = "mv";
    const remote = `gw.${topic}`;
    central = await startCentralEddy();
    cluster = await TestCluster.start(3, { preferredLeaderCheckMs: 200 });
    const c = cluster;
    const floors = watchFloors(c);
    await c.broker(1).createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
    const old = await c.leaderOf(topic, 0);
    await c.broker(old).produce({ topic, partition: 0, acks: -1, records: values(600, 0, "v") });
    for (const n of c.live()) {
      mirrors.set(
        n.id,
        await startMirror({
          broker: n.broker,
          links: [link(central.bootstrap, topic, 40_000)],
          logger: silentLogger,
          clock: systemClock,
        }),
      );
    }
    await waitFor(
      "the backlog partly mirrored",
      async () => (await central!.records(remote, 0)).length >= 60,
    );
    const target = c.live().find((n) => n.id !== old)!.id;
    const rest = c
      .live()
      .filter((n) => n.id !== target)
      .map((n) => n.id);
    // Same replicas, another preferred leader: the controller hands leadership over while both run.
    await c.broker(1).alterPartitionReassignments!([{ topic, partition: 0, replicas: [target, ...rest] }]);
    await waitFor("the new leader leads", async () => (await c.leaderOf(topic, 0, old)) === target);
    await c.broker(target).produce({ topic, partition: 0, acks: -1, records: values(50, 600, "v") });
    await waitFor(
      "everything mirrored",
      async () => (await central!.records(remote, 0)).length >= 650,
      30_000,
    );
    await Bun.sleep(300);
    await expectExactlyOnce(remote, 0, 650, "v");
    // The old leader's forwarder is gone; its replica's floor moved on with the new leader's progress.
    await waitFor(
      "the old leader's forwarder stopped",
      () => mirrors.get(old)!.status()[0]!.partitions.length === 0,
    );
    for (const n of c.live()) {
      await waitFor(`node ${n.id}'s floor`, () => floors.get(n.id)!.get(`${topic}/0`) === 650);
    }
  }, 60_000);

  it("a deposed leader that keeps running and still reaches central is fenced: nothing arrives twice", async () => {
    const topic = "iso";
    const remote = `gw.${topic}`;
    central = await startCentralEddy();
    cluster = await TestCluster.start(3);
    const c = cluster;
    const floors = watchFloors(c);
    await c.broker(1).createTopic({ name: topic, partitions: 1, replicationFactor: 3 });
    const old = await c.leaderOf(topic, 0);
    await c.broker(old).produce({ topic, partition: 0, acks: -1, records: values(1000, 0, "v") });
    for (const n of c.live()) {
      mirrors.set(
        n.id,
        await startMirror({
          broker: n.broker,
          links: [link(central.bootstrap, topic, 40_000)],
          logger: silentLogger,
          clock: systemClock,
        }),
      );
    }
    await waitFor(
      "the backlog partly mirrored",
      async () => (await central!.records(remote, 0)).length >= 60,
    );
    // Cut the leader off from its peers, not from central: its mirror goes on forwarding the backlog
    // it holds (it never hears that it lost leadership) while the new leader takes the partition over.
    isolated.add(old);
    await c.isolate(old);
    const next = await c.leaderOf(topic, 0, old);
    await c.broker(next).produce({ topic, partition: 0, acks: -1, records: values(50, 1000, "v") });
    await waitFor(
      "everything mirrored",
      async () => (await central!.records(remote, 0)).length >= 1050,
      30_000,
    );
    await Bun.sleep(500); // the deposed node's mirror is still running: nothing more may become visible
    await expectExactlyOnce(remote, 0, 1050, "v");
    const third = c.live().find((n) => n.id !== old && n.id !== next)!.id;
    for (const id of [next, third]) {
      await waitFor(`node ${id}'s floor`, () => floors.get(id)!.get(`${topic}/0`) === 1050);
    }
    // The deposed node was fenced mid-backlog, found the new leader's epoch at central and stood down.
    await waitFor("the deposed node's mirror stands down", () =>
      /standing down/.test(mirrors.get(old)!.status()[0]!.partitions[0]!.lastError?.message ?? ""),
    );
    expect(mirrors.get(next)!.status()[0]!.partitions[0]!.mirroredOffset).toBe(1050);
  }, 60_000);
});
