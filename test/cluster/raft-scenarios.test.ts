/** Targeted Raft scenarios on the deterministic simulator (safety is checked after every step). */
import { describe, expect, it } from "bun:test";
import { Role } from "../../src/cluster/raft/types.ts";
import { Sim } from "./raft-sim.ts";

const three = { voters: [{ id: 1 }, { id: 2 }, { id: 3 }] };
const run = (sim: Sim, ms: number) => {
  for (let t = 0; t < ms; t += 5) sim.step(5);
};
const applied = (sim: Sim, id: number) => sim.machines.get(id)!.applied;

describe("raft scenarios", () => {
  it("elects one leader and commits on all nodes", () => {
    const sim = new Sim({ seed: 1, config: three });
    sim.converge(2_000);
    const idx = sim.propose()!;
    run(sim, 200);
    for (const id of [1, 2, 3]) expect(applied(sim, id).length).toBeGreaterThanOrEqual(idx);
    expect(applied(sim, 1)).toEqual(applied(sim, 2));
  });

  it("a minority partition cannot commit; the majority side can", () => {
    const sim = new Sim({ seed: 2, config: three });
    sim.converge(2_000);
    const old = sim.leader()!;
    const others = sim.ids.filter((id) => id !== old.id);
    sim.partition([old.id], others);
    const stale = sim.propose(old)!; // accepted by the isolated leader, never committed
    const staleValue = sim.lastProposed;
    run(sim, 1_000);
    expect(applied(sim, old.id).length).toBeLessThan(stale);
    expect(old.status().role).not.toBe(Role.LEADER); // check quorum made it step down
    const fresh = sim.leader()!;
    expect(others).toContain(fresh.id);
    const idx = sim.propose(fresh)!;
    run(sim, 300);
    for (const id of others) expect(applied(sim, id).length).toBeGreaterThanOrEqual(idx);
    // Rejoin: the old leader's uncommitted entry is replaced by the majority's log.
    sim.heal();
    run(sim, 1_000);
    expect(applied(sim, old.id)).toEqual(applied(sim, fresh.id).slice(0, applied(sim, old.id).length));
    expect(applied(sim, old.id).length).toBeGreaterThanOrEqual(idx);
    expect(applied(sim, old.id)).not.toContain(staleValue);
  });

  it("an isolated follower that rejoins does not depose the leader (pre-vote)", () => {
    const sim = new Sim({ seed: 3, config: three });
    sim.converge(2_000);
    const leader = sim.leader()!;
    const term = leader.status().term;
    const loner = sim.ids.find((id) => id !== leader.id)!;
    sim.partition(
      [loner],
      sim.ids.filter((id) => id !== loner),
    );
    run(sim, 3_000);
    expect(sim.nodes.get(loner)!.status().term).toBe(term); // pre-votes never raised its term
    sim.heal();
    run(sim, 500);
    expect(sim.leader()).toBe(leader);
    expect(leader.status().term).toBe(term);
  });

  it("asymmetric cut: a leader that cannot hear its followers is replaced, and the cluster stays live", () => {
    const sim = new Sim({ seed: 4, config: three });
    sim.converge(2_000);
    const old = sim.leader()!;
    for (const id of sim.ids) if (id !== old.id) sim.cutLink(id, old.id); // old can send, not receive
    run(sim, 2_000);
    const now = sim.leader();
    expect(now).toBeDefined();
    expect(now!.id).not.toBe(old.id);
    const idx = sim.propose(now)!;
    run(sim, 500);
    const majority = sim.ids.filter((id) => id !== old.id);
    for (const id of majority) expect(applied(sim, id).length).toBeGreaterThanOrEqual(idx);
  });

  it("a lagging follower catches up through InstallSnapshot", () => {
    const sim = new Sim({ seed: 5, config: three, snapshotEvery: 10 });
    sim.converge(2_000);
    const leader = sim.leader()!;
    const lagger = sim.ids.find((id) => id !== leader.id)!;
    sim.crash(lagger);
    let last = 0;
    for (let i = 0; i < 60; i++) {
      last = sim.propose(leader) ?? last;
      sim.step(5);
    }
    run(sim, 200);
    expect(leader.status().snapshotIndex).toBeGreaterThan(applied(sim, lagger).length + 1);
    let installs = 0;
    const handle = sim.handle.bind(sim);
    sim.handle = (id, out) => {
      if (id === lagger && out.snapshotInstalled) installs++;
      handle(id, out);
    };
    sim.restart(lagger);
    run(sim, 500);
    expect(installs).toBeGreaterThanOrEqual(1);
    expect(applied(sim, lagger).length).toBeGreaterThanOrEqual(last);
    expect(applied(sim, lagger)).toEqual(applied(sim, leader.id).slice(0, applied(sim, lagger).length));
  });

  it("2 data nodes + witness: survives the loss of either data node", () => {
    const config = { voters: [{ id: 1 }, { id: 2 }, { id: 3, witness: true }] };
    for (const seed of [6, 7, 8]) {
      const sim = new Sim({ seed, config });
      sim.converge(3_000);
      expect(sim.leader()!.id).not.toBe(3); // data voters lead in steady state
      const dead = sim.leader()!.id;
      const survivor = dead === 1 ? 2 : 1;
      // Cut the survivor off first so that the last commits reach only leader + witness.
      sim.partition([survivor], [dead]);
      for (let i = 0; i < 5; i++) {
        sim.propose();
        sim.step(5);
      }
      run(sim, 100);
      const committed = Math.max(...applied(sim, dead).map((_, i) => i + 1));
      sim.crash(dead);
      run(sim, 3_000);
      const leader = sim.leader()!;
      expect(leader.id).toBe(survivor); // the witness handed leadership over
      expect(applied(sim, survivor).length).toBeGreaterThanOrEqual(committed);
      const idx = sim.propose(leader)!;
      run(sim, 300);
      expect(applied(sim, survivor).length).toBeGreaterThanOrEqual(idx);
      expect(applied(sim, 3).length).toBeGreaterThanOrEqual(idx);
    }
  });

  it("two voters without a witness: losing one stops progress (no split brain)", () => {
    const sim = new Sim({ seed: 9, config: { voters: [{ id: 1 }, { id: 2 }] } });
    sim.converge(2_000);
    const leader = sim.leader()!;
    const other = leader.id === 1 ? 2 : 1;
    sim.crash(other);
    const idx = sim.propose(leader)!;
    run(sim, 3_000);
    expect(applied(sim, leader.id).length).toBeLessThan(idx);
    expect(sim.leader()).toBeUndefined();
  });

  it("leadership transfer moves the leader to the chosen node", () => {
    const sim = new Sim({ seed: 10, config: three });
    sim.converge(2_000);
    const leader = sim.leader()!;
    const target = sim.ids.find((id) => id !== leader.id)!;
    sim.handle(leader.id, leader.transferLeadership(target));
    expect(() => leader.propose(new Uint8Array(1))).toThrow(/not the metadata leader/);
    run(sim, 300);
    expect(sim.leader()!.id).toBe(target);
    const idx = sim.propose()!;
    run(sim, 300);
    for (const id of sim.ids) expect(applied(sim, id).length).toBeGreaterThanOrEqual(idx);
  });

  it("read index: confirmed by a majority, refused on a partitioned leader", () => {
    const sim = new Sim({ seed: 11, config: three });
    sim.converge(2_000);
    const leader = sim.leader()!;
    sim.handle(leader.id, leader.readIndex(7));
    run(sim, 100);
    expect(sim.reads).toEqual([{ node: leader.id, ctx: 7, index: leader.status().commit }]);
    sim.partition(
      [leader.id],
      sim.ids.filter((id) => id !== leader.id),
    );
    let failed: number[] = [];
    const handle = sim.handle.bind(sim);
    sim.handle = (id, out) => {
      failed = failed.concat(out.failedReads);
      handle(id, out);
    };
    sim.handle(leader.id, leader.readIndex(8));
    run(sim, 2_000);
    expect(sim.reads.map((r) => r.ctx)).toEqual([7]);
    expect(failed).toEqual([8]);
  });

  it("restarts from storage keep terms, votes and the applied state", () => {
    const sim = new Sim({ seed: 12, config: three, snapshotEvery: 5 });
    sim.converge(2_000);
    for (let i = 0; i < 12; i++) {
      sim.propose();
      sim.step(5);
    }
    run(sim, 200);
    const before = applied(sim, 1).slice();
    for (const id of sim.ids) sim.crash(id);
    for (const id of sim.ids) sim.restart(id);
    sim.converge(3_000);
    expect(applied(sim, 1).slice(0, before.length)).toEqual(before);
  });

  it("a follower restarted with wiped Raft state is caught up by the same leader", () => {
    const sim = new Sim({ seed: 11, config: three });
    sim.converge(2_000);
    const leader = sim.leader()!;
    for (let i = 0; i < 5; i++) sim.propose(leader);
    run(sim, 300);
    const victim = sim.ids.find((id) => id !== leader.id)!;
    expect(applied(sim, victim).length).toBeGreaterThanOrEqual(5);
    sim.crash(victim);
    sim.wipe(victim);
    sim.restart(victim);
    expect(sim.nodes.get(victim)!.status().lastIndex).toBe(0);
    // The leader still believes the victim holds everything it acknowledged.
    const idx = sim.propose(leader)!;
    run(sim, 1_000);
    expect(sim.leader()).toBe(leader);
    expect(applied(sim, victim)).toEqual(applied(sim, leader.id));
    expect(applied(sim, victim).length).toBeGreaterThanOrEqual(idx);
    // Caught up, it votes again: with the leader gone, the victim and the third
    // node (which needs the victim's vote) elect a new leader holding everything.
    const victimNode = sim.nodes.get(victim)!;
    expect(victimNode.recovering()).toBe(false);
    const before = applied(sim, leader.id).slice();
    sim.crash(leader.id);
    run(sim, 2_000);
    const next = sim.leader()!;
    expect(next).toBeDefined();
    expect(next.id).not.toBe(leader.id);
    const idx2 = sim.propose(next)!;
    run(sim, 300);
    for (const id of sim.ids.filter((i) => i !== leader.id)) {
      expect(applied(sim, id).slice(0, before.length)).toEqual(before);
      expect(applied(sim, id).length).toBeGreaterThanOrEqual(idx2);
    }
  });

  it("a wiped voter does not vote until caught up: a stale node cannot win and lose a committed entry", () => {
    for (const seed of [21, 22, 23]) {
      const sim = new Sim({ seed, config: three });
      sim.converge(2_000);
      const a = sim.leader()!;
      const [b, c] = sim.ids.filter((id) => id !== a.id) as [number, number];
      // B falls behind: the next entry is committed by A + C only.
      sim.partition([b], [a.id, c]);
      const idx = sim.propose(a)!;
      const value = sim.lastProposed;
      run(sim, 200);
      expect(applied(sim, a.id)[idx - 1]).toBe(value);
      expect(applied(sim, c)[idx - 1]).toBe(value);
      expect(sim.nodes.get(b)!.status().lastIndex).toBeLessThan(idx);
      // C loses its Raft state and restarts; A's messages to C are cut, so C is not
      // caught up before A crashes. B is reachable again and campaigns.
      sim.crash(c);
      sim.wipe(c);
      sim.heal();
      sim.cutLink(a.id, c);
      sim.restart(c);
      run(sim, 30);
      sim.crash(a.id);
      sim.heal();
      let leaders = 0;
      for (let t = 0; t < 3_000; t += 5) {
        sim.step(5); // safety (election safety, leader completeness) is checked every step
        if (sim.leader()) leaders++;
      }
      expect(leaders).toBe(0); // unavailable rather than unsafe
      expect(sim.nodes.get(c)!.recovering()).toBe(true);
      expect(sim.nodes.get(c)!.status().lastIndex).toBe(0);
      expect(sim.nodes.get(b)!.status().role).not.toBe(Role.LEADER);
      // The old leader returns: progress resumes with the committed entry intact.
      sim.restart(a.id);
      run(sim, 2_000);
      const leader = sim.leader()!;
      expect(leader).toBeDefined();
      const idx2 = sim.propose(leader)!;
      run(sim, 500);
      for (const id of sim.ids) {
        expect(applied(sim, id)[idx - 1]).toBe(value);
        expect(applied(sim, id).length).toBeGreaterThanOrEqual(idx2);
      }
      expect(sim.nodes.get(c)!.recovering()).toBe(false);
    }
  });

  it("first formation from empty logs elects a leader (no node is held back)", () => {
    for (const seed of [31, 32, 33, 34]) {
      const sim = new Sim({ seed, config: three });
      for (const n of sim.live()) expect(n.status().lastIndex).toBe(0);
      let t = 0;
      while (!sim.leader() && t < 2_000) {
        sim.step(5);
        t += 5;
      }
      expect(sim.leader()).toBeDefined();
      // The leader dies right after its first entry reached the others: they still elect.
      const first = sim.leader()!;
      run(sim, 50);
      for (const n of sim.live()) expect(n.recovering()).toBe(false);
      sim.crash(first.id);
      run(sim, 2_000);
      const next = sim.leader()!;
      expect(next).toBeDefined();
      expect(next.id).not.toBe(first.id);
    }
  });
});
