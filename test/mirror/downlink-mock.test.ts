/** The downlink against a Kafka-protocol server we did not write: librdkafka's mock cluster. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Producer } from "@platformatic/kafka";
import { startMirror } from "../../bridges/mirror/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { header, valuesOf } from "./central-eddy.ts";
import { createEdge, type MockCluster, startMockCluster, waitFor } from "./helpers.ts";

let central: MockCluster;
let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
beforeAll(async () => {
  central = await startMockCluster();
  producer = new Producer({
    clientId: "test-central-producer",
    bootstrapBrokers: [central.bootstrap],
    acks: -1,
  });
});
afterAll(async () => {
  await producer?.close(true);
  await central?.stop();
});

async function produceCentral(topic: string, from: number, n: number): Promise<void> {
  await producer.send({
    messages: Array.from({ length: n }, (_, i) => ({
      topic,
      partition: 0,
      key: Buffer.from(`k${from + i}`),
      value: Buffer.from(`c${from + i}`),
      headers: new Map([[Buffer.from("origin"), Buffer.from("hq")]]),
    })),
  });
}

describe("downlink from librdkafka's mock cluster", () => {
  it("copies a central topic into the edge exactly once, in order, across a broker outage", async () => {
    await produceCentral("mock-cmds", 0, 30);
    const edge = await createEdge();
    const mirror = await startMirror({
      broker: edge,
      links: [
        {
          name: "m1",
          bootstrap_servers: [central.bootstrap],
          retry_backoff_ms: 20,
          max_backoff_ms: 200,
          request_timeout_ms: 1500,
          discovery_interval_ms: 100,
          downlink: { topics: ["/mock-.*/"], start_position: "earliest", poll_wait_ms: 100 },
        },
      ],
      logger: silentLogger,
      clock: systemClock,
    });
    const edgeValues = async (n: number) =>
      waitFor(
        `${n} records at the edge`,
        async () => {
          let hw = 0;
          try {
            hw = edge.partitionState("mock-cmds", 0).highWatermark;
          } catch {
            return undefined;
          }
          if (hw < n) return undefined;
          return (await edge.readRecords({ topic: "mock-cmds", partition: 0, offset: 0, maxRecords: 1000 }))
            .records;
        },
        15_000,
      );
    try {
      const first = await edgeValues(30);
      expect(valuesOf(first)).toEqual(Array.from({ length: 30 }, (_, i) => `c${i}`));
      expect(header(first[3]!, "origin")).toBe("hq");
      expect(header(first[3]!, "eddy.downlink.offset")).toBe("3");
      expect(new TextDecoder().decode(first[3]!.key!)).toBe("k3");
      const central0 = mirror.status()[0]!.downlink!;
      expect((await edge.describeTopic("mock-cmds")).partitions.length).toBe(
        Math.max(...central0.map((p) => p.partition)) + 1,
      );

      await central.down();
      await waitFor("downlink down", () => (mirror.status()[0]!.state === "down" ? true : undefined));
      await central.up();
      await produceCentral("mock-cmds", 30, 20);
      const all = await edgeValues(50);
      await Bun.sleep(200); // a duplicate would show up by now
      const final = await edge.readRecords({ topic: "mock-cmds", partition: 0, offset: 0, maxRecords: 1000 });
      expect(valuesOf(final.records)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
      expect(all.length).toBeGreaterThanOrEqual(50);
    } finally {
      await central.up();
      await mirror.close();
      await edge.close();
    }
  }, 30_000);
});
