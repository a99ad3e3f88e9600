/**
 * Losing the node that is both the controller (Raft leader) and a partition
 * leader. The new controller judges the node it followed from its last word
 * (controller.ts, `liveness`), not from its own takeover, so the partition
 * moves after one Raft election instead of an election plus a node timeout.
 *
 * - Unit: Controller.liveness with a scripted Raft driver and a manual clock.
 * - Cluster: three in-process nodes; the controller+leader is abandoned while
 *   a producer writes acks=all; leadership moves, writes resume, and every
 *   acknowledged record is on the new leader in order.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Controller } from "../../src/cluster/controller.ts";
import type { MetadataMachine } from "../../src/cluster/metadata-machine.ts";
import type { RaftDriver } from "../../src/cluster/raft/driver.ts";
import { MessageType, type RaftMessage, Role } from "../../src/cluster/raft/types.ts";
import type { MetadataStore } from "../../src/metadata/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { dec, enc } from "../broker/helpers.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

/** A Raft driver whose role, term and peer contact ages the test sets. */
function scriptedDriver() {
  const state = { role: Role.FOLLOWER as Role, term: 1, contacts: new Map<number, number>() };
  const driver = {
    status: () => ({ role: state.role, term: state.term }),
    node: { peerContacts: () => (state.role === Role.LEADER ? state.contacts : new Map()) },
  } as unknown as RaftDriver;
  return { state, driver };
}

function controllerOn(clock: ManualClock, driver: RaftDriver): Controller {
  return new Controller({
    nodeId: 2,
    voters: [{ id: 1 }, { id: 2 }, { id: 3 }],
    driver,
    machine: {} as MetadataMachine,
    store: {} as MetadataStore,
    clock,
    logger: silentLogger,
    nodeTimeoutMs: 1000,
    preferredLeaderCheckMs: 0,
    proposedClusterId: () => "c",
  });
}

const append = (from: number, term: number): RaftMessage => ({
  type: MessageType.APPEND,
  from,
  to: 2,
  term,
  prevIndex: 0,
  prevTerm: 0,
  entries: [],
  commit: 0,
  round: 0,
});

