/** Operator views: clients, sessions with backlog, disconnect, explain. */
import { afterEach, describe, expect, it } from "bun:test";
import type { IDisconnectPacket } from "mqtt-packet";
import { disconnectClient, explain, listClients, listSessions } from "../../bridges/mqtt/index.ts";
import { rawConnect } from "./raw-client.ts";
import { startServer, type TestServer } from "./harness.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("admin", () => {
  it("lists clients and sessions (with backlog), explains a topic, disconnects a client with 0x98", async () => {
    server = await startServer({
      mapping: { rules: [{ filter: "sensors/+/temp", topic: "telemetry", key: "{1}" }] },
    });
    const bridge = server.listener.bridge;
    const offline = await server.connect({ protocolVersion: 4, clientId: "away", clean: false });
    await offline.subscribeAsync("sensors/#", { qos: 1 });
    await offline.endAsync();
    const online = await server.connect({ protocolVersion: 5, clientId: "here" });
    await online.subscribeAsync(["sensors/+/temp", "$share/g/sensors/#"], { qos: 1 });
    const pub = await server.connect({ protocolVersion: 4, clientId: "pub" });
    await pub.publishAsync("sensors/s1/temp", "20", { qos: 1 });

    expect(
      listClients(bridge)
        .map((c) => c.clientId)
        .sort(),
    ).toEqual(["here", "pub"]);
    const away = listSessions(bridge).find((s) => s.clientId === "away")!;
    expect(away.connected).toBe(false);
    expect(away.subscriptions).toEqual([{ filter: "sensors/#", qos: 1 }]);
    expect(away.backlog).toBe(1);

    const e = await explain(bridge, "sensors/s1/temp");
    expect(e.stored).toMatchObject({ streamTopic: "telemetry", key: "s1" });
    expect(e.subscribers.map((s) => [s.clientId, s.filter, s.connected]).sort()).toEqual([
      ["away", "sensors/#", false],
      ["here", "sensors/+/temp", true],
    ]);
    expect(e.sharedGroups).toEqual([{ group: "g", filter: "sensors/#", members: 1 }]);

    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "kick-me", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    expect(disconnectClient(bridge, "kick-me")).toBe(true);
    expect(((await raw.next()) as IDisconnectPacket).reasonCode).toBe(0x98);
    await raw.closed;
    expect(disconnectClient(bridge, "nobody")).toBe(false);
  });
});
