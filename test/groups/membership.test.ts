/**
 * Static membership (KIP-345), member-checked offset commits, and the admin
 * views (describe, list with a states filter, delete) of the group coordinator.
 */
import { describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { GroupState } from "../../src/groups/types.ts";
import { dec, enc, type Fixture, fixture, INITIAL_DELAY_MS, settle } from "./helpers.ts";

async function stableOne(f: Fixture, extra = {}) {
  const j = f.join("", extra);
  f.timers.advance(INITIAL_DELAY_MS);
  const r = await j.promise;
  await f.coordinator.syncGroup({
    groupId: "g",
    generationId: r.generationId,
    memberId: r.memberId,
    assignments: [{ memberId: r.memberId, assignment: enc("all") }],
  });
  return r;
}

describe("static members (KIP-345)", () => {
  it("join without MEMBER_ID_REQUIRED, and come back under a new member id without a rebalance", async () => {
    const f = fixture();
    const first = await stableOne(f, { groupInstanceId: "dev-1", requireKnownMemberId: true });
    expect(first.error).toBeNull();
    expect(first.memberId.startsWith("dev-1-")).toBe(true);

    // the instance restarts: it has lost its member id
    const back = await f.join("", { groupInstanceId: "dev-1", requireKnownMemberId: true }).promise;
    expect(back.error).toBeNull();
    expect(back.memberId).not.toBe(first.memberId);
    expect(back.generationId).toBe(first.generationId); // no rebalance
    expect(back.leader).toBe(back.memberId);
    expect(back.skipAssignment).toBe(true); // KIP-814: the leader need not assign again
    expect(f.coordinator.group("g")?.state).toBe(GroupState.Stable);
    const s = await f.coordinator.syncGroup({
      groupId: "g",
      generationId: back.generationId,
      memberId: back.memberId,
      groupInstanceId: "dev-1",
      assignments: [],
    });
    expect(dec(s.assignment)).toBe("all"); // kept across the restart

    // the old incarnation is fenced
    const old = {
      groupId: "g",
      generationId: first.generationId,
      memberId: first.memberId,
      groupInstanceId: "dev-1",
    };
    expect((await f.coordinator.heartbeat(old)).error).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(
      (await f.coordinator.commitOffsets({ ...old, offsets: [{ topic: "t", partition: 0, offset: 1 }] }))
        .error,
    ).toBe(ErrorCode.FENCED_INSTANCE_ID);
  });

  it("a static member with new metadata triggers a rebalance", async () => {
    const f = fixture();
    const first = await stableOne(f, { groupInstanceId: "dev-1" });
    const back = f.join("", {
      groupInstanceId: "dev-1",
      protocols: [{ name: "range", metadata: enc("v2") }],
    });
    const r = await back.promise;
    expect(r.generationId).toBe(first.generationId + 1);
    expect(r.members.map((m) => [m.groupInstanceId, dec(m.metadata)])).toEqual([["dev-1", "v2"]]);
  });

  it("LeaveGroup v3+ removes static members by instance id, in a batch", async () => {
    const f = fixture();
    const a = f.join("", { groupInstanceId: "a" });
    const b = f.join("", { groupInstanceId: "b" });
    f.timers.advance(2 * INITIAL_DELAY_MS);
    await Promise.all([a.promise, b.promise]);
    const left = await f.coordinator.leaveGroup({
      groupId: "g",
      members: [
        { memberId: "", groupInstanceId: "a" },
        { memberId: "", groupInstanceId: "b" },
        { memberId: "", groupInstanceId: "c" },
      ],
    });
    expect(left.members.map((m) => [m.groupInstanceId, m.error])).toEqual([
      ["a", null],
      ["b", null],
      ["c", ErrorCode.UNKNOWN_MEMBER_ID],
    ]);
    expect(f.coordinator.group("g")?.state).toBe(GroupState.Empty);
  });
});

describe("offset commits", () => {
  it("allow simple commits (generation -1) for groups without members", async () => {
    const f = fixture();
    const r = await f.coordinator.commitOffsets({
      groupId: "simple",
      generationId: -1,
      memberId: "",
      offsets: [
        { topic: "t", partition: 0, offset: 5 },
        { topic: "missing", partition: 0, offset: 1 },
      ],
    });
    expect(r.error).toBeNull();
    expect(r.partitions.map((p) => p.error)).toEqual([null, ErrorCode.TOPIC_NOT_FOUND]);
    expect(f.store.offsets.get("simple")?.get("t-0")).toBe(5);
    const stale = await f.coordinator.commitOffsets({
      groupId: "unknown",
      generationId: 3,
      memberId: "m",
      offsets: [{ topic: "t", partition: 0, offset: 5 }],
    });
    expect(stale.error).toBe(ErrorCode.ILLEGAL_GENERATION);
  });

  it("check member and generation while the group is active", async () => {
    const f = fixture();
    const a = await stableOne(f);
    const commit = (generationId: number, memberId: string) =>
      f.coordinator.commitOffsets({
        groupId: "g",
        generationId,
        memberId,
        offsets: [{ topic: "t", partition: 0, offset: 9 }],
      });
    expect((await commit(-1, "")).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await commit(1, "someone")).error).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await commit(2, a.memberId)).error).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(f.store.offsets.get("g")).toBeUndefined();
    expect((await commit(1, a.memberId)).error).toBeNull();
    expect(f.store.offsets.get("g")?.get("t-0")).toBe(9);

    // PreparingRebalance: the current generation may still commit (its last progress)
    const b = f.join("");
    await settle();
    expect((await commit(1, a.memberId)).error).toBeNull();
    // CompletingRebalance: wait for the new assignment
    f.join(a.memberId);
    await b.promise;
    expect(f.coordinator.group("g")?.state).toBe(GroupState.CompletingRebalance);
    expect((await commit(2, a.memberId)).error).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it("a commit counts as a heartbeat", async () => {
    const f = fixture();
    const a = await stableOne(f);
    for (let i = 0; i < 5; i++) {
      f.timers.advance(800);
      const r = await f.coordinator.commitOffsets({
        groupId: "g",
        generationId: 1,
        memberId: a.memberId,
        offsets: [{ topic: "t", partition: 0, offset: i }],
      });
      expect(r.error).toBeNull();
    }
    f.timers.advance(1000);
    expect(f.coordinator.group("g")?.state).toBe(GroupState.Empty);
  });
});

