import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { createHarness, expectError, type Harness } from "./harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
  await h.json("POST", "/v1/topics", { name: "t", partitions: 2 });
  for (const partition of [0, 1]) {
    await h.json("POST", "/v1/topics/t/records", {
      partition,
      records: Array.from({ length: 10 }, (_, i) => ({ value: i, timestamp: 1000 * (i + 1) })),
    });
  }
});
afterEach(async () => {
  await h.close();
});

interface GroupJson {
  group: string;
  totalLag: number;
  partitions: Array<{
    topic: string;
    partition: number;
    committedOffset: number;
    lag: number;
    logEndOffset: number;
    metadata: string;
  }>;
}

describe("groups API", () => {
  it("commits offsets, lists groups, describes lag, deletes", async () => {
    expect(await (await h.app.request("/v1/groups")).json()).toEqual({ groups: [] });
    const commit = await h.json("POST", "/v1/groups/g1/offsets", {
      offsets: [
        { topic: "t", partition: 0, offset: 4, metadata: "m" },
        { topic: "t", partition: 1, offset: 10 },
      ],
    });
    expect(commit.status).toBe(200);
    expect(await commit.json()).toEqual({ group: "g1", committed: 2 });
    expect(await (await h.app.request("/v1/groups")).json()).toEqual({ groups: ["g1"] });

    const desc = (await (await h.app.request("/v1/groups/g1")).json()) as GroupJson;
    expect(desc.totalLag).toBe(6);
    expect(desc.partitions.map((p) => [p.partition, p.committedOffset, p.lag, p.logEndOffset])).toEqual([
      [0, 4, 6, 10],
      [1, 10, 0, 10],
    ]);
    expect(desc.partitions[0]?.metadata).toBe("m");

    expect((await h.app.request("/v1/groups/g1", { method: "DELETE" })).status).toBe(204);
    await expectError(await h.app.request("/v1/groups/g1"), 404, "GROUP_NOT_FOUND");
  });

  it("validates commits", async () => {
    await expectError(await h.json("POST", "/v1/groups/g/offsets", { offsets: [] }), 400, "INVALID_REQUEST");
    const neg = await expectError(
      await h.json("POST", "/v1/groups/g/offsets", { offsets: [{ topic: "t", partition: 0, offset: -5 }] }),
      400,
      "INVALID_REQUEST",
    );
    expect(neg.error.message).toContain("body.offsets[0].offset");
  });

  it("resets offsets to earliest, latest, an offset, a timestamp and by a shift", async () => {
    await h.json("POST", "/v1/groups/g/offsets", { offsets: [{ topic: "t", partition: 0, offset: 5 }] });
    const reset = async (to: unknown, extra: Record<string, unknown> = {}) => {
      const res = await h.json("POST", "/v1/groups/g/reset-offsets", { topic: "t", to, ...extra });
      if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
      return (await res.json()) as {
        dryRun: boolean;
        partitions: Array<{ partition: number; previousOffset: number | null; newOffset: number }>;
      };
    };
    const dry = await reset("earliest", { dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.partitions).toEqual([
      { partition: 0, previousOffset: 5, newOffset: 0 },
      { partition: 1, previousOffset: null, newOffset: 0 },
    ]);
    // Dry run committed nothing.
    expect(((await (await h.app.request("/v1/groups/g")).json()) as GroupJson).partitions).toHaveLength(1);

    expect((await reset("latest", { partitions: [1] })).partitions).toEqual([
      { partition: 1, previousOffset: null, newOffset: 10 },
    ]);
    expect((await reset({ offset: 99 }, { partitions: [0] })).partitions[0]?.newOffset).toBe(10);
    expect((await reset({ timestamp: 3500 }, { partitions: [0] })).partitions[0]?.newOffset).toBe(3);
    expect((await reset({ shiftBy: -2 }, { partitions: [0] })).partitions[0]).toEqual({
      partition: 0,
      previousOffset: 3,
      newOffset: 1,
    });
    expect((await reset({ shiftBy: -50 }, { partitions: [0] })).partitions[0]?.newOffset).toBe(0);
    const desc = (await (await h.app.request("/v1/groups/g")).json()) as GroupJson;
    expect(desc.partitions.map((p) => [p.partition, p.committedOffset])).toEqual([
      [0, 0],
      [1, 10],
    ]);
  });

  it("rejects bad reset requests", async () => {
    const badTo = await expectError(
      await h.json("POST", "/v1/groups/g/reset-offsets", { topic: "t", to: "yesterday" }),
      400,
      "INVALID_REQUEST",
    );
    expect(badTo.error.message).toContain("body.to");
    await expectError(
      await h.json("POST", "/v1/groups/g/reset-offsets", { topic: "nope", to: "earliest" }),
      404,
      "TOPIC_NOT_FOUND",
    );
    await expectError(
      await h.json("POST", "/v1/groups/g/reset-offsets", { topic: "t", partitions: [5], to: "earliest" }),
      404,
      "PARTITION_NOT_FOUND",
    );
    await expectError(
      await h.json("POST", "/v1/groups/g/reset-offsets", { topic: "t", to: { shiftBy: 1 } }),
      400,
      "INVALID_REQUEST",
    );
  });
});
