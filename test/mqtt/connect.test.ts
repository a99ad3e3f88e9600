/** CONNECT/CONNACK, keep-alive, takeover, DISCONNECT, PINGREQ and bad input, with MQTT.js and raw sockets. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { IConnackPacket, IDisconnectPacket } from "mqtt-packet";
import { rawConnect } from "./raw-client.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";

let server: TestServer;
afterEach(async () => {
  await server.close();
});

describe("CONNECT / CONNACK", () => {
  beforeEach(async () => {
    server = await startServer({ serverKeepAlive: undefined });
  });

  it("accepts MQTT 3.1.1 and 5.0 clients (MQTT.js)", async () => {
    const v4 = await server.connect({ protocolVersion: 4, clientId: "c-v4" });
    const v5 = await server.connect({ protocolVersion: 5, clientId: "c-v5" });
    expect(v4.connected).toBe(true);
    expect(v5.connected).toBe(true);
    expect(server.listener.bridge.connections.has("c-v4")).toBe(true);
    expect(server.listener.bridge.connections.has("c-v5")).toBe(true);
  });

  it("[MQTT-3.1.3-6][MQTT-3.2.2-16] assigns a client id to an empty one (v5) and returns it", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "", clean: true, keepalive: 0 });
    const ack = (await raw.next()) as IConnackPacket;
    expect(ack.cmd).toBe("connack");
    expect(ack.reasonCode).toBe(0);
    const assigned = ack.properties?.assignedClientIdentifier;
    expect(assigned).toStartWith("eddy-");
    expect(server.listener.bridge.connections.has(assigned!)).toBe(true);
    expect(ack.properties?.receiveMaximum).toBe(100);
    expect(ack.properties?.maximumPacketSize).toBe(1024 * 1024);
    raw.end();
  });

  it("accepts MQTT 3.1 (MQIsdp) clients", async () => {
    const v3 = await server.connect({ protocolVersion: 3, protocolId: "MQIsdp", clientId: "old-timer" });
    const got = collect(v3);
    await v3.subscribeAsync("legacy", { qos: 1 });
    await v3.publishAsync("legacy", "still works", { qos: 1 });
    await until(() => got.length === 1);
    expect(got[0]!.payload).toBe("still works");
  });

  it("returns Response Information when a v5 client requests it", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "asker",
      clean: true,
      keepalive: 0,
      properties: { requestResponseInformation: true },
    });
    const ack = (await raw.next()) as IConnackPacket;
    expect(ack.properties?.responseInformation).toBe("response/asker");
    raw.end();
  });

  it("[MQTT-3.1.3-8] 3.1.1: empty client id with clean session 0 gets 0x02 and a close", async () => {
    const raw = await rawConnect(server.listener.port, 4);
    // CONNECT "MQTT" level 4, flags 0 (clean session 0), keepalive 0, client id ""
    raw.sendBytes([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const ack = (await raw.next()) as IConnackPacket;
    expect(ack.returnCode).toBe(2);
    expect(ack.sessionPresent).toBe(false);
    await raw.closed;
  });

  it("[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and a close", async () => {
    const raw = await rawConnect(server.listener.port, 4);
    // CONNECT, protocol "MQTT", level 6, clean, keepalive 0, client id "x"
    raw.sendBytes([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x01, 0x78]);
    const ack = (await raw.next()) as IConnackPacket;
    expect(ack.cmd).toBe("connack");
    expect(ack.returnCode).toBe(1);
    await raw.closed;
  });

  it("[MQTT-3.1.0-1] a first packet that is not CONNECT closes the connection", async () => {
    const raw = await rawConnect(server.listener.port, 4);
    raw.send({ cmd: "pingreq" });
    await raw.closed;
    expect(await raw.next()).toBeNull();
  });

  it("[MQTT-3.1.0-2] a second CONNECT is a protocol error (v5: DISCONNECT 0x82)", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "twice", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "twice", clean: true, keepalive: 0 });
    const d = (await raw.next()) as IDisconnectPacket;
    expect(d.cmd).toBe("disconnect");
    expect(d.reasonCode).toBe(0x82);
    await raw.closed;
  });

  it("[MQTT-3.12.4-1] answers PINGREQ with PINGRESP", async () => {
    const raw = await rawConnect(server.listener.port, 4);
    raw.send({ cmd: "connect", protocolVersion: 4, clientId: "pinger", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.send({ cmd: "pingreq" });
    expect((await raw.next())?.cmd).toBe("pingresp");
    raw.end();
  });

  it("[MQTT-3.1.4-3] a second connection with the same client id takes over (v5: DISCONNECT 0x8E)", async () => {
    const first = await rawConnect(server.listener.port, 5);
    first.send({ cmd: "connect", protocolVersion: 5, clientId: "same", clean: true, keepalive: 0 });
    expect((await first.next())?.cmd).toBe("connack");
    const second = await server.connect({ protocolVersion: 5, clientId: "same" });
    const d = (await first.next()) as IDisconnectPacket;
    expect(d.cmd).toBe("disconnect");
    expect(d.reasonCode).toBe(0x8e);
    await first.closed;
    expect(second.connected).toBe(true);
    await second.publishAsync("still/alive", "x", { qos: 1 });
  });

  it("[MQTT-3.1.2-22] closes a connection silent for 1.5 x keep alive (v5: 0x8D)", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "sleepy", clean: true, keepalive: 1 });
    expect((await raw.next())?.cmd).toBe("connack");
    const d = (await raw.next(5000)) as IDisconnectPacket;
    expect(d.cmd).toBe("disconnect");
    expect(d.reasonCode).toBe(0x8d);
    await raw.closed;
  });
});

describe("connect timeout", () => {
  beforeEach(async () => {
    server = await startServer({ connectTimeoutMs: 200 });
  });

  it("closes a connection that sends no CONNECT", async () => {
    const raw = await rawConnect(server.listener.port, 4);
    raw.sendBytes([0x10]); // half a fixed header, then silence
    await raw.closed;
    expect(await raw.next()).toBeNull();
  });
});

describe("server keep alive and limits", () => {
  beforeEach(async () => {
    server = await startServer({ serverKeepAlive: 30, maxPacketSize: 200, maxSessionExpiry: 60 });
  });

  it("[MQTT-3.2.2-21] announces Server Keep Alive; caps Session Expiry and says so", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "ka",
      clean: true,
      keepalive: 0,
      properties: { sessionExpiryInterval: 3600 },
    });
    const ack = (await raw.next()) as IConnackPacket;
    expect(ack.properties?.serverKeepAlive).toBe(30);
    expect(ack.properties?.sessionExpiryInterval).toBe(60);
    expect(server.listener.bridge.sessions.get("ka")?.expiryInterval).toBe(60);
    raw.end();
  });

  it("[MQTT-3.1.2-24] a packet over the maximum packet size: v5 DISCONNECT 0x95", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "big", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.send({ cmd: "publish", topic: "a", payload: Buffer.alloc(500), qos: 0, dup: false, retain: false });
    const d = (await raw.next()) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x95);
    await raw.closed;
  });

  it("[MQTT-4.13.1-1] malformed packets: v5 DISCONNECT 0x81, 3.1.1 close; the listener keeps serving", async () => {
    const v5 = await rawConnect(server.listener.port, 5);
    v5.send({ cmd: "connect", protocolVersion: 5, clientId: "bad5", clean: true, keepalive: 0 });
    expect((await v5.next())?.cmd).toBe("connack");
    v5.sendBytes([0x30, 0x03, 0x00, 0x05, 0x61]); // PUBLISH whose topic runs past the packet
    const d = (await v5.next()) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x81);
    await v5.closed;

    const empty = await rawConnect(server.listener.port, 5);
    empty.send({ cmd: "connect", protocolVersion: 5, clientId: "empty5", clean: true, keepalive: 0 });
    expect((await empty.next())?.cmd).toBe("connack");
    empty.sendBytes([0x82, 0x03, 0x00, 0x01, 0x00]); // SUBSCRIBE with no topic filter [MQTT-3.8.3-2]
    expect(((await empty.next()) as IDisconnectPacket).reasonCode).toBe(0x82);
    await empty.closed;

    const v4 = await rawConnect(server.listener.port, 4);
    v4.send({ cmd: "connect", protocolVersion: 4, clientId: "bad4", clean: true, keepalive: 0 });
    expect((await v4.next())?.cmd).toBe("connack");
    v4.sendBytes([0x36, 0x03, 0x00, 0x01, 0x61]); // PUBLISH with QoS 3
    await v4.closed;
    expect(await v4.next()).toBeNull();

    const garbage = await rawConnect(server.listener.port, 4);
    garbage.sendBytes(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff));
    await garbage.closed;

    const ok = await server.connect({ protocolVersion: 4 });
    await ok.publishAsync("after/garbage", "fine", { qos: 1 });
  });

  it("[MQTT-3.3.2-2] a PUBLISH topic with wildcards ends the connection (v5: 0x90)", async () => {
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "wild", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.send({ cmd: "publish", topic: "a/+", payload: Buffer.from("x"), qos: 0, dup: false, retain: false });
    const d = (await raw.next()) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x90);
  });
});