describe("controller liveness after a takeover", () => {
  it("counts the previous leader's silence from its last heartbeat, and every other peer's from the takeover", () => {
    const clock = new ManualClock();
    const { state, driver } = scriptedDriver();
    const c = controllerOn(clock, driver);
    // Node 2 follows node 1 in term 1; node 3 is a follower it never hears from.
    for (let i = 0; i < 10; i++) {
      c.observe(append(1, 1));
      clock.advance(100);
    }
    // Node 1 goes quiet; node 2 campaigns after its election timeout and wins term 2.
    clock.advance(1200);
    state.role = Role.LEADER;
    state.term = 2;
    // Raft starts every peer's clock at the takeover.
    state.contacts = new Map([
      [1, 0],
      [3, 0],
    ]);
    expect([...c.liveness()].sort()).toEqual([2, 3]);
    // Once node 1 answers in the new term, Raft's own signal counts for it again.
    c.observe({
      type: MessageType.APPEND_RESP,
      from: 1,
      to: 2,
      term: 2,
      success: true,
      matchIndex: 5,
      conflictIndex: 0,
      conflictTerm: 0,
      round: 1,
    });
    expect([...c.liveness()].sort()).toEqual([1, 2, 3]);
    // Node 3 keeps the grace from the takeover, then times out like before.
    state.contacts = new Map([
      [1, 50],
      [3, 1000],
    ]);
    expect([...c.liveness()].sort()).toEqual([1, 2]);
  });

  it("keeps a leader that handed over (TimeoutNow) alive, and ignores vote requests and stale terms", () => {
    const clock = new ManualClock();
    const { state, driver } = scriptedDriver();
    const c = controllerOn(clock, driver);
    c.observe(append(1, 1));
    clock.advance(1500);
    // A vote request does not prove that the sender hears anyone; a stale append is from a deposed node.
    c.observe({ type: MessageType.PRE_VOTE, from: 1, to: 2, term: 2, lastIndex: 9, lastTerm: 1 });
    state.term = 3;
    c.observe(append(1, 2));
    state.role = Role.LEADER;
    state.term = 2;
    state.contacts = new Map([
      [1, 0],
      [3, 0],
    ]);
    expect(c.liveness().has(1)).toBe(false);

    // Later: node 1 leads term 3 and hands leadership to node 2 with TimeoutNow.
    const t = scriptedDriver();
    const c2 = controllerOn(clock, t.driver);
    c2.observe(append(1, 3));
    clock.advance(30);
    c2.observe({ type: MessageType.TIMEOUT_NOW, from: 1, to: 2, term: 3 });
    clock.advance(20);
    t.state.role = Role.LEADER;
    t.state.term = 4;
    t.state.contacts = new Map([
      [1, 0],
      [3, 0],
    ]);
    expect([...c2.liveness()].sort()).toEqual([1, 2, 3]);
  });

  it("blames only the leader it followed right before this takeover", () => {
    const clock = new ManualClock();
    const { state, driver } = scriptedDriver();
    const c = controllerOn(clock, driver);
    c.observe(append(1, 1));
    clock.advance(1500);
    state.role = Role.LEADER;
    state.term = 2;
    state.contacts = new Map([
      [1, 0],
      [3, 0],
    ]);
    expect(c.liveness().has(1)).toBe(false);
    // Deposed in term 3 by a leader it never heard from, then elected again in term 4.
    state.role = Role.FOLLOWER;
    state.term = 3;
    clock.advance(5000);
    state.role = Role.LEADER;
    state.term = 4;
    expect([...c.liveness()].sort()).toEqual([1, 2, 3]);
  });
});

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe("controller + partition leader lost", () => {
  it("moves the partition to an ISR member, resumes acks=all writes and loses no acknowledged record", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({
      name: "cf",
      partitions: 3,
      replicationFactor: 3,
      configs: { "min.insync.replicas": 2 },
    });
    const controller = c.broker(1).clusterStatus()!.controllerId!;
    expect(controller).toBeGreaterThan(0);
    // Leaders are spread round-robin: one partition is led by the controller.
    const described = await c.broker(controller).describeTopic("cf");
    const partition = described.partitions.find((p) => p.leader === controller)!.partition;
    await c.leaderOf("cf", partition);
    const oldEpoch = described.partitions[partition]!.leaderEpoch;

    // A producer writes acks=all throughout, asking the survivors for the leader after a failure.
    const acked: string[] = [];
    let stop = false;
    let target = controller;
    let n = 0;
    const producer = (async () => {
      while (!stop) {
        const value = `v${n++}`;
        try {
          await c.broker(target).produce({
            topic: "cf",
            partition,
            acks: -1,
            requireLeader: true,
            timeoutMs: 2_000,
            records: [{ value: enc(value) }],
          });
          acked.push(value);
        } catch {
          const asker = c.live().find((x) => x.id !== controller);
          const p = asker
            ? (await asker.broker.describeTopic("cf").catch(() => null))?.partitions[partition]
            : null;
          if (p && p.leader >= 0) target = p.leader;
          await Bun.sleep(10);
        }
      }
    })();
    await waitFor("acks=all writes before the kill", () => acked.length >= 20);
    const ackedBefore = acked.length;
    await c.abandon(controller);

    const survivor = c.live()[0]!;
    await waitFor("a new controller and a new partition leader", async () => {
      const status = survivor.broker.clusterStatus();
      const p = (await survivor.broker.describeTopic("cf")).partitions[partition]!;
      return (
        status?.controllerId !== null &&
        status?.controllerId !== controller &&
        p.leader !== controller &&
        p.leader >= 0 &&
        p.leaderEpoch > oldEpoch
      );
    });
    await waitFor("acks=all writes resume on the new leader", () => acked.length >= ackedBefore + 20);
    stop = true;
    await producer;

    const leader = await c.leaderOf("cf", partition, controller);
    const d = (await c.broker(leader).describeTopic("cf")).partitions[partition]!;
    expect(d.isr).not.toContain(controller);
    expect(d.isr).toContain(leader);
    const read = await c
      .broker(leader)
      .readRecords({ topic: "cf", partition, offset: 0, maxRecords: 100_000 });
    const got = read.records.map((r) => dec(r.value)!);
    // Every acknowledged value is there, in the order acknowledged (unacknowledged ones may be too).
    const at = new Map(got.map((v, i) => [v, i]));
    const positions = acked.map((v) => at.get(v) ?? -1);
    expect(positions.filter((i) => i < 0)).toEqual([]);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});
