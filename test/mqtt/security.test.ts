/** Auth hooks (CONNECT, PUBLISH, SUBSCRIBE ACLs), connection limit, TLS, and the stats counters. */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import mqtt from "mqtt";
import type { IConnackPacket } from "mqtt-packet";
import type { MqttAuth } from "../../bridges/mqtt/auth.ts";
import { rawConnect } from "./raw-client.ts";
import { collect, startServer, type TestServer, tempDir, until } from "./harness.ts";

let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const auth: MqttAuth = {
  authenticate: async ({ username, password }) => {
    if (username === "alice" && new TextDecoder().decode(password ?? new Uint8Array()) === "secret") {
      return { ok: true, user: "alice" };
    }
    if (username === "mallory") return { ok: false, reason: "not-authorized" };
    return { ok: false, reason: "bad-credentials" };
  },
  canPublish: (user, _clientId, topic) => user === "alice" && topic.startsWith("alice/"),
  canSubscribe: (user, _clientId, filter) => user === "alice" && !filter.startsWith("secret/"),
};

async function connackOf(port: number, version: 4 | 5, username: string, password: string) {
  const raw = await rawConnect(port, version);
  raw.send({
    cmd: "connect",
    protocolVersion: version,
    clientId: `c-${username}`,
    clean: true,
    keepalive: 0,
    username,
    password: Buffer.from(password),
  });
  const ack = (await raw.next()) as IConnackPacket;
  raw.end();
  return version === 5 ? ack.reasonCode : ack.returnCode;
}

describe("authentication and ACLs", () => {
  it("[MQTT-3.2.2-6] refuses bad credentials (0x86 / 4) and unauthorized users (0x87 / 5)", async () => {
    server = await startServer({ auth });
    const port = server.listener.port;
    expect(await connackOf(port, 5, "alice", "secret")).toBe(0);
    expect(await connackOf(port, 5, "alice", "wrong")).toBe(0x86);
    expect(await connackOf(port, 5, "mallory", "x")).toBe(0x87);
    expect(await connackOf(port, 4, "alice", "secret")).toBe(0);
    expect(await connackOf(port, 4, "alice", "wrong")).toBe(4);
    expect(await connackOf(port, 4, "mallory", "x")).toBe(5);
    expect(server.listener.bridge.stats.connectionsRefused).toBe(4);
  });

  it("a refused subscription answers 0x80 in 3.1.1 and 5.0; refused publishes are not stored (v5: PUBACK 0x87)", async () => {
    server = await startServer({ auth });
    for (const version of [4, 5] as const) {
      const c = await server.connect({ protocolVersion: version, username: "alice", password: "secret" });
      const subacks: unknown[] = [];
      c.on("packetreceive", (p) => {
        if (p.cmd === "suback") subacks.push(p.granted);
      });
      await c.subscribeAsync(["alice/#", "secret/x"], { qos: 1 }).catch(() => {}); // MQTT.js v5 rejects on 0x80
      await until(() => subacks.length === 1);
      expect(subacks[0]).toEqual([1, 0x80]);
    }
    const v5 = await server.connect({ protocolVersion: 5, username: "alice", password: "secret" });
    const acks: number[] = [];
    v5.on("packetreceive", (p) => {
      if (p.cmd === "puback") acks.push(p.reasonCode ?? 0);
    });
    await v5.publishAsync("bob/x", "no", { qos: 1 }).catch(() => {});
    await v5.publishAsync("alice/x", "yes", { qos: 1 });
    await until(() => acks.length === 2);
    expect(acks).toEqual([0x87, 0]);
    const v4 = await server.connect({ protocolVersion: 4, username: "alice", password: "secret" });
    await v4.publishAsync("bob/y", "dropped", { qos: 1 }); // acknowledged, dropped
    const records = await server.broker.readRecords({
      topic: "mqtt",
      partition: 0,
      offset: 0,
      maxRecords: 100,
    });
    expect(records.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(["yes"]);
    expect(server.listener.bridge.stats.dropped.notAuthorized).toBe(2);
  });
});

describe("limits and stats", () => {
  it("more than maxConnections clients get 0x97 (v5) / 3 (3.1.1)", async () => {
    server = await startServer({ maxConnections: 2 });
    await server.connect({ protocolVersion: 4, clientId: "one" });
    await server.connect({ protocolVersion: 4, clientId: "two" });
    const raw5 = await rawConnect(server.listener.port, 5);
    raw5.send({ cmd: "connect", protocolVersion: 5, clientId: "three", clean: true, keepalive: 0 });
    expect(((await raw5.next()) as IConnackPacket).reasonCode).toBe(0x97);
    const raw4 = await rawConnect(server.listener.port, 4);
    raw4.send({ cmd: "connect", protocolVersion: 4, clientId: "four", clean: true, keepalive: 0 });
    expect(((await raw4.next()) as IConnackPacket).returnCode).toBe(3);
    // The same client id may still take over its own connection.
    const again = await server.connect({ protocolVersion: 4, clientId: "two" });
    expect(again.connected).toBe(true);
  });

  it("counts messages in and out per QoS", async () => {
    server = await startServer();
    const sub = await server.connect({ protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync("s/#", { qos: 2 });
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("s/0", "a", { qos: 0 });
    await pub.publishAsync("s/1", "b", { qos: 1 });
    await pub.publishAsync("s/2", "c", { qos: 2 });
    await until(() => got.length === 3);
    const stats = server.listener.bridge.stats;
    expect(stats.messagesIn).toEqual([1, 1, 1]);
    expect(stats.messagesOut).toEqual([1, 1, 1]);
  });
});

describe("TLS", () => {
  it("serves MQTT over TLS with the configured certificate, sharing the bridge with the plain listener", async () => {
    dir = tempDir();
    const key = path.join(dir, "key.pem");
    const cert = path.join(dir, "cert.pem");
    const gen = Bun.spawnSync([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
    ]);
    expect(gen.exitCode).toBe(0);
    server = await startServer({
      tls: { cert: fs.readFileSync(cert, "utf8"), key: fs.readFileSync(key, "utf8"), port: 0 },
    });
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${server.listener.tlsPort}`, {
      rejectUnauthorized: false,
      reconnectPeriod: 0,
      protocolVersion: 5,
    });
    const got = collect(client);
    await client.subscribeAsync("tls/t", { qos: 1 });
    const plain = await server.connect({ protocolVersion: 4 }); // same bridge on the plain port
    await plain.publishAsync("tls/t", "secure", { qos: 1 });
    await until(() => got.length === 1);
    expect(got[0]!.payload).toBe("secure");
    await client.endAsync();
  });
});
