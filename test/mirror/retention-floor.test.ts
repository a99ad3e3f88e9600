/** BrokerApi.setRetentionFloor: the lowest floor of all owners holds back time retention. */
import { describe, expect, it } from "bun:test";
import { isEddyError } from "../../src/broker/index.ts";
import { createEdge } from "./helpers.ts";

const HOUR = 3_600_000;

async function setup() {
  const edge = await createEdge();
  await edge.createTopic({
    name: "t",
    partitions: 1,
    configs: { "segment.bytes": 200, "retention.ms": 60_000 },
  });
  const enc = new TextEncoder();
  for (let b = 0; b < 6; b++) {
    await edge.produce({
      topic: "t",
      partition: 0,
      records: [0, 1, 2].map((i) => ({ value: enc.encode(`v${b * 3 + i}`), timestamp: Date.now() - HOUR })),
    });
  }
  return edge;
}

describe("setRetentionFloor", () => {
  it("keeps the lowest owner's floor, and releases when owners clear theirs", async () => {
    const edge = await setup();
    try {
      edge.setRetentionFloor("t", 0, "a", 0);
      edge.setRetentionFloor("t", 0, "b", 9);
      await edge.runHousekeeping();
      const heldAt = edge.partitionState("t", 0).logStartOffset;
      expect(heldAt).toBe(0);

      edge.setRetentionFloor("t", 0, "a", null);
      await edge.runHousekeeping();
      const second = edge.partitionState("t", 0).logStartOffset;
      expect(second).toBeGreaterThan(heldAt);
      expect(second).toBeLessThanOrEqual(9);

      edge.setRetentionFloor("t", 0, "b", null);
      await edge.runHousekeeping();
      expect(edge.partitionState("t", 0).logStartOffset).toBeGreaterThan(9);
    } finally {
      await edge.close();
    }
  });

  it("rejects bad offsets and unknown partitions", async () => {
    const edge = await setup();
    try {
      const code = (fn: () => void) => {
        try {
          fn();
        } catch (err) {
          return isEddyError(err) ? err.code : "other";
        }
        return "none";
      };
      expect(code(() => edge.setRetentionFloor("t", 0, "a", -1))).toBe("INVALID_REQUEST");
      expect(code(() => edge.setRetentionFloor("t", 0, "a", 1.5))).toBe("INVALID_REQUEST");
      expect(code(() => edge.setRetentionFloor("nope", 0, "a", 0))).toBe("TOPIC_NOT_FOUND");
      expect(code(() => edge.setRetentionFloor("t", 3, "a", 0))).toBe("PARTITION_NOT_FOUND");
    } finally {
      await edge.close();
    }
  });
});