describe("describe, list, delete", () => {
  it("describes live, offsets-only and unknown groups", async () => {
    const f = fixture();
    const a = await stableOne(f);
    await f.coordinator.commitOffsets({
      groupId: "old",
      generationId: -1,
      memberId: "",
      offsets: [{ topic: "t", partition: 0, offset: 1 }],
    });
    const [g, old, none] = await f.coordinator.describeGroups(["g", "old", "none"]);
    expect(g).toMatchObject({
      groupId: "g",
      error: null,
      state: "Stable",
      protocolType: "consumer",
      protocol: "range",
    });
    expect(
      g?.members.map((m) => [m.memberId, m.clientId, m.clientHost, dec(m.assignment), dec(m.metadata)]),
    ).toEqual([[a.memberId, "client", "/127.0.0.1", "all", "meta-new"]]);
    expect(old).toMatchObject({ state: "Empty", members: [] });
    expect(none).toMatchObject({ state: "Dead", error: null, members: [] });
  });

  it("lists groups with a case-insensitive states filter", async () => {
    const f = fixture();
    await stableOne(f);
    await f.coordinator.commitOffsets({
      groupId: "old",
      generationId: -1,
      memberId: "",
      offsets: [{ topic: "t", partition: 0, offset: 1 }],
    });
    expect(await f.coordinator.listGroups()).toEqual([
      { groupId: "g", protocolType: "consumer", state: "Stable", type: "classic" },
      { groupId: "old", protocolType: "", state: "Empty", type: "classic" },
    ]);
    expect((await f.coordinator.listGroups({ states: ["empty"] })).map((g) => g.groupId)).toEqual(["old"]);
    expect((await f.coordinator.listGroups({ states: ["Stable", "Empty"] })).length).toBe(2);
  });

  it("refuses to delete a group with members; deletes empty groups and their offsets", async () => {
    const f = fixture();
    const a = await stableOne(f);
    await f.coordinator.commitOffsets({
      groupId: "g",
      generationId: 1,
      memberId: a.memberId,
      offsets: [{ topic: "t", partition: 0, offset: 3 }],
    });
    expect(await f.coordinator.deleteGroups(["g", "none", ""])).toEqual([
      { groupId: "g", error: ErrorCode.GROUP_NOT_EMPTY },
      { groupId: "none", error: ErrorCode.GROUP_NOT_FOUND },
      { groupId: "", error: ErrorCode.INVALID_GROUP_ID },
    ]);
    await f.coordinator.leaveGroup({ groupId: "g", members: [{ memberId: a.memberId }] });
    expect(await f.coordinator.deleteGroups(["g"])).toEqual([{ groupId: "g", error: null }]);
    expect(f.store.offsets.has("g")).toBe(false);
    expect((await f.coordinator.describeGroups(["g"]))[0]?.state).toBe("Dead");
  });

  it("close answers waiting members and stops the timers", async () => {
    const f = fixture();
    const j = f.join("");
    f.coordinator.close();
    expect((await j.promise).error).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(f.timers.size).toBe(0);
  });
});
