/** The chaos checker on hand-made histories: a clean one, and one per anomaly. */
import { describe, expect, it } from "bun:test";
import { check } from "./checker.ts";
import { type FinalRead, type Op, OpStatus, opValue } from "./history.ts";

let clock = 0;
function op(producer: number, seq: number, status: Op["status"], extra: Partial<Op> = {}): Op {
  clock += 10;
  return {
    process: producer,
    seq,
    partition: 0,
    value: opValue(producer, seq),
    invokeAt: clock,
    completeAt: clock + 5,
    status,
    ...extra,
  };
}

function read(values: string[], extra: Partial<FinalRead> = {}): FinalRead {
  return {
    partition: 0,
    node: 1,
    source: "fetch",
    records: values.map((value, offset) => ({ offset, value })),
    ...extra,
  };
}

/** The fetch read plus the same log as each node's disk read. */
function replicated(values: string[]): FinalRead[] {
  return [read(values), ...[1, 2, 3].map((node) => read(values, { node, source: "disk" }))];
}

describe("chaos checker", () => {
  it("accepts a history whose acknowledged writes are all there, in order, on every replica", () => {
    const h = [
      op(1, 0, OpStatus.OK, { offset: 0 }),
      op(2, 0, OpStatus.INFO),
      op(1, 1, OpStatus.OK, { offset: 2 }),
      op(2, 1, OpStatus.INFO), // never landed: fine
      op(1, 2, OpStatus.FAIL),
    ];
    const r = check(h, replicated(["p1-0", "p2-0", "p1-1"]));
    expect(r.anomalyCount).toBe(0);
    expect(r.valid).toBe(true);
    expect([r.ok, r.info, r.fail, r.infoPresent, r.records]).toEqual([2, 2, 1, 1, 3]);
  });

  it("reports a lost acknowledged write", () => {
    const h = [op(1, 0, OpStatus.OK, { offset: 0 }), op(1, 1, OpStatus.OK, { offset: 1 })];
    const r = check(h, replicated(["p1-0"]));
    expect(r.valid).toBe(false);
    expect(r.anomalies.lost).toEqual([{ partition: 0, value: "p1-1", ackedOffset: 1 }]);
  });

  it("reports an acknowledged write at another offset than acknowledged", () => {
    const h = [op(1, 0, OpStatus.INFO), op(1, 1, OpStatus.OK, { offset: 0 })];
    const r = check(h, replicated(["p1-0", "p1-1"]));
    expect(r.anomalies.offsetMismatch).toEqual([{ partition: 0, value: "p1-1", ackedOffset: 0, offset: 1 }]);
    expect(r.anomalyCount).toBe(1);
  });

  it("reports duplicates, within a partition and across partitions", () => {
    const h = [op(1, 0, OpStatus.OK, { offset: 0 }), op(1, 1, OpStatus.INFO)];
    const reads = [read(["p1-0", "p1-1", "p1-1"]), read(["p1-0"], { partition: 1 })];
    const r = check(h, reads);
    expect(r.anomalies.duplicates.map((d) => d.value).sort()).toEqual(["p1-0", "p1-1"]);
    expect(r.anomalies.unexpected).toEqual([
      { partition: 1, offset: 0, value: "p1-0", why: "written to partition 0" },
    ]);
  });

  it("reports reordering of one producer's acknowledged writes", () => {
    const h = [op(1, 0, OpStatus.OK, { offset: 1 }), op(1, 1, OpStatus.OK, { offset: 0 })];
    const r = check(h, replicated(["p1-1", "p1-0"]));
    expect(r.anomalies.reordered).toEqual([
      {
        partition: 0,
        first: { value: "p1-0", offset: 1, completeAt: h[0]!.completeAt },
        second: { value: "p1-1", offset: 0, invokeAt: h[1]!.invokeAt },
      },
    ]);
  });

  it("allows concurrent writes of two producers in either order", () => {
    const a = op(1, 0, OpStatus.OK, { offset: 1 });
    const b: Op = { ...op(2, 0, OpStatus.OK, { offset: 0 }), invokeAt: a.invokeAt + 1 };
    expect(check([a, b], replicated(["p2-0", "p1-0"])).valid).toBe(true);
  });

  it("reports replicas that disagree at an offset, or lack one", () => {
    const h = [op(1, 0, OpStatus.OK, { offset: 0 }), op(1, 1, OpStatus.INFO), op(2, 0, OpStatus.INFO)];
    const reads = [
      read(["p1-0", "p1-1"]),
      read(["p1-0", "p1-1"], { node: 1, source: "disk" }),
      read(["p1-0", "p2-0"], { node: 2, source: "disk" }),
      read(["p1-0"], { node: 3, source: "disk" }),
    ];
    const r = check(h, reads);
    expect(r.anomalies.inconsistent).toEqual([
      { partition: 0, offset: 1, values: { "node 1 (fetch)": "p1-1", "node 2 (disk)": "p2-0" } },
      { partition: 0, offset: 1, values: { "node 1 (fetch)": "p1-1", "node 3 (disk)": null } },
    ]);
    expect(r.anomalyCount).toBe(2);
  });

  it("reports values nobody wrote and values whose write failed", () => {
    const h = [op(1, 0, OpStatus.FAIL)];
    const r = check(h, replicated(["p1-0", "ghost"]));
    expect(r.anomalies.unexpected.map((u) => [u.value, u.why])).toEqual([
      ["p1-0", "its write failed"],
      ["ghost", "no producer wrote this value"],
    ]);
  });
});
