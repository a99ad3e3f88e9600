/**
 * Partition reassignment (KIP-455 semantics) and the agreed cluster id on
 * in-process clusters: a partition moves to new replicas under acks=all load
 * without losing an acknowledged record (the removed leader hands over and
 * deletes its log), a stuck reassignment is cancelled, a new controller
 * finishes one its predecessor started, and every node reports one cluster id.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { type Broker, ErrorCode, isEddyError } from "../../src/broker/index.ts";
import {
  AGREED_SETTING,
  adoptClusterId,
  checkPeerIdentities,
  NODE_CLUSTER_ID_SETTING,
} from "../../src/cluster/cluster-id.ts";
import { encodeJson } from "../../src/cluster/peer-protocol.ts";
import { planCancel, planComplete, planStart } from "../../src/cluster/reassign.ts";
import { planAddNode, planRemoveNode } from "../../src/cli/commands/reassign-plan.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { dec, enc } from "../broker/helpers.ts";
import { run } from "../cli/run-cli.ts";
import { createMemoryBroker } from "../helpers/memory-broker.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await cluster?.stop();
  cluster = null;
});

function serve(c: TestCluster, id: number): string {
  const app = createHttpApp({ broker: c.broker(id) });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  cleanups.push(() => server.stop(true));
  return `http://127.0.0.1:${server.port}`;
}

async function assignment(b: Broker, topic: string) {
  return (await b.describeTopic(topic)).partitions[0]!;
}

/** acks=all writes of distinct values to partition 0 until stopped; returns the acknowledged ones. */
function produceLoad(c: TestCluster, topic: string): { stop: () => Promise<string[]> } {
  let done = false;
  const acked: string[] = [];
  const loop = (async () => {
    let i = 0;
    while (!done) {
      const values = Array.from({ length: 5 }, () => `v${i++}`);
      try {
        const viewer = c.live()[0]!.broker;
        const leader = (await assignment(viewer, topic)).leader;
        const node = c.nodes.get(leader);
        if (!node?.alive) throw new Error("no leader yet");
        await node.broker.produce({
          topic,
          partition: 0,
          acks: -1,
          timeoutMs: 2_000,
          records: values.map((v) => ({ value: enc(v) })),
        });
        acked.push(...values);
      } catch {
        await Bun.sleep(10);
      }
      await Bun.sleep(2);
    }
  })();
  return {
    stop: async () => {
      done = true;
      await loop;
      return acked;
    },
  };
}

async function readAll(b: Broker, topic: string): Promise<string[]> {
  const out: string[] = [];
  let offset = 0;
  for (;;) {
    const r = await b.readRecords({ topic, partition: 0, offset, maxRecords: 10_000 });
    for (const rec of r.records) out.push(dec(rec.value)!);
    if (r.records.length === 0 || r.nextOffset >= r.highWatermark) return out;
    offset = r.nextOffset;
  }
}

function partitionDir(c: TestCluster, id: number, topic: string): string {
  return path.join(c.node(id).dir, "data", `${topic}-0`);
}

