/** MQTT over WebSocket (subprotocol "mqtt") through Bun.serve, with MQTT.js. */
import { afterEach, describe, expect, it } from "bun:test";
import mqtt from "mqtt";
import { type MqttWebSocketData, mqttWebSocketUpgrade } from "../../bridges/mqtt/index.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";

let server: TestServer | undefined;
let http: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  http?.stop(true);
  http = undefined;
  await server?.close();
  server = undefined;
});

describe("MQTT over WebSocket", () => {
  it("[MQTT-6.0.0-3] serves /mqtt with subprotocol mqtt; WS and TCP clients talk to each other", async () => {
    server = await startServer();
    const handlers = server.listener.websocket;
    http = Bun.serve<MqttWebSocketData>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        const upgrade = new URL(req.url).pathname === "/mqtt" ? mqttWebSocketUpgrade(req) : null;
        if (upgrade && srv.upgrade(req, upgrade)) return undefined;
        return new Response("not found", { status: 404 });
      },
      websocket: handlers,
    });
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${http.port}/mqtt`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const got = collect(ws);
    await ws.subscribeAsync("ws/#", { qos: 1 });
    const tcp = await server.connect({ protocolVersion: 4 });
    const gotTcp = collect(tcp);
    await tcp.subscribeAsync("tcp/#", { qos: 1 });
    await tcp.publishAsync("ws/hello", "from tcp", { qos: 1 });
    await ws.publishAsync("tcp/hello", "from ws", { qos: 2 });
    await until(() => got.length === 1 && gotTcp.length === 1);
    expect(got[0]!.payload).toBe("from tcp");
    expect(gotTcp[0]!.payload).toBe("from ws");
    expect(server.listener.bridge.connections.has(ws.options.clientId!)).toBe(true);
    await ws.endAsync();
  });
});
