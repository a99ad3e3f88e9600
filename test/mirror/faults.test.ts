/**
 * The uplink into a second Eddy: order and exactly-once across a listener
 * restart, and through a fault proxy that cuts, resets, stalls and breaks
 * connections mid-response while records keep arriving at the edge.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type Mirror, startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { type FaultProxy, startFaultProxy } from "./fault-proxy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

function link(name: string, bootstrap: string, topics: string[], extra: Record<string, unknown> = {}) {
  return {
    name,
    bootstrap_servers: [bootstrap],
    topics,
    source_id: "gw",
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 1000,
    batch: { max_records: 50, linger_ms: 0 },
    ...extra,
  };
}

const expected = (n: number, prefix = "v") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

async function caughtUp(mirror: Mirror, edge: Broker, topic: string, partitions: number, timeoutMs = 20_000) {
  await waitFor(
    "mirror caught up",
    () => {
      const s = mirror.status()[0]!;
      const done = Array.from({ length: partitions }, (_, p) => {
        const f = s.partitions.find((x) => x.topic === topic && x.partition === p);
        return f !== undefined && f.mirroredOffset === edge.partitionState(topic, p).highWatermark;
      });
      return done.every(Boolean) ? true : undefined;
    },
    timeoutMs,
  );
}

/** Central has exactly the edge's records, in edge-offset order, each once. */
async function expectExactlyOnce(central: CentralEddy, remote: string, partition: number, values: string[]) {
  const got = await central.records(remote, partition);
  expect(got.map((r) => header(r, "eddy.mirror.offset"))).toEqual(values.map((_, i) => String(i)));
  expect(valuesOf(got)).toEqual(values);
}

describe("uplink into a second Eddy", () => {
  let central: CentralEddy;
  beforeAll(async () => {
    central = await startCentralEddy();
  });
  afterAll(async () => {
    await central?.close();
  });

  it("delivers every record once, in order, across a central listener restart on the same port", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "readings", partitions: 2 });
    await edge.produce({ topic: "readings", partition: 0, records: values(300, 0, "a") });
    await edge.produce({ topic: "readings", partition: 1, records: values(120, 0, "b") });
    const mirror = await startMirror({
      broker: edge,
      links: [link("u1", central.bootstrap, ["readings"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await caughtUp(mirror, edge, "readings", 2);
      await central.stopListener();
      await edge.produce({ topic: "readings", partition: 0, records: values(200, 300, "a") });
      await waitFor("link down", () => (mirror.status()[0]!.state === "down" ? true : undefined));
      expect(mirror.status()[0]!.lagRecords).toBeGreaterThan(0);
      await central.startListener();
      await edge.produce({ topic: "readings", partition: 1, records: values(30, 120, "b") });
      await caughtUp(mirror, edge, "readings", 2);
      await expectExactlyOnce(central, "gw.readings", 0, expected(500, "a"));
      await expectExactlyOnce(central, "gw.readings", 1, expected(150, "b"));
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 30_000);
});

describe("uplink through a fault proxy", () => {
  let central: CentralEddy;
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy();
    central = await startCentralEddy({ advertisedPort: proxy.port });
    proxy.setTarget(central.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await central?.close();
  });

  it("cuts, resets, stalls and mid-response breaks: every record arrives exactly once, in order", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "stream", partitions: 2 });
    const mirror = await startMirror({
      broker: edge,
      links: [link("f1", `127.0.0.1:${proxy.port}`, ["stream"], { request_timeout_ms: 400 })],
      logger: silentLogger,
      clock: systemClock,
    });
    const counts = [0, 0];
    let producing = true;
    const producer = (async () => {
      while (producing) {
        for (const p of [0, 1]) {
          await edge.produce({ topic: "stream", partition: p, records: values(20, counts[p], `p${p}-`) });
          counts[p] = counts[p]! + 20;
        }
        await Bun.sleep(5);
      }
    })();
    let sawDown = false;
    const watch = setInterval(() => {
      if (mirror.status()[0]?.state === "down") sawDown = true;
    }, 10);
    try {
      const faults: Array<[string, () => void | Promise<void>]> = [
        ["cut", () => proxy.cut()],
        ["reset", () => proxy.reset()],
        ["mid-response", () => proxy.cutAfter(37)],
        [
          "stall",
          async () => {
            proxy.stall();
            await waitFor("down while stalled", () =>
              mirror.status()[0]!.state === "down" ? true : undefined,
            );
            proxy.resume();
          },
        ],
        [
          "refuse",
          async () => {
            proxy.refuse(true);
            proxy.reset();
            await Bun.sleep(300);
            proxy.refuse(false);
          },
        ],
      ];
      for (const [, fault] of faults) {
        await Bun.sleep(120);
        await fault();
      }
      await Bun.sleep(150);
      producing = false;
      await producer;
      await caughtUp(mirror, edge, "stream", 2);
      expect(sawDown).toBe(true);
      expect(counts[0]).toBeGreaterThan(100);
      await expectExactlyOnce(central, "gw.stream", 0, expected(counts[0]!, "p0-"));
      await expectExactlyOnce(central, "gw.stream", 1, expected(counts[1]!, "p1-"));
      expect(proxy.accepted).toBeGreaterThan(3); // the faults really broke connections
    } finally {
      producing = false;
      clearInterval(watch);
      await producer;
      await mirror.close();
      await edge.close();
    }
  }, 30_000);

  it("downlink: central records reach the edge exactly once, in order, through the same faults", async () => {
    await central.broker.createTopic({ name: "orders", partitions: 1 });
    const edge = await createEdge();
    const mirror = await startMirror({
      broker: edge,
      links: [
        {
          ...link("f2", `127.0.0.1:${proxy.port}`, [], { request_timeout_ms: 400 }),
          downlink: { topics: ["orders"], start_position: "earliest", poll_wait_ms: 50 },
        },
      ],
      logger: silentLogger,
      clock: systemClock,
    });
    let count = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await central.broker.produce({ topic: "orders", partition: 0, records: values(10, count, "o") });
        count += 10;
        await Bun.sleep(5);
      }
    })();
    try {
      const before = proxy.accepted;
      for (const fault of [
        () => proxy.cut(),
        () => proxy.reset(),
        () => proxy.cutAfter(61),
        async () => {
          proxy.stall();
          await waitFor("down while stalled", () =>
            mirror.status()[0]!.state === "down" ? true : undefined,
          );
          proxy.resume();
        },
      ]) {
        await Bun.sleep(100);
        await fault();
      }
      await Bun.sleep(100);
      producing = false;
      await producer;
      await waitFor(
        "downlink caught up",
        () => (mirror.status()[0]!.downlink?.[0]?.mirroredOffset === count ? true : undefined),
        20_000,
      );
      const got = await edge.readRecords({ topic: "orders", partition: 0, offset: 0, maxRecords: 100_000 });
      expect(got.records.map((r) => header(r, "eddy.downlink.offset"))).toEqual(
        Array.from({ length: count }, (_, i) => String(i)),
      );
      expect(valuesOf(got.records)).toEqual(expected(count, "o"));
      expect(proxy.accepted).toBeGreaterThan(before + 2);
    } finally {
      producing = false;
      await producer;
      await mirror.close();
      await edge.close();
    }
  }, 30_000);
});