describe("partition reassignment", () => {
  it("moves a partition off its leader under acks=all load without losing a record", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "m", partitions: 1, replicationFactor: 2 });
    const before = await assignment(c.broker(1), "m");
    const old = await c.leaderOf("m", 0);
    const kept = before.replicas.find((r) => r !== old)!;
    const added = [1, 2, 3].find((r) => !before.replicas.includes(r))!;
    expect(fs.existsSync(partitionDir(c, old, "m"))).toBe(true);
    expect(fs.existsSync(partitionDir(c, added, "m"))).toBe(false);

    const load = produceLoad(c, "m");
    await waitFor("some records written", async () => (await readAll(c.broker(old), "m")).length >= 50);
    // Any node takes the request (forwarded to the controller).
    await c.broker(kept).alterPartitionReassignments!([
      { topic: "m", partition: 0, replicas: [kept, added] },
    ]);
    await waitFor("the reassignment completes", async () => {
      const a = await assignment(c.broker(added), "m");
      return (
        c.broker(added).listPartitionReassignments!().length === 0 && a.replicas.join() === `${kept},${added}`
      );
    });
    await waitFor("more records written to the new leader", async () => {
      const leader = (await assignment(c.broker(kept), "m")).leader;
      return leader !== old && c.broker(leader).partitionState("m", 0).highWatermark > 100;
    });
    const acked = await load.stop();

    const after = await assignment(c.broker(kept), "m");
    expect(after.replicas).toEqual([kept, added]);
    expect([kept, added]).toContain(after.leader);
    expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    const leader = await c.leaderOf("m", 0);
    // Produces still in flight when the load stopped settle first: everything in the log is committed.
    await waitFor("the leader's log is all committed", () => {
      const s = c.broker(leader).partitionState("m", 0);
      return s.highWatermark === s.logEndOffset;
    });
    const committed = await readAll(c.broker(leader), "m");
    const set = new Set(committed);
    expect(acked.length).toBeGreaterThan(100);
    expect(acked.filter((v) => !set.has(v))).toEqual([]);
    expect(new Set(committed).size).toBe(committed.length);

    // The removed replica closed and deleted its log.
    await waitFor("the old replica deleted its log", () => !fs.existsSync(partitionDir(c, old, "m")));
    // The new replica holds the whole log: same records, same order.
    const end = c.broker(leader).partitionState("m", 0).logEndOffset;
    await waitFor(
      "the new replica caught up",
      () => c.broker(added).partitionState("m", 0).logEndOffset === end,
    );
    await c.shutdown(added);
    const copied = (await c.logRecords(added, "m", 0)).map((r) => dec(r.value));
    expect(copied).toEqual(committed);
  }, 30_000);

  it("shows a reassignment in progress and cancels it", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "k", partitions: 1, replicationFactor: 2 });
    const before = await assignment(c.broker(1), "k");
    const spare = [1, 2, 3].find((r) => !before.replicas.includes(r))!;
    const viewer = before.replicas[0]!;
    await c.abandon(spare);
    const target = [before.replicas[0]!, spare];
    await c.broker(viewer).alterPartitionReassignments!([{ topic: "k", partition: 0, replicas: target }]);
    const list = c.broker(viewer).listPartitionReassignments!();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      topic: "k",
      partition: 0,
      originalReplicas: before.replicas,
      targetReplicas: target,
      addingReplicas: [spare],
      removingReplicas: [before.replicas[1]!],
    });
    expect(list[0]!.replicas).toEqual([...target, before.replicas[1]!]);
    expect(c.broker(viewer).clusterStatus()?.reassignments).toHaveLength(1);
    // Stuck: the added node is down, so it never joins the ISR.
    await Bun.sleep(300);
    expect(c.broker(viewer).listPartitionReassignments!()).toHaveLength(1);

    await c.broker(viewer).alterPartitionReassignments!([{ topic: "k", partition: 0, replicas: null }]);
    expect(c.broker(viewer).listPartitionReassignments!()).toEqual([]);
    const after = await assignment(c.broker(viewer), "k");
    expect(after.replicas).toEqual(before.replicas);
    expect(after.isr.every((r) => before.replicas.includes(r))).toBe(true);
    // Nothing left to cancel; bad targets are refused before anything is proposed.
    const errors = await Promise.all([
      c.broker(viewer).alterPartitionReassignments!([{ topic: "k", partition: 0, replicas: null }]).catch(
        (e) => e,
      ),
      c.broker(viewer).alterPartitionReassignments!([{ topic: "k", partition: 0, replicas: [1, 9] }]).catch(
        (e) => e,
      ),
      c.broker(viewer).alterPartitionReassignments!([{ topic: "k", partition: 0, replicas: [1, 1] }]).catch(
        (e) => e,
      ),
      c.broker(viewer).alterPartitionReassignments!([{ topic: "k", partition: 5, replicas: [1] }]).catch(
        (e) => e,
      ),
      c.broker(viewer).alterPartitionReassignments!([{ topic: "nope", partition: 0, replicas: [1] }]).catch(
        (e) => e,
      ),
    ]);
    expect(errors.map((e) => (isEddyError(e) ? e.code : String(e)))).toEqual([
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.PARTITION_NOT_FOUND,
      ErrorCode.TOPIC_NOT_FOUND,
    ]);
  }, 30_000);

  it("a new controller completes a reassignment its predecessor started", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "f", partitions: 1, replicationFactor: 3 });
    const controller = c.broker(1).clusterStatus()!.controllerId!;
    const [w, z] = [1, 2, 3].filter((id) => id !== controller) as [number, number];
    const leader = await c.leaderOf("f", 0);
    await c.broker(leader).produce({ topic: "f", partition: 0, acks: -1, records: [{ value: enc("a") }] });
    await c.abandon(z);
    await waitFor(
      "the ISR drops the stopped node",
      async () => !(await assignment(c.broker(w), "f")).isr.includes(z),
    );
    await c.broker(w).alterPartitionReassignments!([{ topic: "f", partition: 0, replicas: [w, z] }]);
    expect(c.broker(w).listPartitionReassignments!()).toHaveLength(1);

    // The controller dies mid-reassignment; the stopped node returns, and the new controller finishes the job.
    await c.abandon(controller);
    await c.restart(z);
    await waitFor(
      "the new controller completes the reassignment",
      async () => {
        const a = await assignment(c.broker(w), "f");
        return c.broker(w).listPartitionReassignments!().length === 0 && a.replicas.join() === `${w},${z}`;
      },
      20_000,
    );
    const newController = c.broker(w).clusterStatus()!.controllerId;
    expect([w, z]).toContain(newController!);
    await waitFor(
      "the returned node applied it",
      async () => (await assignment(c.broker(z), "f")).replicas.join() === `${w},${z}`,
    );
    const a = await assignment(c.broker(z), "f");
    expect([...a.isr].sort()).toEqual([w, z].sort());
    const now = await c.leaderOf("f", 0);
    expect(await readAll(c.broker(now), "f")).toEqual(["a"]);
    // The old controller, removed while it was down, deletes its log once it learns that.
    expect(fs.existsSync(partitionDir(c, controller, "f"))).toBe(true);
    await c.restart(controller);
    await waitFor("the removed node deleted its log", () => !fs.existsSync(partitionDir(c, controller, "f")));
  }, 30_000);

  it("agrees on one cluster id on every node", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await waitFor("every node adopted the cluster id", () =>
      [1, 2, 3].every((id) => typeof c.broker(id).clusterStatus()?.clusterId === "string"),
    );
    const ids = [1, 2, 3].map((id) => c.broker(id).clusterId);
    expect(new Set(ids).size).toBe(1);
    expect(c.broker(2).clusterStatus()?.clusterId).toBe(ids[0]!);
    // It survives a restart, and the restarted node still agrees.
    const victim = [1, 2, 3].find((id) => id !== c.broker(1).clusterStatus()?.controllerId)!;
    await c.restart(victim);
    await waitFor("the restarted node is ready", () => c.broker(victim).clusterStatus()?.ready === true);
    expect(c.broker(victim).clusterId).toBe(ids[0]!);
  }, 30_000);
});

