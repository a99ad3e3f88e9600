/** Downlink: central topics mirrored down into the edge, exactly once across outages and restarts (central: a second Eddy). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { PROGRESS_TOPIC, startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

let central: CentralEddy;
const dirs: string[] = [];
beforeAll(async () => {
  central = await startCentralEddy();
});
afterAll(async () => {
  await central?.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function link(
  name: string,
  downlink: { topics: string[] } & Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    name,
    bootstrap_servers: [central.bootstrap],
    source_id: "gw",
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 2000,
    discovery_interval_ms: 100,
    downlink: { poll_wait_ms: 100, ...downlink },
    ...extra,
  };
}

async function edgeRecords(edge: Broker, topic: string, partition: number, atLeast: number) {
  return waitFor(
    `${atLeast} records in edge ${topic}-${partition}`,
    async () => {
      let hw = 0;
      try {
        hw = edge.partitionState(topic, partition).highWatermark;
      } catch {
        return undefined;
      }
      if (hw < atLeast) return undefined;
      return (await edge.readRecords({ topic, partition, offset: 0, maxRecords: 10_000 })).records;
    },
    15_000,
  );
}

const enc = new TextEncoder();

describe("mirror downlink", () => {
  it("brings new central records down into the same edge partition, in order, with headers (start: latest)", async () => {
    await central.broker.createTopic({ name: "commands", partitions: 2 });
    await central.broker.produce({ topic: "commands", partition: 0, records: values(3, 0, "old") });
    const edge = await createEdge();
    const mirror = await startMirror({
      broker: edge,
      links: [link("d1", { topics: ["commands"] })],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await waitFor("downlink partitions known", () =>
        mirror.status()[0]?.downlink?.length === 2 ? true : undefined,
      );
      await central.broker.produce({
        topic: "commands",
        partition: 0,
        records: [
          ...values(20, 0, "a"),
          {
            key: null,
            value: null,
            headers: [
              { key: "h", value: null },
              { key: "h2", value: enc.encode("x") },
            ],
          },
        ],
      });
      await central.broker.produce({ topic: "commands", partition: 1, records: values(10, 0, "b") });

      const p0 = await edgeRecords(edge, "commands", 0, 21);
      expect(valuesOf(p0)).toEqual([...Array.from({ length: 20 }, (_, i) => `a${i}`), "<null>"]);
      expect(p0.map((r) => header(r, "eddy.downlink.offset"))).toEqual(
        Array.from({ length: 21 }, (_, i) => String(i + 3)),
      );
      expect(header(p0[0]!, "eddy.downlink.src")).toBe("d1/commands/0");
      const last = p0[20]!;
      expect(last.key).toBeNull();
      expect(header(last, "h")).toBeNull(); // null header values stay null
      expect(header(last, "h2")).toBe("x");
      const p1 = await edgeRecords(edge, "commands", 1, 10);
      expect(valuesOf(p1)).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
      expect(edge.partitionState("commands", 0).highWatermark).toBe(21);

      const s = await waitFor("downlink caught up", () => {
        const d = mirror.status()[0]!.downlink!;
        return d.every((p) => p.lagRecords === 0) && d[0]!.mirroredOffset === 24 ? d : undefined;
      });
      expect(s.map((p) => [p.remoteTopic, p.partition, p.edgeTopic, p.mirroredOffset])).toEqual([
        ["commands", 0, "commands", 24],
        ["commands", 1, "commands", 10],
      ]);
      expect(s[0]!.receivedRecords).toBe(21);
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 30_000);

  it("resumes after an edge restart and a lost progress write without duplicates, and after an uplink outage", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-downlink-"));
    dirs.push(dir);
    await central.broker.createTopic({ name: "cmd2", partitions: 1 });
    await central.broker.produce({ topic: "cmd2", partition: 0, records: values(15) });
    const cfg = link("d2", { topics: ["/cmd\\d/"], start_position: "earliest", edge_naming: "prefix" });
    let edge = await createEdge({ dataDir: dir });
    let mirror = await startMirror({ broker: edge, links: [cfg], logger: silentLogger, clock: systemClock });
    expect(valuesOf(await edgeRecords(edge, "d2.cmd2", 0, 15))).toEqual(values(15).map((_, i) => `v${i}`));
    await waitFor("progress at 15", () =>
      mirror.status()[0]!.downlink?.[0]?.mirroredOffset === 15 ? true : undefined,
    );
    await mirror.close();
    // A crash after the edge append but before the progress write: the saved position lags.
    await edge.produce({
      topic: PROGRESS_TOPIC,
      partition: 0,
      records: [{ key: enc.encode("down:d2/cmd2/0"), value: enc.encode('{"offset":6,"edge":6}') }],
    });
    await edge.close();

    edge = await createEdge({ dataDir: dir });
    await central.broker.produce({ topic: "cmd2", partition: 0, records: values(5, 15) });
    mirror = await startMirror({ broker: edge, links: [cfg], logger: silentLogger, clock: systemClock });
    try {
      const got = await edgeRecords(edge, "d2.cmd2", 0, 20);
      expect(valuesOf(got)).toEqual(values(20).map((_, i) => `v${i}`));
      const resumed = await waitFor("progress at 20", () => {
        const d = mirror.status()[0]!.downlink?.[0];
        return d?.mirroredOffset === 20 ? d : undefined;
      });
      expect(resumed.receivedRecords).toBe(5);

      await central.stopListener();
      await central.broker.produce({ topic: "cmd2", partition: 0, records: values(10, 20) });
      const down = await waitFor("downlink down", () => {
        const s = mirror.status()[0]!;
        return s.state === "down" ? s : undefined;
      });
      expect(down.downlink![0]!.lastError).not.toBeNull();
      await central.startListener();
      const all = await edgeRecords(edge, "d2.cmd2", 0, 30);
      await Bun.sleep(200); // anything extra (a duplicate) would show up here
      const final = await edge.readRecords({ topic: "d2.cmd2", partition: 0, offset: 0, maxRecords: 1000 });
      expect(valuesOf(final.records)).toEqual(values(30).map((_, i) => `v${i}`));
      expect(all.length).toBeGreaterThanOrEqual(30);
      await waitFor("not down", () => (mirror.status()[0]!.state !== "down" ? true : undefined));
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 30_000);

  it("does not mirror an edge topic back up into the central topic it comes down from", async () => {
    await central.broker.createTopic({ name: "loop", partitions: 1 });
    const edge = await createEdge();
    await edge.createTopic({ name: "up", partitions: 1 });
    const mirror = await startMirror({
      broker: edge,
      links: [link("d3", { topics: ["loop"] }, { topics: ["loop", "up"], remote_naming: "identity" })],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await waitFor("downlink ready", () => (mirror.status()[0]?.downlink?.length === 1 ? true : undefined));
      await central.broker.produce({ topic: "loop", partition: 0, records: values(4) });
      await edge.produce({ topic: "up", partition: 0, records: values(2) });
      await edgeRecords(edge, "loop", 0, 4);
      await waitFor("up mirrored", async () =>
        (await central.records("up", 0)).length === 2 ? true : undefined,
      );
      await mirror.discover();
      expect(mirror.status()[0]!.partitions.map((p) => p.topic)).toEqual(["up"]);
      expect(valuesOf(await central.records("loop", 0))).toEqual(["v0", "v1", "v2", "v3"]);
    } finally {
      await mirror.close();
      await edge.close();
    }
  }, 20_000);
});
