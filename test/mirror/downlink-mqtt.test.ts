/** End to end: a command produced at central comes down the mirror and reaches an MQTT device at the edge. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startMirror } from "../../bridges/mirror/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { collect, startServer, type TestServer, until } from "../mqtt/harness.ts";
import { type CentralEddy, startCentralEddy } from "./central-eddy.ts";
import { waitFor } from "./helpers.ts";

let central: CentralEddy;
let edge: TestServer;
beforeAll(async () => {
  central = await startCentralEddy();
  edge = await startServer({
    mapping: { reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }] },
  });
});
afterAll(async () => {
  await edge?.close();
  await central?.close();
});

describe("downlink into the MQTT reverse mapping", () => {
  it("delivers central `commands` records to the subscribed device, in order", async () => {
    await central.broker.createTopic({ name: "commands", partitions: 1 });
    const mirror = await startMirror({
      broker: edge.broker,
      links: [
        {
          name: "hq",
          bootstrap_servers: [central.bootstrap],
          retry_backoff_ms: 20,
          request_timeout_ms: 2000,
          downlink: { topics: ["commands"], poll_wait_ms: 50 },
        },
      ],
      logger: silentLogger,
      clock: systemClock,
    });
    try {
      const device = await edge.connect({ protocolVersion: 5, clientId: "dev7" });
      const got = collect(device);
      await device.subscribeAsync("devices/dev7/commands", { qos: 1 });
      await waitFor("downlink ready", () =>
        mirror.status()[0]?.downlink?.[0]?.state === "idle" ? true : undefined,
      );
      const enc = new TextEncoder();
      await central.broker.produce({
        topic: "commands",
        partition: 0,
        records: ["reboot", "update", "ping"].map((cmd, i) => ({
          key: enc.encode(i === 1 ? "dev8" : "dev7"),
          value: enc.encode(cmd),
        })),
      });
      await until(() => got.length >= 2, 10_000, "two commands at dev7");
      expect(got.map((m) => [m.topic, m.payload])).toEqual([
        ["devices/dev7/commands", "reboot"],
        ["devices/dev7/commands", "ping"],
      ]);
    } finally {
      await mirror.close();
    }
  }, 20_000);
});