describe("cluster id agreement (units)", () => {
  it("adopts the log's id once, then refuses another", () => {
    const store = openMetadataStore({ path: ":memory:" });
    try {
      store.setSetting(NODE_CLUSTER_ID_SETTING, "local-random");
      expect(adoptClusterId(store, 3, "agreed-A")).toBeNull();
      expect(store.getSetting(NODE_CLUSTER_ID_SETTING)).toBe("agreed-A");
      expect(store.getSetting(AGREED_SETTING)).toBe("true");
      expect(adoptClusterId(store, 3, "agreed-A")).toBeNull();
      const refusal = adoptClusterId(store, 3, "other-B");
      expect(refusal?.code).toBe(ErrorCode.INVALID_CONFIG);
      expect(refusal?.message).toContain("node 3 belongs to cluster agreed-A");
      expect(refusal?.message).toContain("wipe this node's data directory");
      expect(store.getSetting(NODE_CLUSTER_ID_SETTING)).toBe("agreed-A");
    } finally {
      store.close();
    }
  });

  it("refuses to start among peers of another cluster; ignores silent peers", async () => {
    const store = openMetadataStore({ path: ":memory:" });
    try {
      const rpc = (answers: Record<number, string | null>) => async (peer: number) => {
        const id = answers[peer];
        if (id === undefined) throw new Error("unreachable");
        return encodeJson({ nodeId: peer, clusterId: id });
      };
      const check = (answers: Record<number, string | null>) =>
        checkPeerIdentities({ nodeId: 1, store, peers: [2, 3], rpc: rpc(answers), timeoutMs: 100 });
      // Not agreed yet: nothing to check.
      await check({ 2: "B" });
      adoptClusterId(store, 1, "A");
      await check({ 2: "A", 3: null });
      await check({});
      const err = await check({ 2: "A", 3: "B" }).catch((e) => e);
      expect(isEddyError(err) && err.code).toBe(ErrorCode.INVALID_CONFIG);
      expect((err as Error).message).toContain("peer node 3 is in cluster B");
    } finally {
      store.close();
    }
  });
});

