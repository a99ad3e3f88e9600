/** Store and forward across an uplink outage and an edge restart: no loss, no duplicates, in order. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { PROGRESS_TOPIC, startMirror } from "../../bridges/mirror/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { createEdge, type MockCluster, readCentral, startMockCluster, values, waitFor } from "./helpers.ts";

let central: MockCluster;
const dirs: string[] = [];
beforeAll(async () => {
  central = await startMockCluster();
});
afterAll(async () => {
  await central?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function link(name: string, topics: string[]) {
  return {
    name,
    bootstrap_servers: [central.bootstrap],
    topics,
    source_id: "gw",
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 2000,
    batch: { max_records: 7, linger_ms: 0 },
  };
}

async function centralValues(topic: string, partition: number, atLeast: number): Promise<string[]> {
  const got = await waitFor(
    `${atLeast} records in ${topic}-${partition} at central`,
    async () => {
      const r = await readCentral(central.bootstrap, topic, partition);
      return r.length >= atLeast ? r : undefined;
    },
    15_000,
  );
  return got.map((r) => r.value ?? "");
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

describe("mirror store and forward", () => {
  it("resumes after an uplink outage with every record exactly once, and status says down meanwhile", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "events", partitions: 1 });
    const mirror = await startMirror({
      broker: edge,
      links: [link("o1", ["events"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await edge.produce({ topic: "events", partition: 0, records: values(20) });
      expect(await centralValues("gw.events", 0, 20)).toEqual(expected(20));

      await central.down();
      await edge.produce({ topic: "events", partition: 0, records: values(30, 20) });
      const down = await waitFor("link down", () => {
        const s = mirror.status()[0]!;
        return s.state === "down" ? s : undefined;
      });
      expect(down.partitions[0]!.lastError).not.toBeNull();
      expect(down.lagRecords).toBeGreaterThan(0);
      expect(down.partitions[0]!.mirroredOffset).toBeLessThan(50);

      await central.up();
      await waitFor("caught up", () => (mirror.status()[0]!.lagRecords === 0 ? true : undefined), 15_000);
      const got = await readCentral(central.bootstrap, "gw.events", 0);
      expect(got.map((r) => r.value)).toEqual(expected(50));
      const s = mirror.status()[0]!;
      expect(s.partitions[0]!.mirroredOffset).toBe(50);
      expect(s.state).not.toBe("down");
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 30_000);

  it("resumes after an edge restart from persisted progress, without duplicating what central already has", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-mirror-"));
    dirs.push(dir);
    let edge = await createEdge({ dataDir: dir });
    await edge.createTopic({ name: "metrics", partitions: 1 });
    await edge.produce({ topic: "metrics", partition: 0, records: values(25) });
    let mirror = await startMirror({
      broker: edge,
      links: [link("r1", ["metrics"])],
      logger: silentLogger,
      clock: systemClock,
    });
    expect(await centralValues("gw.metrics", 0, 25)).toEqual(expected(25));
    await waitFor("progress at 25", () =>
      mirror.status()[0]!.partitions[0]!.mirroredOffset === 25 ? true : undefined,
    );
    await mirror.close();
    // A crash between central's ack and the progress write: the stored position lags behind central.
    await edge.produce({
      topic: PROGRESS_TOPIC,
      partition: 0,
      records: [
        { key: new TextEncoder().encode("r1/metrics/0"), value: new TextEncoder().encode('{"offset":10}') },
      ],
    });
    await edge.close();

    edge = await createEdge({ dataDir: dir });
    await edge.produce({ topic: "metrics", partition: 0, records: values(15, 25) });
    mirror = await startMirror({
      broker: edge,
      links: [link("r1", ["metrics"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await waitFor("caught up after restart", () => {
        const p = mirror.status()[0]!.partitions[0];
        return p && p.mirroredOffset === 40 ? true : undefined;
      });
      const got = await readCentral(central.bootstrap, "gw.metrics", 0);
      expect(got.map((r) => r.value)).toEqual(expected(40));
      expect(got.map((r) => r.headers["eddy.mirror.offset"])).toEqual(expected(40).map((_, i) => String(i)));
      expect(mirror.status()[0]!.partitions[0]!.sentRecords).toBe(15);
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 30_000);
});
