/** GET /v1/mapping (the active topic mapping) and the node list of GET /v1/cluster. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHttpApp } from "../../src/http/app.ts";
import { clusterNodes } from "../../src/http/routes/cluster.ts";
import { StatsHistory } from "../../src/http/stats-history.ts";
import { systemClock } from "../../src/util/clock.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

function appWith(opts: Partial<Parameters<typeof createHttpApp>[0]>) {
  const statsHistory = new StatsHistory({ read: () => h.broker.stats(), clock: systemClock });
  return createHttpApp({ broker: h.broker, statsHistory, ...opts });
}

describe("GET /v1/mapping", () => {
  it("answers the zero-config mapping when none is given", async () => {
    const res = await h.app.request("/v1/mapping");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      rules: [],
      reverse: [],
      defaultTopic: "mqtt",
      visibleTopics: ["mqtt"],
    });
  });

  it("answers the configured rules in order, with the defaults filled in", async () => {
    const app = appWith({
      mapping: {
        rules: [
          { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" },
          { filter: "logs/#", topic: "logs" },
        ],
        reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands" }],
        defaultTopic: null,
      },
    });
    expect(await (await app.request("/v1/mapping")).json()).toEqual({
      rules: [
        { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" },
        { filter: "logs/#", topic: "logs", key: "{topic}" },
      ],
      reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }],
      defaultTopic: null,
      visibleTopics: ["telemetry", "logs", "commands"],
    });
  });

  it("reports an invalid mapping as INVALID_CONFIG", async () => {
    const app = appWith({ mapping: { rules: [{ filter: "a/#/b", topic: "x" }] } });
    const res = await app.request("/v1/mapping");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("INVALID_CONFIG");
  });
});

describe("GET /v1/cluster nodes", () => {
  it("on a single node: this node, alive, no peer URL", async () => {
    const body = (await (await h.app.request("/v1/cluster")).json()) as { mode: string; nodes: unknown[] };
    expect(body.mode).toBe("single");
    expect(body.nodes).toEqual([
      { id: h.broker.nodeId, kafkaHost: null, kafkaPort: null, url: null, witness: false, alive: true },
    ]);
  });

  it("merges data nodes, Raft voters (witnesses, liveness) and the configured peer URLs", () => {
    const nodes = clusterNodes(
      [
        { id: 2, kafkaHost: "b", kafkaPort: 9092 },
        { id: 1, kafkaHost: "a", kafkaPort: 9092 },
      ],
      {
        nodeId: 1,
        controllerId: 1,
        ready: true,
        raft: {} as never,
        nodes: [
          { id: 1, witness: false, alive: true },
          { id: 2, witness: false, alive: false },
          { id: 3, witness: true, alive: true },
        ],
      },
      [
        { id: 1, url: "https://a:9093", witness: false },
        { id: 2, url: "https://b:9093", witness: false },
        { id: 3, url: "https://c:9093", witness: true },
      ],
    );
    expect(nodes).toEqual([
      { id: 1, kafkaHost: "a", kafkaPort: 9092, url: "https://a:9093", witness: false, alive: true },
      { id: 2, kafkaHost: "b", kafkaPort: 9092, url: "https://b:9093", witness: false, alive: false },
      { id: 3, kafkaHost: null, kafkaPort: null, url: "https://c:9093", witness: true, alive: true },
    ]);
    // Without the Raft status (this node is not started yet): liveness unknown.
    expect(clusterNodes([{ id: 1, kafkaHost: null, kafkaPort: null }], null, [])[0]?.alive).toBeNull();
  });
});