describe("reassignment planning (units)", () => {
  const a = { topic: "t", partition: 0, leader: 1, leaderEpoch: 4, replicas: [1, 2], isr: [1, 2] };
  const alive = new Set([1, 2, 3]);

  it("adds first, removes (and moves the leader) once the target is in sync", () => {
    expect(planStart(a, undefined, [1, 2], alive)).toBeNull();
    const start = planStart(a, undefined, [2, 3], alive);
    expect(start).toMatchObject({
      prevEpoch: 4,
      replicas: [2, 3, 1],
      isr: [1, 2],
      leader: 1,
      reassignment: { original: [1, 2], target: [2, 3] },
    });
    const r = { topic: "t", partition: 0, original: [1, 2], target: [2, 3] };
    const during = { ...a, leaderEpoch: 5, replicas: [2, 3, 1] };
    expect(planComplete(during, r, alive)).toBeNull();
    const done = planComplete({ ...during, isr: [1, 2, 3] }, r, alive);
    expect(done).toMatchObject({
      prevEpoch: 5,
      replicas: [2, 3],
      isr: [2, 3],
      leader: 2,
      reassignment: null,
    });
    // A new target keeps the original replicas and drops adding ones it no longer wants.
    const replaced = planStart(during, r, [1, 2], alive);
    expect(replaced).toMatchObject({ replicas: [1, 2], reassignment: { original: [1, 2], target: [1, 2] } });
    expect(planCancel({ ...during, leader: 3, isr: [3, 2] }, r, alive)).toMatchObject({
      replicas: [1, 2],
      isr: [2],
      leader: 2,
      reassignment: null,
    });
  });

  it("refuses a cancel when no original replica is in sync", () => {
    const r = { topic: "t", partition: 0, original: [1, 2], target: [3] };
    expect(() => planCancel({ ...a, replicas: [3, 1, 2], leader: 3, isr: [3] }, r, alive)).toThrow(
      "none of its original replicas",
    );
  });
});

