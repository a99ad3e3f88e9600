/**
 * The classic group coordinator's state machine on a manual clock: join and
 * sync, MEMBER_ID_REQUIRED, generations, rebalance on join, leave, session
 * and rebalance timeouts, the initial rebalance delay, protocol selection.
 */
import { describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { GroupState } from "../../src/groups/types.ts";
import { dec, enc, type Fixture, fixture, INITIAL_DELAY_MS, settle, track } from "./helpers.ts";

/** One member joins an empty group and syncs: generation 1, Stable. */
async function stableOne(f: Fixture, extra = {}) {
  const j = f.join("", extra);
  await settle();
  expect(j.done()).toBe(false); // waiting for the initial delay
  f.timers.advance(INITIAL_DELAY_MS);
  const r = await j.promise;
  expect(r.error).toBeNull();
  const s = await f.coordinator.syncGroup({
    groupId: "g",
    generationId: r.generationId,
    memberId: r.memberId,
    assignments: [{ memberId: r.memberId, assignment: enc("all") }],
  });
  expect(s.error).toBeNull();
  return r;
}

describe("join and sync", () => {
  it("KIP-394: a new member first gets MEMBER_ID_REQUIRED, then joins with that id", async () => {
    const f = fixture();
    const first = await f.join("", { requireKnownMemberId: true }).promise;
    expect(first.error).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toBe("client-id1");
    const j = f.join(first.memberId, { requireKnownMemberId: true });
    f.timers.advance(INITIAL_DELAY_MS);
    const r = await j.promise;
    expect(r).toMatchObject({
      error: null,
      generationId: 1,
      leader: "client-id1",
      memberId: "client-id1",
      protocolType: "consumer",
      protocolName: "range",
    });
    expect(r.members.map((m) => [m.memberId, dec(m.metadata)])).toEqual([["client-id1", "meta-client-id1"]]);
    expect(f.coordinator.group("g")?.state).toBe(GroupState.CompletingRebalance);
    const s = await f.coordinator.syncGroup({
      groupId: "g",
      generationId: 1,
      memberId: r.memberId,
      assignments: [{ memberId: r.memberId, assignment: enc("p0,p1") }],
    });
    expect(s.error).toBeNull();
    expect(dec(s.assignment)).toBe("p0,p1");
    expect(f.coordinator.group("g")?.state).toBe(GroupState.Stable);
    expect(await f.coordinator.heartbeat({ groupId: "g", generationId: 1, memberId: r.memberId })).toEqual({
      error: null,
    });
  });

  it("a member id that was never handed out is UNKNOWN_MEMBER_ID", async () => {
    const f = fixture();
    expect((await f.join("bogus").promise).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    await stableOne(f);
    expect((await f.join("bogus").promise).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("an unrequested MEMBER_ID_REQUIRED member expires after its session timeout", async () => {
    const f = fixture();
    const first = await f.join("", { requireKnownMemberId: true }).promise;
    expect(f.coordinator.group("g")?.pending.size).toBe(1);
    f.timers.advance(1000);
    expect(f.coordinator.group("g")?.pending.size).toBe(0);
    expect((await f.join(first.memberId).promise).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("the initial rebalance delay collects members that arrive together and is extended by each", async () => {
    const f = fixture();
    const a = f.join("");
    f.timers.advance(60);
    const b = f.join("");
    f.timers.advance(60); // first delay over, but b arrived: extended
    await settle();
    expect(a.done()).toBe(false);
    f.timers.advance(100);
    const [ra, rb] = await Promise.all([a.promise, b.promise]);
    expect(ra.generationId).toBe(1);
    expect(rb.generationId).toBe(1);
    expect(ra.leader).toBe(ra.memberId);
    expect(ra.members).toHaveLength(2);
    expect(rb.members).toHaveLength(0); // only the leader gets the members
  });

  it("rejects bad session timeouts, group ids and protocol mismatches", async () => {
    const f = fixture({ minSessionTimeoutMs: 500, maxSessionTimeoutMs: 2000 });
    expect((await f.join("", { sessionTimeoutMs: 100 }).promise).error).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await f.join("", { sessionTimeoutMs: 3000 }).promise).error).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect((await f.join("", { groupId: "" }).promise).error).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await f.join("", { protocols: [] }).promise).error).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    await stableOne(f);
    expect((await f.join("", { protocolType: "connect" }).promise).error).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    const other = [{ name: "sticky", metadata: enc("x") }];
    expect((await f.join("", { protocols: other }).promise).error).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  it("selects the protocol every member supports, by the members' preference", async () => {
    const f = fixture();
    const a = f.join("", {
      protocols: [
        { name: "range", metadata: enc("a-range") },
        { name: "roundrobin", metadata: enc("a-rr") },
      ],
    });
    const b = f.join("", { protocols: [{ name: "roundrobin", metadata: enc("b-rr") }] });
    f.timers.advance(2 * INITIAL_DELAY_MS); // the second member extends the initial delay
    const ra = await a.promise;
    await b.promise;
    expect(ra.protocolName).toBe("roundrobin");
    expect(ra.members.map((m) => dec(m.metadata)).sort()).toEqual(["a-rr", "b-rr"]);
  });

  it("enforces group.max.size", async () => {
    const f = fixture({ maxSize: 1 });
    await stableOne(f);
    expect((await f.join("").promise).error).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
  });
});

describe("rebalances and generations", () => {
  it("a new member triggers a rebalance; followers wait in SyncGroup for the leader", async () => {
    const f = fixture();
    const a = await stableOne(f);
    const b = f.join("");
    await settle();
    expect(f.coordinator.group("g")?.state).toBe(GroupState.PreparingRebalance);
    // a learns of the rebalance from its heartbeat, and joins again
    expect(
      (await f.coordinator.heartbeat({ groupId: "g", generationId: 1, memberId: a.memberId })).error,
    ).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const a2 = f.join(a.memberId);
    const [ra, rb] = await Promise.all([a2.promise, b.promise]);
    expect(ra.generationId).toBe(2);
    expect(rb.generationId).toBe(2);
    expect(ra.leader).toBe(a.memberId);
    expect(ra.members.map((m) => m.memberId).sort()).toEqual([a.memberId, rb.memberId].sort());

    // the old generation is over
    expect(
      (await f.coordinator.heartbeat({ groupId: "g", generationId: 1, memberId: a.memberId })).error,
    ).toBe(ErrorCode.ILLEGAL_GENERATION);
    const followerSync = track(
      f.coordinator.syncGroup({ groupId: "g", generationId: 2, memberId: rb.memberId, assignments: [] }),
    );
    await settle();
    expect(followerSync.done()).toBe(false);
    const leaderSync = await f.coordinator.syncGroup({
      groupId: "g",
      generationId: 2,
      memberId: a.memberId,
      assignments: [
        { memberId: a.memberId, assignment: enc("p0") },
        { memberId: rb.memberId, assignment: enc("p1") },
      ],
    });
    expect(dec(leaderSync.assignment)).toBe("p0");
    expect(dec((await followerSync.promise).assignment)).toBe("p1");
    expect(f.coordinator.group("g")?.state).toBe(GroupState.Stable);
  });

  it("a member that leaves triggers a rebalance; the last one leaving empties the group", async () => {
    const f = fixture();
    const a = f.join("");
    const b = f.join("");
    f.timers.advance(2 * INITIAL_DELAY_MS);
    const [ra, rb] = await Promise.all([a.promise, b.promise]);
    await f.coordinator.syncGroup({ groupId: "g", generationId: 1, memberId: ra.memberId, assignments: [] });
    const left = await f.coordinator.leaveGroup({ groupId: "g", members: [{ memberId: rb.memberId }] });
    expect(left).toEqual({
      error: null,
      members: [{ memberId: rb.memberId, groupInstanceId: null, error: null }],
    });
    expect(
      (await f.coordinator.heartbeat({ groupId: "g", generationId: 1, memberId: ra.memberId })).error,
    ).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const r2 = await f.join(ra.memberId).promise;
    expect(r2.generationId).toBe(2);
    expect(r2.members.map((m) => m.memberId)).toEqual([ra.memberId]);

    const unknown = await f.coordinator.leaveGroup({ groupId: "g", members: [{ memberId: rb.memberId }] });
    expect(unknown.members[0]?.error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    await f.coordinator.leaveGroup({ groupId: "g", members: [{ memberId: ra.memberId }] });
    const g = f.coordinator.group("g");
    expect(g?.state).toBe(GroupState.Empty);
    expect(g?.generationId).toBe(3);
    expect(
      (await f.coordinator.heartbeat({ groupId: "g", generationId: 2, memberId: ra.memberId })).error,
    ).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("a member whose session expires is removed and the group rebalances", async () => {
    const f = fixture();
    const a = f.join("");
    const b = f.join("", { sessionTimeoutMs: 3000 });
    f.timers.advance(2 * INITIAL_DELAY_MS);
    const [ra, rb] = await Promise.all([a.promise, b.promise]);
    expect(ra.leader).toBe(ra.memberId);
    await f.coordinator.syncGroup({ groupId: "g", generationId: 1, memberId: ra.memberId, assignments: [] });
    // only b heartbeats; a (session 1 s) goes silent
    for (let i = 0; i < 3; i++) {
      f.timers.advance(600);
      expect(
        (await f.coordinator.heartbeat({ groupId: "g", generationId: 1, memberId: rb.memberId })).error,
      ).not.toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    }
    const g = f.coordinator.group("g");
    expect(g?.members.has(ra.memberId)).toBe(false);
    expect(g?.state).toBe(GroupState.PreparingRebalance);
    const r2 = await f.join(rb.memberId).promise;
    expect(r2).toMatchObject({ generationId: 2, leader: rb.memberId });
  });

  it("a member that does not join again within the rebalance timeout is dropped", async () => {
    const f = fixture();
    const a = f.join("", { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 2000 });
    const b = f.join("", { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 2000 });
    f.timers.advance(2 * INITIAL_DELAY_MS);
    const [ra, rb] = await Promise.all([a.promise, b.promise]);
    await f.coordinator.syncGroup({ groupId: "g", generationId: 1, memberId: ra.memberId, assignments: [] });
    const a2 = f.join(ra.memberId, {
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 2000,
      protocols: [{ name: "range", metadata: enc("changed") }],
    });
    await settle();
    expect(a2.done()).toBe(false);
    f.timers.advance(1999);
    await settle();
    expect(a2.done()).toBe(false);
    f.timers.advance(1);
    const r = await a2.promise;
    expect(r.generationId).toBe(2);
    expect(r.members.map((m) => m.memberId)).toEqual([ra.memberId]);
    expect(f.coordinator.group("g")?.members.has(rb.memberId)).toBe(false);
  });

  it("a follower joining again with unchanged metadata while Stable gets the current generation", async () => {
    const f = fixture();
    const a = f.join("");
    const b = f.join("");
    f.timers.advance(2 * INITIAL_DELAY_MS);
    const [ra, rb] = await Promise.all([a.promise, b.promise]);
    await f.coordinator.syncGroup({ groupId: "g", generationId: 1, memberId: ra.memberId, assignments: [] });
    const again = await f.join(rb.memberId, { protocols: [{ name: "range", metadata: enc("meta-new") }] })
      .promise;
    expect(again).toMatchObject({ error: null, generationId: 1, leader: ra.memberId });
    expect(f.coordinator.group("g")?.state).toBe(GroupState.Stable);
  });
});

describe("SyncGroup errors", () => {
  it("answers unknown members, stale generations, protocol mismatches and rebalances", async () => {
    const f = fixture();
    const a = await stableOne(f);
    const sync = (extra: object) =>
      f.coordinator.syncGroup({
        groupId: "g",
        generationId: 1,
        memberId: a.memberId,
        assignments: [],
        ...extra,
      });
    expect((await sync({ groupId: "nope" })).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await sync({ memberId: "nope" })).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await sync({ generationId: 7 })).error).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await sync({ protocolName: "roundrobin" })).error).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(dec((await sync({})).assignment)).toBe("all"); // Stable: the current assignment again
    f.join("");
    await settle();
    expect((await sync({})).error).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it("a rebalance while waiting for the leader answers waiting followers with REBALANCE_IN_PROGRESS", async () => {
    const f = fixture();
    const a = f.join("");
    const b = f.join("");
    f.timers.advance(2 * INITIAL_DELAY_MS);
    const [ra, rb] = await Promise.all([a.promise, b.promise]);
    const follower = rb.memberId === ra.leader ? ra : rb;
    const waiting = f.coordinator.syncGroup({
      groupId: "g",
      generationId: 1,
      memberId: follower.memberId,
      assignments: [],
    });
    f.join(""); // a third member arrives before the leader synced
    expect((await waiting).error).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });
});
