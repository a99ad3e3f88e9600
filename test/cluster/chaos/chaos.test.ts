/**
 * A short chaos run (the code of scripts/chaos/run.ts): three eddy processes,
 * acks=all producers at RF=3 and min.insync.replicas=2, one minority
 * partition around a leader and one asymmetric cut of a leader's links.
 * The checker must find no anomaly, and writes must resume after each heal.
 */
import { describe, expect, it } from "bun:test";
import { runChaos } from "./run-chaos.ts";

describe("chaos: link faults under acks=all load", () => {
  it("loses, duplicates and reorders nothing, and replicas agree", async () => {
    const r = await runChaos({
      cycles: 2,
      faults: ["partition-leader", "asymmetric"],
      faultMs: 2_500,
      settleMs: 300,
      producers: 4,
      seed: 42,
    });
    expect(r.cycles.map((c) => c.fault).sort()).toEqual(["asymmetric", "partition-leader"]);
    for (const c of r.cycles) {
      expect(c.stuck).toBeUndefined();
      expect(c.okAfterHeal).toBeGreaterThan(0);
    }
    expect(r.report.anomalies).toEqual({
      lost: [],
      offsetMismatch: [],
      duplicates: [],
      reordered: [],
      inconsistent: [],
      unexpected: [],
    });
    expect(r.report.valid).toBe(true);
    expect(r.report.ok).toBeGreaterThan(100);
    // The final reads cover every partition: the consumer's view and each node's disk.
    expect(r.report.reads).toBe(3 * 4);
    expect(r.report.records).toBeGreaterThanOrEqual(r.report.ok);
  }, 60_000);
});
