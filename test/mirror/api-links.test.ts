/**
 * Links managed at runtime (the HTTP API's addLink/removeLink) against a
 * second Eddy as the central cluster: a link added while running forwards,
 * removing it releases its retention floors, and a restart starts the stored
 * link again (config wins on a name clash).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LINKS_TOPIC, type Mirror, startMirror } from "../../bridges/mirror/index.ts";
import { type Broker, isEddyError } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

const HOUR = 3_600_000;
let central: CentralEddy;
let dir: string;
beforeAll(async () => {
  central = await startCentralEddy();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-mirror-api-"));
});
afterAll(async () => {
  await central?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function apiLink(topics: string[]) {
  return {
    bootstrap_servers: [central.bootstrap],
    topics,
    remote_naming: "identity" as const,
    retry_backoff_ms: 20,
    max_backoff_ms: 200,
    request_timeout_ms: 3000,
    discovery_interval_ms: 100,
  };
}
const configLink = (name: string) => ({ name, ...apiLink(["nothing-here"]) });

async function codeOf(p: Promise<unknown>): Promise<{ code: string; path?: unknown }> {
  try {
    await p;
  } catch (err) {
    if (isEddyError(err))
      return { code: err.code, path: (err.details as { path?: unknown } | undefined)?.path };
    throw err;
  }
  return { code: "none" };
}

async function centralValues(topic: string, n: number): Promise<string[]> {
  return waitFor(`${n} records of ${topic} at central`, async () => {
    const got = valuesOf(await central.records(topic, 0));
    return got.length >= n ? got : undefined;
  });
}

describe("mirror links added over the API", () => {
  let edge: Broker | undefined;
  let mirror: Mirror | undefined;
  afterAll(async () => {
    await mirror?.close();
    await edge?.close();
  });

  it("start and stop at runtime; removal releases the retention floor", async () => {
    edge = await createEdge({ dataDir: dir });
    await edge.createTopic({ name: "alarms", partitions: 1 });
    mirror = await startMirror({
      broker: edge,
      links: [configLink("cfg")],
      logger: silentLogger,
      clock: systemClock,
    });
    expect(mirror.status().map((l) => [l.name, l.source])).toEqual([["cfg", "config"]]);
    expect(() => edge!.partitionState(LINKS_TOPIC, 0)).toThrow(); // created by the first stored link only

    await edge.produce({ topic: "alarms", partition: 0, records: values(5, 0, "a") });
    const added = await mirror.addLink("up", apiLink(["alarms"]));
    expect(added.created).toBe(true);
    expect(added.status?.source).toBe("api");
    expect(await centralValues("alarms", 5)).toEqual(["a0", "a1", "a2", "a3", "a4"]);
    expect(mirror.status().map((l) => [l.name, l.source])).toEqual([
      ["cfg", "config"],
      ["up", "api"],
    ]);

    // Validation names the key path; config links cannot be changed; the body's name must match.
    expect(await codeOf(mirror.addLink("bad", { topics: ["alarms"] }))).toEqual({
      code: "INVALID_CONFIG",
      path: "bootstrap_servers",
    });
    expect(
      await codeOf(mirror.addLink("bad", { ...apiLink(["alarms"]), batch: { max_records: 0 } })),
    ).toEqual({
      code: "INVALID_CONFIG",
      path: "batch.max_records",
    });
    expect((await codeOf(mirror.addLink("bad", { ...apiLink(["a"]), name: "other" }))).code).toBe(
      "INVALID_CONFIG",
    );
    expect((await codeOf(mirror.addLink("cfg", apiLink(["alarms"])))).code).toBe("INVALID_REQUEST");
    expect((await codeOf(mirror.removeLink("cfg"))).code).toBe("INVALID_REQUEST");
    expect((await codeOf(mirror.removeLink("nope"))).code).toBe("NOT_FOUND");

    // A link that cannot deliver holds old records back from retention until it is removed.
    await edge.createTopic({
      name: "held",
      partitions: 1,
      configs: { "segment.bytes": 200, "retention.ms": 60_000 },
    });
    const enc = new TextEncoder();
    for (let b = 0; b < 6; b++) {
      await edge.produce({
        topic: "held",
        partition: 0,
        records: [0, 1, 2].map((i) => ({ value: enc.encode(`h${b * 3 + i}`), timestamp: Date.now() - HOUR })),
      });
    }
    await central.stopListener();
    try {
      await mirror.addLink("stuck", apiLink(["held"]));
      await edge.runHousekeeping();
      expect(edge.partitionState("held", 0).logStartOffset).toBe(0);
      await mirror.removeLink("stuck");
      expect(mirror.status().map((l) => l.name)).toEqual(["cfg", "up"]);
      await edge.runHousekeeping();
      expect(edge.partitionState("held", 0).logStartOffset).toBeGreaterThan(0);
    } finally {
      await central.startListener();
    }
    expect((await codeOf(mirror.removeLink("stuck"))).code).toBe("NOT_FOUND");

    // Replacing keeps the link's progress: nothing is sent twice.
    const replaced = await mirror.addLink("up", { ...apiLink(["alarms"]), compression: "gzip" });
    expect(replaced.created).toBe(false);
    await edge.produce({ topic: "alarms", partition: 0, records: values(2, 5, "a") });
    expect(await centralValues("alarms", 7)).toEqual(["a0", "a1", "a2", "a3", "a4", "a5", "a6"]);
  });

  it("restarts stored links, without duplicates; a config link of the same name wins", async () => {
    await mirror!.close();
    await edge!.close();
    edge = await createEdge({ dataDir: dir });
    mirror = await startMirror({
      broker: edge,
      links: [configLink("cfg")],
      logger: silentLogger,
      clock: systemClock,
    });
    expect(mirror.status().map((l) => [l.name, l.source])).toEqual([
      ["cfg", "config"],
      ["up", "api"],
    ]);
    await edge.produce({ topic: "alarms", partition: 0, records: values(3, 7, "a") });
    const all = await centralValues("alarms", 10);
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    await Bun.sleep(200); // nothing more may arrive
    expect(valuesOf(await central.records("alarms", 0))).toHaveLength(10);

    await mirror.close();
    mirror = await startMirror({
      broker: edge,
      links: [configLink("cfg"), configLink("up")],
      logger: silentLogger,
      clock: systemClock,
    });
    expect(mirror.status().map((l) => [l.name, l.source])).toEqual([
      ["cfg", "config"],
      ["up", "config"],
    ]);
  });
});
