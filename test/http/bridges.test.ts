/**
 * The bridge endpoints of the HTTP API over fake providers (src/http knows no
 * bridge), the bridge metrics and mirror health, and the server's WebSocket hook.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createBroker } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { type CoapObservationView, MAX_LISTED_OBSERVATIONS } from "../../src/http/routes/coap.ts";
import type { MirrorLinkView } from "../../src/http/routes/mirror.ts";
import type { MqttAdmin } from "../../src/http/routes/mqtt.ts";
import { type HttpServer, startHttpServer } from "../../src/http/server.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { attachMirrorMetrics, attachMqttMetrics } from "../../src/observability/bridge-metrics.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { MetricsRegistry } from "../../src/observability/metrics.ts";
import { createMirrorHealth } from "../../src/observability/mirror-health.ts";
import type { Clock } from "../../src/util/clock.ts";
import { systemClock } from "../../src/util/clock.ts";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function newBroker() {
  const metadata = await openMetadataStore({ path: ":memory:" });
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
  });
  cleanup.push(() => broker.close());
  return broker;
}

function link(state: MirrorLinkView["state"], lag: number): MirrorLinkView {
  return {
    name: "central",
    bootstrapServers: ["kafka:9092"],
    state,
    lagRecords: lag,
    skippedRecords: 0,
    lastError: state === "down" ? { message: "connection refused", at: 1 } : null,
    partitions: [
      {
        topic: "alarms",
        partition: 0,
        remoteTopic: "edge.alarms",
        remotePartition: 0,
        priority: 0,
        state,
        mirroredOffset: 3,
        highWatermark: 3 + lag,
        lagRecords: lag,
        lagBytes: lag * 10,
        lagAgeMs: 1500,
        sentRecords: 3,
        sentBytes: 30,
        skippedRecords: 0,
        skipped: [],
        lastError: null,
        lastSentAt: null,
        failedAttempts: 0,
      },
    ],
  };
}

describe("bridge endpoints", () => {
  it("answer 404 with a hint while a bridge is off; the mirror lists no links", async () => {
    const app = createHttpApp({ broker: await newBroker() });
    const clients = await app.request("/v1/mqtt/clients");
    expect(clients.status).toBe(404);
    expect(((await clients.json()) as { error: { message: string } }).error.message).toContain(
      "--mqtt-listen",
    );
    expect((await app.request("/v1/coap/observers")).status).toBe(404);
    expect(await (await app.request("/v1/mirror/links")).json()).toEqual({ links: [] });
  });

  it("serve MQTT clients, sessions, explain and disconnect from the provider", async () => {
    const disconnected: string[] = [];
    const mqtt: MqttAdmin = {
      clients: () => [
        {
          clientId: "dev-1",
          user: null,
          protocolVersion: 5,
          remoteAddress: "127.0.0.1",
          keepAlive: 60,
          subscriptions: 1,
          inflight: 0,
          queuedBytes: 0,
        },
      ],
      sessions: () => [],
      disconnect: (id) => {
        disconnected.push(id);
        return id === "dev-1";
      },
      explain: async (topic) => ({
        topic,
        stored: { streamTopic: "mqtt", key: topic, partition: 0 },
        subscribers: [],
        sharedGroups: [],
      }),
    };
    const observation: CoapObservationView = {
      source: "10.0.0.7:40001",
      path: "/ps/data/sensors",
      resource: "sensors",
      topic: "sensors",
      tokenHex: "ab01",
      seq: 12,
      notifications: 11,
      lastNotifiedAt: 1_700_000_000_000,
      conOutstanding: true,
    };
    let listLimit = 0;
    const app = createHttpApp({
      broker: await newBroker(),
      mqtt,
      coap: {
        observers: () => 2,
        address: () => "127.0.0.1:5683",
        observations: (limit) => {
          listLimit = limit;
          return [observation];
        },
      },
    });
    const clients = (await (await app.request("/v1/mqtt/clients")).json()) as { clients: unknown[] };
    expect(clients.clients).toEqual([expect.objectContaining({ clientId: "dev-1", protocolVersion: 5 })]);
    expect(await (await app.request("/v1/mqtt/sessions")).json()).toEqual({ sessions: [] });
    const explained = await app.request("/v1/mqtt/explain?topic=a%2Fb");
    expect(await explained.json()).toMatchObject({
      topic: "a/b",
      stored: { streamTopic: "mqtt", key: "a/b" },
    });
    expect((await app.request("/v1/mqtt/explain")).status).toBe(400);
    const del = await app.request("/v1/mqtt/clients/dev-1", { method: "DELETE" });
    expect(await del.json()).toEqual({ clientId: "dev-1", disconnected: true });
    expect((await app.request("/v1/mqtt/clients/ghost", { method: "DELETE" })).status).toBe(404);
    expect(disconnected).toEqual(["dev-1", "ghost"]);
    expect(await (await app.request("/v1/coap/observers")).json()).toEqual({
      address: "127.0.0.1:5683",
      observers: 2,
      observations: [observation],
    });
    expect(listLimit).toBe(MAX_LISTED_OBSERVATIONS);
    // A provider without a list (an older bridge) answers an empty one.
    const bare = createHttpApp({
      broker: await newBroker(),
      coap: { observers: () => 0, address: () => "127.0.0.1:5683" },
    });
    expect(await (await bare.request("/v1/coap/observers")).json()).toMatchObject({ observations: [] });
  });
});

describe("bridge metrics", () => {
  it("expose MQTT gauges and counters and mirror lag per link and partition", async () => {
    const registry = new MetricsRegistry();
    const stats = { messagesIn: [2, 1, 0], messagesOut: [0, 3, 0] };
    attachMqttMetrics(registry, () => ({
      connections: 1,
      sessions: 2,
      retained: 4,
      inflight: 3,
      queued: 7,
      messagesIn: stats.messagesIn,
      messagesOut: stats.messagesOut,
      dropped: { expired: 0, tooLarge: 1 },
      connectionsAccepted: 5,
      connectionsRefused: 0,
    }));
    let links = [link("down", 7)];
    attachMirrorMetrics(registry, () => links);
    stats.messagesIn = [5, 1, 0];
    let text = await registry.expose();
    expect(text).toContain("eddy_mqtt_connections 1\n");
    expect(text).toContain("eddy_mqtt_retained_messages 4\n");
    expect(text).toContain("eddy_mqtt_inflight_messages 3\n");
    expect(text).toContain("eddy_mqtt_queued_messages 7\n");
    expect(text).toContain('eddy_mqtt_messages_in_total{qos="0"} 5\n');
    expect(text).toContain('eddy_mqtt_messages_out_total{qos="1"} 3\n');
    expect(text).toContain('eddy_mqtt_messages_dropped_total{reason="tooLarge"} 1\n');
    expect(text).toContain('eddy_mirror_link_up{link="central"} 0\n');
    expect(text).toContain('eddy_mirror_link_state{link="central",state="down"} 1\n');
    expect(text).toContain('eddy_mirror_lag_records{link="central",topic="alarms",partition="0"} 7\n');
    expect(text).toContain('eddy_mirror_lag_age_seconds{link="central",topic="alarms",partition="0"} 1.5\n');
    expect(text).toContain(
      'eddy_mirror_skipped_records_total{link="central",topic="alarms",partition="0"} 0\n',
    );
    links = [];
    text = await registry.expose();
    expect(text).not.toContain('eddy_mirror_lag_records{link="central"');
  });
});

describe("mirror health", () => {
  it("is degraded while a link is down or its lag keeps rising", () => {
    let now = 0;
    const clock: Clock = { now: () => now, monotonic: () => now } as Clock;
    let links = [link("down", 5)];
    const health = createMirrorHealth({ clock, read: () => links, sampleMs: 1000, growingSamples: 3 });
    expect(health.check()).toEqual({ ok: false, detail: "link central is down: connection refused" });
    links = [link("forwarding", 5)];
    expect(health.check().ok).toBe(true);
    for (const lag of [6, 7, 8]) {
      now += 1000;
      links = [link("forwarding", lag)];
      health.sample();
    }
    expect(health.check()).toEqual({
      ok: false,
      detail: "link central is falling behind (8 records owed and rising)",
    });
    now += 1000;
    links = [link("forwarding", 2)];
    expect(health.check().ok).toBe(true);
  });
});

describe("WebSocket hook of the HTTP server", () => {
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.stop({ graceMs: 10 });
  });

  it("upgrades its path with the offered subprotocol, refuses others, and leaves the API alone", async () => {
    const app = createHttpApp({ broker: await newBroker() });
    server = await startHttpServer({
      app,
      port: 0,
      websocket: {
        path: "/echo",
        upgrade: (req) =>
          req.headers.get("sec-websocket-protocol") === "echo"
            ? { headers: { "Sec-WebSocket-Protocol": "echo" }, data: { hello: "data" } }
            : null,
        handlers: {
          message(ws, msg) {
            ws.send(`${(ws.data as { hello: string }).hello}:${String(msg)}`);
          },
        },
      },
    });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/echo`, "echo");
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("ping");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("websocket failed"));
    });
    expect(reply).toBe("data:ping");
    expect(ws.protocol).toBe("echo");
    ws.close();
    const refused = await fetch(`http://127.0.0.1:${server.port}/echo`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "x",
        "sec-websocket-version": "13",
      },
    });
    expect(refused.status).toBe(400);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
