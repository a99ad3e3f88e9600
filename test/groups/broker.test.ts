/**
 * broker.groups: the coordinator wired to the metadata store — member-checked
 * commits land in the committed offsets, per-partition errors, and
 * deleteGroup refuses a group that still has members.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { ErrorCode } from "../../src/broker/index.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { codeOf, memoryBroker, type TestBroker } from "../broker/helpers.ts";

let tb: TestBroker | undefined;
afterEach(async () => {
  await tb?.broker.close();
  tb = undefined;
});

async function setup() {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  tb = await memoryBroker({ clock, groups: { timers, initialRebalanceDelayMs: 0 } });
  await tb.broker.createTopic({ name: "t", partitions: 2 });
  return { broker: tb.broker, timers };
}

describe("broker.groups", () => {
  it("commits offsets of a live member into the metadata store, partition by partition", async () => {
    const { broker } = await setup();
    const joined = await broker.groups.joinGroup({
      groupId: "g",
      memberId: "",
      clientId: "c",
      clientHost: "/127.0.0.1",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: new Uint8Array([1]) }],
      requireKnownMemberId: false,
    });
    expect(joined).toMatchObject({ error: null, generationId: 1 });
    const ref = { groupId: "g", generationId: 1, memberId: joined.memberId };
    await broker.groups.syncGroup({ ...ref, assignments: [] });
    const r = await broker.groups.commitOffsets({
      ...ref,
      offsets: [
        { topic: "t", partition: 0, offset: 4, metadata: "m" },
        { topic: "t", partition: 9, offset: 1 },
        { topic: "nope", partition: 0, offset: 1 },
        { topic: "t", partition: 1, offset: 0, metadata: "x".repeat(5000) },
      ],
    });
    expect(r.partitions.map((p) => p.error)).toEqual([
      null,
      ErrorCode.PARTITION_NOT_FOUND,
      ErrorCode.TOPIC_NOT_FOUND,
      ErrorCode.OFFSET_METADATA_TOO_LARGE,
    ]);
    expect((await broker.fetchOffsets("g")).map((o) => [o.topic, o.partition, o.offset, o.metadata])).toEqual(
      [["t", 0, 4, "m"]],
    );
    expect(
      (
        await broker.groups.commitOffsets({
          ...ref,
          generationId: 5,
          offsets: [{ topic: "t", partition: 0, offset: 6 }],
        })
      ).error,
    ).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await codeOf(broker.deleteGroup("g"))).toBe(ErrorCode.GROUP_NOT_EMPTY);
    expect((await broker.groups.listGroups()).map((g) => [g.groupId, g.state])).toEqual([["g", "Stable"]]);

    await broker.groups.leaveGroup({ groupId: "g", members: [{ memberId: joined.memberId }] });
    await broker.deleteGroup("g");
    expect(await broker.fetchOffsets("g")).toEqual([]);
    expect(await codeOf(broker.deleteGroup("g"))).toBe(ErrorCode.GROUP_NOT_FOUND);
  });
});
