/** The broker on the file log store: topics, records, offsets and configs survive a restart. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { dec, enc, readValues } from "./helpers.ts";

let dir: string;
let broker: Broker | undefined;
const clock = new ManualClock();

async function open(): Promise<Broker> {
  broker = await createBroker({
    logStore: createFileLogStore({ dataDir: path.join(dir, "data"), clock, logger: silentLogger }),
    metadata: openMetadataStore({ path: path.join(dir, "eddy.db") }),
    clock,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
  });
  return broker;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-broker-"));
});
afterEach(async () => {
  await broker?.close();
  broker = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("persistence across restart (file store)", () => {
  it("keeps topics, configs, records, offsets and the cluster id", async () => {
    let b = await open();
    const created = await b.createTopic({
      name: "sensors",
      partitions: 3,
      configs: { "retention.ms": 3_600_000 },
    });
    const keys = ["dev-1", "dev-2", "dev-3", "dev-4", "dev-5"];
    const produced = await b.produce({
      topic: "sensors",
      acks: -1,
      records: keys.map((k) => ({
        key: enc(k),
        value: enc(`${k}=21.5`),
        headers: [{ key: "unit", value: enc("C") }],
      })),
    });
    await b.produce({ topic: "sensors", partition: 0, acks: 1, records: [{ value: enc("tail") }] });
    await b.commitOffsets("dash", [{ topic: "sensors", partition: 0, offset: 1, metadata: "x" }]);
    const clusterId = b.clusterId;
    const before = [0, 1, 2].map((p) => b.partitionState("sensors", p));
    const valuesBefore = await Promise.all([0, 1, 2].map((p) => readValues(b, "sensors", p)));
    await b.close();

    b = await open();
    expect(b.clusterId).toBe(clusterId);
    const d = await b.describeTopic("sensors");
    expect(d.id).toBe(created.id);
    expect(d.overrides).toEqual({ "retention.ms": "3600000" });
    for (const p of [0, 1, 2]) {
      const state = b.partitionState("sensors", p);
      expect(state.logEndOffset).toBe(before[p]!.logEndOffset);
      expect(state.highWatermark).toBe(before[p]!.logEndOffset);
      expect(await readValues(b, "sensors", p)).toEqual(valuesBefore[p]!);
    }
    for (const [i, r] of produced.records.entries()) {
      const { records } = await b.readRecords({
        topic: "sensors",
        partition: r.partition,
        offset: r.offset,
        maxRecords: 1,
      });
      expect(dec(records[0]!.key)).toBe(keys[i]!);
      expect(records[0]!.headers.map((h) => dec(h.value))).toEqual(["C"]);
    }
    expect(await b.fetchOffsets("dash")).toMatchObject([
      { topic: "sensors", partition: 0, offset: 1, metadata: "x" },
    ]);
    // Appends continue after the recovered end.
    const more = await b.produce({ topic: "sensors", partition: 0, records: [{ value: enc("after") }] });
    expect(more.records[0]!.offset).toBe(before[0]!.logEndOffset);
  });

  it("a deleted topic stays deleted and its data is gone", async () => {
    let b = await open();
    await b.createTopic({ name: "gone" });
    await b.produce({ topic: "gone", records: [{ value: enc("x") }] });
    await b.deleteTopic("gone");
    await b.close();
    b = await open();
    expect(await b.listTopics()).toEqual([]);
    await b.createTopic({ name: "gone" });
    expect(b.partitionState("gone", 0).logEndOffset).toBe(0);
    expect(await readValues(b, "gone", 0)).toEqual([]);
  });
});