describe("eddy reassign", () => {
  it("plans, executes, verifies and cancels over the HTTP API", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "c", partitions: 3, replicationFactor: 2 });
    const controller = c.broker(1).clusterStatus()!.controllerId!;
    const node = [1, 2, 3].find((id) => id !== controller)!;
    const keeper = [1, 2, 3].find((id) => id !== controller && id !== node)!;
    const url = serve(c, keeper);
    await waitFor(
      "the keeper applied the topic",
      async () => (await c.broker(keeper).listTopics()).length === 1,
    );
    const replicasOn = async (id: number) =>
      (await c.broker(keeper).describeTopic("c")).partitions.filter((p) => p.replicas.includes(id)).length;
    expect(await replicasOn(node)).toBeGreaterThan(0);

    const plan = await run(["reassign", "--remove-node", String(node), "--url", url]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("partition(s) to move");
    expect(plan.stdout).toContain("Run the same command with --execute");
    expect(await replicasOn(node)).toBeGreaterThan(0);

    const exec = await run([
      "reassign",
      "--remove-node",
      String(node),
      "--execute",
      "--poll-ms",
      "50",
      "--url",
      url,
    ]);
    expect(exec.stderr).toContain("Started the reassignment");
    expect(exec.stdout).toContain("Reassignment complete");
    expect(exec.code).toBe(0);
    expect(await replicasOn(node)).toBe(0);
    const none = await run(["reassign", "--verify", "--url", url]);
    expect(none.stdout).toContain("No reassignments in progress.");

    // The emptied node gets its share back: 6 replicas on 3 nodes → 2.
    const addPlan = await run(["reassign", "--add-node", String(node), "--json", "--url", url]);
    expect(addPlan.code).toBe(0);
    const file = JSON.parse(addPlan.stdout) as { partitions: Array<{ replicas: number[] }> };
    expect(file.partitions).toHaveLength(2);
    expect(file.partitions.every((p) => p.replicas.includes(node))).toBe(true);
    const add = await run([
      "reassign",
      "--add-node",
      String(node),
      "--execute",
      "--poll-ms",
      "50",
      "--url",
      url,
    ]);
    expect(add.code).toBe(0);
    expect(await replicasOn(node)).toBe(2);

    // A move to a stopped node stays in progress until cancelled.
    await c.abandon(node);
    const p0 = (await c.broker(keeper).describeTopic("c")).partitions.find(
      (p) => !p.replicas.includes(node),
    )!;
    const target = `${p0.replicas[0]},${node}`;
    const started = await run([
      "reassign",
      "--topic",
      "c",
      "--partition",
      String(p0.partition),
      "--replicas",
      target,
      "--execute",
      "--no-wait",
      "--url",
      url,
    ]);
    expect(started.code).toBe(0);
    const status = await run(["reassign", "status", "--url", url]);
    expect(status.stdout).toContain("1 reassignment(s) in progress");
    expect(status.stdout).toContain(target);
    const cancelled = await run(["reassign", "--cancel", "--topic", "c", "--url", url]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`Cancelled 1 reassignment(s): c-${p0.partition}`);
    expect((await c.broker(keeper).describeTopic("c")).partitions[p0.partition]!.replicas).toEqual(
      p0.replicas,
    );
    const again = await run(["reassign", "--cancel", "--url", url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("nothing to cancel");
  }, 30_000);

  it("refuses bad combinations and impossible plans", async () => {
    const none = await run(["reassign", "--url", "http://127.0.0.1:1"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("give one of --remove-node");
    const two = await run(["reassign", "--verify", "--cancel", "--url", "http://127.0.0.1:1"]);
    expect(two.code).toBe(2);
    const nodes = [1, 2].map((id) => ({ id, witness: false })).concat({ id: 3, witness: true });
    const parts = [{ topic: "t", partition: 0, replicas: [1, 2] }];
    expect(() => planRemoveNode(nodes, parts, 2)).toThrow("every other data node already holds a replica");
    expect(() => planRemoveNode(nodes, parts, 3)).toThrow("node 3 is a witness");
    expect(() => planAddNode(nodes, parts, 7)).toThrow("not a data node");
  });
});

describe("/v1/cluster/reassignments on a single node", () => {
  it("lists none and refuses to reassign", async () => {
    const broker = await createMemoryBroker();
    try {
      const app = createHttpApp({ broker });
      const list = await app.request("/v1/cluster/reassignments");
      expect(list.status).toBe(200);
      expect(await list.json()).toEqual({ reassignments: [] });
      const post = await app.request("/v1/cluster/reassignments", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ partitions: [{ topic: "t", partition: 0, replicas: [1] }] }),
      });
      expect(post.status).toBe(400);
      expect(JSON.stringify(await post.json())).toContain("single node");
      const bad = await app.request("/v1/cluster/reassignments", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ partitions: [{ topic: "t", partition: -1, replicas: [] }] }),
      });
      expect(bad.status).toBe(400);
      expect((await app.request("/v1/cluster/reassignments", { method: "DELETE" })).status).toBe(400);
    } finally {
      await broker.close();
    }
  });
});
