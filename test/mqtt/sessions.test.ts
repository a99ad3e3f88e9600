/** Persistent sessions (offline messages as log cursors, redelivery, restart), flow control and wills. */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import type { IConnackPacket, IPublishPacket } from "mqtt-packet";
import { rawConnect } from "./raw-client.ts";
import { collect, persistentSession, startServer, type TestServer, tempDir, until } from "./harness.ts";

let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("persistent sessions", () => {
  it("[MQTT-3.1.2-4][MQTT-3.2.2-2] 3.1.1 clean session 0: QoS 1 messages published while offline arrive after reconnect", async () => {
    server = await startServer();
    const sub = await server.connect({ protocolVersion: 4, clientId: "keeper", clean: false });
    await sub.subscribeAsync("offline/#", { qos: 1 });
    await sub.endAsync();
    const pub = await server.connect({ protocolVersion: 4 });
    for (let i = 0; i < 5; i++) await pub.publishAsync(`offline/${i}`, `m${i}`, { qos: 1 });
    const { got, sessionPresent } = await server.resume({
      protocolVersion: 4,
      clientId: "keeper",
      clean: false,
    });
    expect(sessionPresent).toBe(true);
    await until(() => got.length === 5, 3000, "5 offline messages");
    expect(got.map((g) => g.payload)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
  });

  it("[MQTT-3.1.2-4] v5 clean start discards the session; session expiry 0 ends it with the connection", async () => {
    server = await startServer();
    const a = await server.connect(persistentSession("exp", 60));
    await a.subscribeAsync("x", { qos: 1 });
    await a.endAsync();
    expect(server.listener.bridge.sessions.has("exp")).toBe(true);
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "exp", clean: true, keepalive: 0 });
    const ack = (await raw.next()) as IConnackPacket;
    expect(ack.sessionPresent).toBe(false);
    expect(server.listener.bridge.sessions.get("exp")?.subs.size).toBe(0);
    raw.end();
    await raw.closed;
    await until(() => !server!.listener.bridge.sessions.has("exp"), 3000, "session end");
  });

  it("[MQTT-4.4.0-1] unacknowledged QoS 1 messages are resent with DUP and the same packet id on reconnect", async () => {
    server = await startServer();
    const first = await rawConnect(server.listener.port, 4);
    first.send({ cmd: "connect", protocolVersion: 4, clientId: "noack", clean: false, keepalive: 0 });
    expect((await first.next())?.cmd).toBe("connack");
    first.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "dup", qos: 1 }] });
    expect((await first.next())?.cmd).toBe("suback");
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("dup", "once", { qos: 1 });
    const p1 = (await first.next()) as IPublishPacket;
    expect(p1.dup).toBe(false);
    first.end();
    await first.closed;
    const second = await rawConnect(server.listener.port, 4);
    second.send({ cmd: "connect", protocolVersion: 4, clientId: "noack", clean: false, keepalive: 0 });
    expect(((await second.next()) as IConnackPacket).sessionPresent).toBe(true);
    const p2 = (await second.next()) as IPublishPacket;
    expect(p2.dup).toBe(true);
    expect(p2.messageId).toBe(p1.messageId);
    expect(p2.payload.toString()).toBe("once");
    second.send({ cmd: "puback", messageId: p2.messageId! });
    const session = server.listener.bridge.sessions.get("noack")!;
    await until(() => session.inflight.size === 0);
    second.end();
  });

  it("[MQTT-3.3.4-9] never more unacknowledged QoS 1 messages than the client's Receive Maximum", async () => {
    server = await startServer();
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "slow",
      clean: true,
      keepalive: 0,
      properties: { receiveMaximum: 2 },
    });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "flow", qos: 1 }] });
    expect((await raw.next())?.cmd).toBe("suback");
    const pub = await server.connect({ protocolVersion: 4 });
    for (let i = 0; i < 5; i++) await pub.publishAsync("flow", String(i), { qos: 1 });
    const a = (await raw.next()) as IPublishPacket;
    const b = (await raw.next()) as IPublishPacket;
    expect([a.payload.toString(), b.payload.toString()]).toEqual(["0", "1"]);
    await expect(raw.next(300)).rejects.toThrow("no packet");
    raw.send({ cmd: "puback", messageId: a.messageId! });
    const c = (await raw.next()) as IPublishPacket;
    expect(c.payload.toString()).toBe("2");
    await expect(raw.next(300)).rejects.toThrow("no packet");
    raw.end();
  });

  it("[MQTT-4.3.3-2][MQTT-4.3.3-9] inbound QoS 2: PUBREC after storing, a duplicate is not stored twice, PUBREL → PUBCOMP", async () => {
    server = await startServer();
    const raw = await rawConnect(server.listener.port, 4);
    raw.send({ cmd: "connect", protocolVersion: 4, clientId: "q2", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    const publish = {
      cmd: "publish",
      topic: "q2/t",
      payload: Buffer.from("x"),
      qos: 2,
      dup: false,
      retain: false,
      messageId: 9,
    } as const;
    raw.send(publish);
    expect(await raw.next()).toMatchObject({ cmd: "pubrec", messageId: 9 });
    raw.send({ ...publish, dup: true });
    expect(await raw.next()).toMatchObject({ cmd: "pubrec", messageId: 9 });
    raw.send({ cmd: "pubrel", messageId: 9 });
    expect(await raw.next()).toMatchObject({ cmd: "pubcomp", messageId: 9 });
    const all = (await server.broker.describeTopic("mqtt")).partitions.reduce(
      (n, p) => n + p.highWatermark,
      0,
    );
    expect(all).toBe(1);
    raw.end();
  });

  it("survives a broker restart: subscriptions, offline QoS 1 messages (as cursors) and retained messages", async () => {
    dir = tempDir();
    server = await startServer({ dir });
    const sub = await server.connect(persistentSession("durable", 3600));
    await sub.subscribeAsync("plant/#", { qos: 1 });
    await sub.endAsync();
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("plant/a", "1", { qos: 1 });
    await pub.publishAsync("plant/b", "2", { qos: 1 });
    await pub.publishAsync("status/x", "up", { qos: 1, retain: true });
    await server.close();

    server = await startServer({ dir });
    const { got, sessionPresent } = await server.resume(persistentSession("durable", 3600));
    expect(sessionPresent).toBe(true);
    await until(() => got.length === 2, 3000, "offline messages after restart");
    expect(got.map((g) => g.payload)).toEqual(["1", "2"]);
    const fresh = await server.connect({ protocolVersion: 4 });
    const retained = collect(fresh);
    await fresh.subscribeAsync("status/#", { qos: 1 });
    await until(() => retained.length === 1);
    expect(retained[0]!.payload).toBe("up");
  });
});

