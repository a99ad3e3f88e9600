/**
 * A partition that central keeps rejecting (its records are over the
 * central topic's max.message.bytes) fails only its own transactions: it
 * retries alone with backoff and says so in its status and in /metrics,
 * while the link's other partitions go on; once central accepts it, it
 * catches up, every record exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { attachMirrorDownlinkMetrics, startMirror } from "../../bridges/mirror/index.ts";
import { MetricsRegistry } from "../../src/observability/metrics.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, header, startCentralEddy } from "./central-eddy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

let central: CentralEddy;
beforeAll(async () => {
  central = await startCentralEddy();
});
afterAll(async () => {
  await central?.close();
});

const enc = new TextEncoder();

describe("a poisoned partition", () => {
  it("retries alone and is reported while the link's other partitions go on", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "big", partitions: 1 });
    await edge.createTopic({ name: "ok", partitions: 1 });
    await central.broker.createTopic({
      name: "gw.big",
      partitions: 1,
      configs: { "max.message.bytes": 512 },
    });
    await edge.produce({
      topic: "big",
      partition: 0,
      records: Array.from({ length: 3 }, (_, i) => ({ value: enc.encode(`${i}:${"x".repeat(2000)}`) })),
    });
    await edge.produce({ topic: "ok", partition: 0, records: values(50) });
    const mirror = await startMirror({
      broker: edge,
      links: [
        {
          name: "up",
          bootstrap_servers: [central.bootstrap],
          topics: ["big", "ok"],
          source_id: "gw",
          retry_backoff_ms: 20,
          max_backoff_ms: 200,
          request_timeout_ms: 1000,
        },
      ],
      logger: silentLogger,
      clock: systemClock,
    });
    const registry = new MetricsRegistry();
    attachMirrorDownlinkMetrics(registry, () => mirror.status());
    const part = (topic: string) => mirror.status()[0]!.partitions.find((p) => p.topic === topic)!;
    try {
      await waitFor("big rejected again and again", () =>
        part("big").failedAttempts >= 3 ? true : undefined,
      );
      // The healthy partition is not held back by the poisoned one.
      await edge.produce({ topic: "ok", partition: 0, records: values(50, 50) });
      await waitFor("ok mirrored", async () =>
        (await central.records("gw.ok", 0)).length >= 100 ? true : undefined,
      );
      expect(part("ok").failedAttempts).toBe(0);
      expect(part("ok").mirroredOffset).toBe(100);
      const big = part("big");
      expect(big.state).toBe("down");
      expect(big.mirroredOffset).toBe(0);
      expect(big.lastError).not.toBeNull();
      expect(mirror.status()[0]!.state).toBe("down");
      const text = await registry.expose();
      const line = text
        .split("\n")
        .find((l) => l.startsWith('eddy_mirror_partition_failed_attempts{link="up",topic="big"'));
      expect(Number(line?.split(" ").at(-1))).toBeGreaterThanOrEqual(3);
      expect(text).toContain('eddy_mirror_partition_failed_attempts{link="up",topic="ok",partition="0"} 0');

      // The operator raises the limit at central: the partition catches up, once.
      await central.broker.alterTopicConfigs("gw.big", { "max.message.bytes": 1_000_000 });
      await waitFor("big mirrored", () => (part("big").mirroredOffset === 3 ? true : undefined));
      expect(part("big").failedAttempts).toBe(0);
      const got = await central.records("gw.big", 0);
      expect(got.map((r) => header(r, "eddy.mirror.offset"))).toEqual(["0", "1", "2"]);
      expect((await central.records("gw.ok", 0)).map((r) => header(r, "eddy.mirror.offset"))).toEqual(
        Array.from({ length: 100 }, (_, i) => String(i)),
      );
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 30_000);
});
