/** The mirror bridge against librdkafka's mock cluster: order, status, progress. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type Mirror, PROGRESS_TOPIC, startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { createEdge, type MockCluster, readCentral, startMockCluster, values, waitFor } from "./helpers.ts";

let central: MockCluster;
beforeAll(async () => {
  central = await startMockCluster();
});
afterAll(async () => {
  await central?.stop();
});

function link(name: string, topics: string[], extra: Record<string, unknown> = {}) {
  return {
    name,
    bootstrap_servers: [central.bootstrap],
    topics,
    source_id: "edge1",
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 3000,
    discovery_interval_ms: 100,
    ...extra,
  };
}

describe("mirror link", () => {
  let edge: Broker;
  let mirror: Mirror | undefined;
  beforeAll(async () => {
    edge = await createEdge();
  });
  afterAll(async () => {
    await mirror?.close();
    await edge.close();
  });

  it("delivers every record of each partition in order, with source headers", async () => {
    await edge.createTopic({ name: "telemetry", partitions: 2 });
    await edge.produce({ topic: "telemetry", partition: 0, records: values(30, 0, "a") });
    await edge.produce({ topic: "telemetry", partition: 1, records: values(20, 0, "b") });
    mirror = await startMirror({
      broker: edge,
      links: [link("l1", ["telemetry"])],
      logger: silentLogger,
      clock: systemClock,
    });
    await edge.produce({ topic: "telemetry", partition: 0, records: values(10, 30, "a") });

    const p0 = await waitFor("partition 0 at central", async () => {
      const got = await readCentral(central.bootstrap, "edge1.telemetry", 0);
      return got.length >= 40 ? got : undefined;
    });
    expect(p0.map((r) => r.value)).toEqual(Array.from({ length: 40 }, (_, i) => `a${i}`));
    expect(p0.map((r) => r.key)).toEqual(Array.from({ length: 40 }, (_, i) => `k${i}`));
    expect(p0[7]!.headers).toMatchObject({
      "eddy.mirror.src": "edge1/telemetry/0",
      "eddy.mirror.offset": "7",
    });
    const p1 = await waitFor("partition 1 at central", async () => {
      const got = await readCentral(central.bootstrap, "edge1.telemetry", 1);
      return got.length >= 20 ? got : undefined;
    });
    expect(p1.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => `b${i}`));

    const status = await waitFor("caught up", () => {
      const s = mirror!.status()[0]!;
      return s.lagRecords === 0 && s.partitions.length === 2 ? s : undefined;
    });
    expect(status.name).toBe("l1");
    expect(status.partitions.map((p) => [p.topic, p.partition, p.mirroredOffset, p.remoteTopic])).toEqual([
      ["telemetry", 0, 40, "edge1.telemetry"],
      ["telemetry", 1, 20, "edge1.telemetry"],
    ]);
    expect(["forwarding", "idle"]).toContain(status.state);
    expect(status.partitions[0]!.sentRecords).toBe(40);
    expect(status.partitions[0]!.lastError).toBeNull();

    // Progress is persisted in the compacted internal topic, keyed by link/topic/partition.
    const progress = await edge.readRecords({
      topic: PROGRESS_TOPIC,
      partition: 0,
      offset: 0,
      maxRecords: 1000,
    });
    const latest = new Map<string, number>();
    for (const r of progress.records) {
      latest.set(new TextDecoder().decode(r.key!), JSON.parse(new TextDecoder().decode(r.value!)).offset);
    }
    expect(latest.get("l1/telemetry/0")).toBe(40);
    expect(latest.get("l1/telemetry/1")).toBe(20);
  });

  it("maps by key (each key's records in order), and starts a new link at the latest offset when told", async () => {
    await mirror?.close();
    await edge.createTopic({ name: "keyed", partitions: 1 });
    await edge.produce({ topic: "keyed", partition: 0, records: values(5, 0, "old") });
    mirror = await startMirror({
      broker: edge,
      links: [link("l3", ["keyed"], { partition_mapping: "by-key", start_position: "latest" })],
      logger: silentLogger,
      clock: systemClock,
    });
    await waitFor("forwarder ready", () => (mirror!.status()[0]!.state === "idle" ? true : undefined));
    const enc = new TextEncoder();
    const keys = ["a", "b", "c", "d", "e", "f"];
    const records = Array.from({ length: 60 }, (_, i) => ({
      key: enc.encode(keys[i % keys.length]!),
      value: enc.encode(`${keys[i % keys.length]}-${i}`),
    }));
    await edge.produce({ topic: "keyed", partition: 0, records });
    const all = await waitFor("60 records at central", async () => {
      const parts = await Promise.all(
        [0, 1, 2, 3].map((p) => readCentral(central.bootstrap, "edge1.keyed", p)),
      );
      const flat = parts.flat();
      return flat.length >= 60 ? parts : undefined;
    });
    const flat = all.flat();
    expect(flat.length).toBe(60);
    expect(flat.some((r) => r.value?.startsWith("old"))).toBe(false);
    for (const key of keys) {
      const holders = all.filter((part) => part.some((r) => r.key === key));
      expect(holders.length).toBe(1); // one key, one remote partition
      const seen = holders[0]!.filter((r) => r.key === key).map((r) => r.value);
      expect(seen).toEqual(
        records.filter((_, i) => keys[i % keys.length] === key).map((r) => new TextDecoder().decode(r.value)),
      );
    }
    expect(mirror.status()[0]!.partitions[0]!.remotePartition).toBeNull();
  });

  it("picks up topics created later that match a regex, and skips internal topics", async () => {
    await mirror?.close();
    mirror = await startMirror({
      broker: edge,
      links: [link("l2", ["/alarm\\..*/"], { remote_naming: "identity" })],
      logger: silentLogger,
      clock: systemClock,
    });
    await edge.createTopic({ name: "alarm.fire", partitions: 1 });
    await edge.produce({ topic: "alarm.fire", partition: 0, records: values(5) });
    await mirror.discover();
    const got = await waitFor("alarm.fire at central", async () => {
      const r = await readCentral(central.bootstrap, "alarm.fire", 0);
      return r.length >= 5 ? r : undefined;
    });
    expect(got.map((r) => r.value)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    expect(mirror.status()[0]!.partitions.map((p) => p.topic)).toEqual(["alarm.fire"]);
  });
});