describe("wills", () => {
  it("[MQTT-3.1.2-8] a will is published when the connection drops; [MQTT-3.1.2-10] a DISCONNECT discards it", async () => {
    server = await startServer();
    const watcher = await server.connect({ protocolVersion: 4 });
    const got = collect(watcher);
    await watcher.subscribeAsync("wills/#", { qos: 1 });
    const polite = await server.connect({
      protocolVersion: 4,
      will: { topic: "wills/polite", payload: Buffer.from("x"), qos: 1, retain: false },
    });
    await polite.endAsync();
    const raw = await rawConnect(server.listener.port, 4);
    raw.send({
      cmd: "connect",
      protocolVersion: 4,
      clientId: "crasher",
      clean: true,
      keepalive: 0,
      will: { topic: "wills/crasher", payload: Buffer.from("gone"), qos: 1, retain: true },
    });
    expect((await raw.next())?.cmd).toBe("connack");
    raw.end();
    await until(() => got.length === 1, 3000, "will");
    expect(got[0]!.topic).toBe("wills/crasher");
    expect(got[0]!.payload).toBe("gone");
    await until(() => server!.listener.bridge.retained.size === 1);
  });

  it("v5: DISCONNECT 0x04 publishes the will; will delay waits and a reconnect cancels it [MQTT-3.1.3-9]", async () => {
    server = await startServer();
    const watcher = await server.connect({ protocolVersion: 5 });
    const got = collect(watcher);
    await watcher.subscribeAsync("w5/#", { qos: 1 });

    const withWill = await rawConnect(server.listener.port, 5);
    withWill.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "w-04",
      clean: true,
      keepalive: 0,
      will: { topic: "w5/04", payload: Buffer.from("bye"), qos: 1, retain: false },
    });
    expect((await withWill.next())?.cmd).toBe("connack");
    withWill.send({ cmd: "disconnect", reasonCode: 0x04 });
    await until(() => got.length === 1, 3000, "will on 0x04");
    expect(got[0]!.topic).toBe("w5/04");

    const delayed = {
      topic: "w5/delayed",
      payload: Buffer.from("late"),
      qos: 1 as const,
      retain: false,
      properties: { willDelayInterval: 1 },
    };
    const d1 = await rawConnect(server.listener.port, 5);
    d1.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "w-delay",
      clean: false,
      keepalive: 0,
      will: delayed,
      properties: { sessionExpiryInterval: 30 },
    });
    expect((await d1.next())?.cmd).toBe("connack");
    d1.end();
    await d1.closed;
    // Reconnect within the delay: the will is cancelled.
    const d2 = await rawConnect(server.listener.port, 5);
    d2.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "w-delay",
      clean: false,
      keepalive: 0,
      will: delayed,
      properties: { sessionExpiryInterval: 30 },
    });
    expect((await d2.next())?.cmd).toBe("connack");
    d2.end();
    await d2.closed;
    // This time nobody comes back: the will arrives after the delay.
    await until(() => got.length === 2, 4000, "delayed will");
    expect(got.map((g) => g.topic)).toEqual(["w5/04", "w5/delayed"]);
  });
});
