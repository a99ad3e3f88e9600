/**
 * Mirror life cycle against a second Eddy as central: floors set before
 * startMirror resolves and released on close, a deleted edge topic, null
 * header values, and the limit of the reconcile tail scan.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { PROGRESS_TOPIC, startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

let central: CentralEddy;
beforeAll(async () => {
  central = await startCentralEddy();
});
afterAll(async () => {
  await central?.close();
});

const HOUR = 3_600_000;
const enc = new TextEncoder();

function link(name: string, topics: string[], extra: Record<string, unknown> = {}) {
  return {
    name,
    bootstrap_servers: [central.bootstrap],
    topics,
    source_id: "gw",
    retry_backoff_ms: 20,
    max_backoff_ms: 100,
    request_timeout_ms: 1000,
    discovery_interval_ms: 100,
    ...extra,
  };
}

/** `batches` produce calls of 3 hour-old records each (one 200-byte segment per batch). */
async function fillOld(edge: Broker, topic: string, batches: number): Promise<void> {
  await edge.createTopic({
    name: topic,
    partitions: 1,
    configs: { "segment.bytes": 200, "retention.ms": 60_000 },
  });
  for (let b = 0; b < batches; b++) {
    await edge.produce({
      topic,
      partition: 0,
      records: [0, 1, 2].map((i) => ({ value: enc.encode(`v${b * 3 + i}`), timestamp: Date.now() - HOUR })),
    });
  }
}

describe("mirror life cycle", () => {
  it("holds owed records from the moment startMirror resolves, and releases them when the link closes", async () => {
    const edge = await createEdge();
    await fillOld(edge, "early", 5);
    await central.stopListener();
    try {
      const mirror = await startMirror({
        broker: edge,
        links: [link("e1", ["early"])],
        logger: silentLogger,
        clock: systemClock,
      });
      await edge.runHousekeeping(); // before any answer from central
      expect(edge.partitionState("early", 0).logStartOffset).toBe(0);
      await mirror.close();
      await edge.runHousekeeping();
      expect(edge.partitionState("early", 0).logStartOffset).toBeGreaterThan(0);
    } finally {
      await central.startListener();
      await edge.close();
    }
  });

  it("stops the forwarder of a deleted edge topic and starts afresh when the topic comes back", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "gone", partitions: 1 });
    await edge.produce({ topic: "gone", partition: 0, records: values(5) });
    const mirror = await startMirror({
      broker: edge,
      links: [link("g1", ["gone"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await waitFor("delivered", () =>
        mirror.status()[0]!.partitions[0]?.mirroredOffset === 5 ? true : undefined,
      );
      await edge.deleteTopic("gone");
      await waitFor("forwarder dropped", () =>
        mirror.status()[0]!.partitions.length === 0 ? true : undefined,
      );
      expect(mirror.status()[0]!.state).not.toBe("down");

      await edge.createTopic({ name: "gone", partitions: 1 });
      await edge.produce({ topic: "gone", partition: 0, records: values(3, 0, "new") });
      await mirror.discover();
      await waitFor("new topic delivered", async () =>
        (await central.records("gw.gone", 0)).length === 8 ? true : undefined,
      );
      expect(valuesOf(await central.records("gw.gone", 0))).toEqual([
        ...values(5).map((_, i) => `v${i}`),
        "new0",
        "new1",
        "new2",
      ]);
      await waitFor("progress of the new topic durable", () =>
        mirror.status()[0]!.partitions[0]?.mirroredOffset === 3 ? true : undefined,
      );
    } finally {
      await mirror.close();
      await edge.close();
    }
  });

  it("keeps null header values and null keys/values as null at central", async () => {
    const edge = await createEdge();
    await edge.createTopic({ name: "nulls", partitions: 1 });
    await edge.produce({
      topic: "nulls",
      partition: 0,
      records: [
        {
          key: null,
          value: null,
          headers: [
            { key: "n", value: null },
            { key: "e", value: new Uint8Array(0) },
            { key: "n", value: enc.encode("again") },
          ],
        },
      ],
    });
    const mirror = await startMirror({
      broker: edge,
      links: [link("n1", ["nulls"])],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      const [r] = await waitFor("record at central", async () => {
        const got = await central.records("gw.nulls", 0);
        return got.length === 1 ? got : undefined;
      });
      expect(r!.key).toBeNull();
      expect(r!.value).toBeNull();
      expect(
        r!.headers.slice(0, 3).map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString()]),
      ).toEqual([
        ["n", null],
        ["e", ""],
        ["n", "again"],
      ]);
      expect(header(r!, "eddy.mirror.offset")).toBe("0");
    } finally {
      await mirror.close();
      await edge.close();
    }
  });

  it("reconciles through foreign records within reconcile_scan_records, and resends the in-doubt records past it", async () => {
    // Central already holds our records 0..9 (an earlier run), then 60 records of someone else.
    const edge = await createEdge();
    await edge.createTopic({ name: "shared", partitions: 1 });
    await edge.produce({ topic: "shared", partition: 0, records: values(10) });
    const first = await startMirror({
      broker: edge,
      links: [link("s1", ["shared"], { remote_naming: "identity" })],
      logger: silentLogger,
      clock: systemClock,
    });
    await waitFor("delivered", async () =>
      (await central.records("shared", 0)).length === 10 ? true : undefined,
    );
    await first.close();
    await central.broker.produce({ topic: "shared", partition: 0, records: values(60, 0, "other") });
    const lagProgress = async (link: string) =>
      edge.produce({
        topic: PROGRESS_TOPIC,
        partition: 0,
        records: [{ key: enc.encode(`${link}/shared/0`), value: enc.encode('{"offset":4}') }],
      });

    // Within the limit: found, nothing sent again.
    await edge.produce({
      topic: PROGRESS_TOPIC,
      partition: 0,
      records: [{ key: enc.encode("s2/shared/0"), value: enc.encode('{"offset":4}') }],
    });
    const within = await startMirror({
      broker: edge,
      links: [link("s2", ["shared"], { remote_naming: "identity", reconcile_scan_records: 100 })],
      logger: silentLogger,
      clock: systemClock,
    });
    await waitFor("reconciled", () =>
      within.status()[0]!.partitions[0]?.mirroredOffset === 10 ? true : undefined,
    );
    expect(within.status()[0]!.partitions[0]!.sentRecords).toBe(0);
    await within.close();
    expect((await central.records("shared", 0)).length).toBe(70);

    // Past the limit: the scan gives up and records 4..9 go again (the documented window).
    await lagProgress("s3");
    const past = await startMirror({
      broker: edge,
      links: [link("s3", ["shared"], { remote_naming: "identity", reconcile_scan_records: 20 })],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      await waitFor("caught up", () =>
        past.status()[0]!.partitions[0]?.mirroredOffset === 10 ? true : undefined,
      );
      expect(past.status()[0]!.partitions[0]!.sentRecords).toBe(6);
      const got = await central.records("shared", 0);
      expect(got.slice(70).map((r) => header(r, "eddy.mirror.offset"))).toEqual([
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
      ]);
    } finally {
      await past.close();
      await edge.close();
    }
  });
});
