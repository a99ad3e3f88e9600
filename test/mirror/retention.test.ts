/** Retention never deletes what a link still owes, unless size retention forces it; then status says which offsets. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { createEdge, type MockCluster, readCentral, startMockCluster, waitFor } from "./helpers.ts";

let central: MockCluster;
beforeAll(async () => {
  central = await startMockCluster();
});
afterAll(async () => {
  await central?.stop();
});

const HOUR = 3_600_000;
const SMALL_SEGMENTS = { "segment.bytes": 200, "retention.ms": 60_000 };

/** `batches` produce calls of 3 old records each (one segment per batch). */
async function fill(edge: Broker, topic: string, batches: number): Promise<void> {
  const enc = new TextEncoder();
  const old = Date.now() - HOUR;
  for (let b = 0; b < batches; b++) {
    await edge.produce({
      topic,
      partition: 0,
      records: [0, 1, 2].map((i) => ({ value: enc.encode(`v${b * 3 + i}`), timestamp: old })),
    });
  }
}

function link(name: string, topics: string[]) {
  return {
    name,
    bootstrap_servers: [central.bootstrap],
    topics,
    source_id: "site",
    retry_backoff_ms: 20,
    max_backoff_ms: 100,
    request_timeout_ms: 1000,
  };
}

describe("mirror retention floor", () => {
  it("holds back time retention until the link delivered the records", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "held", partitions: 1, configs: SMALL_SEGMENTS });
    await edge.createTopic({ name: "free", partitions: 1, configs: SMALL_SEGMENTS });
    await fill(edge, "held", 5);
    await fill(edge, "free", 5);
    await central.down();
    const mirror = await startMirror({
      broker: edge,
      links: [link("f1", ["held"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await waitFor("link down", () => (mirror.status()[0]!.state === "down" ? true : undefined));
      await edge.runHousekeeping();
      expect(edge.partitionState("free", 0).logStartOffset).toBeGreaterThan(0);
      expect(edge.partitionState("held", 0).logStartOffset).toBe(0);

      await central.up();
      await waitFor("caught up", () => (mirror.status()[0]!.lagRecords === 0 ? true : undefined), 10_000);
      const got = await readCentral(central.bootstrap, "site.held", 0);
      expect(got.map((r) => r.value)).toEqual(Array.from({ length: 15 }, (_, i) => `v${i}`));
      await edge.runHousekeeping();
      expect(edge.partitionState("held", 0).logStartOffset).toBeGreaterThan(0);
      expect(mirror.status()[0]!.skippedRecords).toBe(0);
    } finally {
      await central.up();
      await mirror.close();
      await edge.close();
    }
  }, 20_000);

  it("reports the exact offsets that size retention deleted before they were mirrored", async () => {
    const edge = await createEdge();
    await edge.createTopic({
      name: "capped",
      partitions: 1,
      configs: { ...SMALL_SEGMENTS, "retention.bytes": 300 },
    });
    await central.down();
    const mirror = await startMirror({
      broker: edge,
      links: [link("f2", ["capped"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await fill(edge, "capped", 6);
      await waitFor("link down", () => (mirror.status()[0]!.state === "down" ? true : undefined));
      await edge.runHousekeeping();
      const start = edge.partitionState("capped", 0).logStartOffset;
      expect(start).toBeGreaterThan(0);

      await central.up();
      await waitFor("caught up", () => (mirror.status()[0]!.lagRecords === 0 ? true : undefined), 10_000);
      const p = mirror.status()[0]!.partitions[0]!;
      expect(p.skippedRecords).toBe(start);
      expect(p.skipped.map((s) => [s.from, s.to])).toEqual([[0, start]]);
      expect(p.mirroredOffset).toBe(18);
      const got = await readCentral(central.bootstrap, "site.capped", 0);
      expect(got.map((r) => r.value)).toEqual(Array.from({ length: 18 - start }, (_, i) => `v${start + i}`));
    } finally {
      await central.up();
      await mirror.close();
      await edge.close();
    }
  }, 20_000);
});
