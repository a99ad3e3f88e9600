/**
 * MQTT 5 enhanced authentication (section 4.12): SCRAM-SHA-256 / SCRAM-SHA-512
 * over CONNECT / AUTH with MQTT.js (handleAuth) and raw packets, the users of
 * [auth.users] (plain-text passwords), re-authentication, and server
 * redirection (section 4.11).
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { MqttClient } from "mqtt";
import type { IAuthPacket, IConnackPacket, IDisconnectPacket, Packet } from "mqtt-packet";
import type { MqttAuth } from "../../bridges/mqtt/auth.ts";
import { mqttAuthenticator, mqttScramCredentials } from "../../src/config/mqtt-auth.ts";
import { CredentialStore } from "../../src/util/credentials.ts";
import { ScramClient } from "../../src/util/scram.ts";
import { SESSIONS_TOPIC } from "../../bridges/mqtt/index.ts";
import { openBroker, startServer, type TestServer } from "./harness.ts";
import { authText, scramConnector, sendScramAuth } from "./scram-connect.ts";
import { type RawClient, rawConnect } from "./raw-client.ts";

let server: TestServer | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
  await server?.close();
  server = undefined;
});

const credentials = new CredentialStore({
  users: { alice: { password: "s3cret" }, bob: { password: "hunter2" } },
  tokens: {},
});
const auth: MqttAuth = {
  authenticate: mqttAuthenticator({ credentials, allowAnonymous: false }).authenticate,
  scramCredential: mqttScramCredentials(credentials),
};
const scramConnect = scramConnector(clients);

/** A raw v5 connection that sent CONNECT with `props`; returns the first answer. */
async function rawScram(
  port: number,
  props: Record<string, unknown>,
): Promise<{ raw: RawClient; first: Packet | null }> {
  const raw = await rawConnect(port, 5);
  raw.send({
    cmd: "connect",
    protocolVersion: 5,
    clientId: `raw-${Math.random()}`,
    clean: true,
    keepalive: 0,
    properties: props,
  } as Packet);
  return { raw, first: await raw.next() };
}

describe("SCRAM over AUTH", () => {
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    it(`[MQTT-4.12.0-2][MQTT-4.12.0-5] ${mechanism}: CONNECT → AUTH 0x18 → AUTH → CONNACK 0x00 with the server signature`, async () => {
      server = await startServer({ auth });
      const { client, connack, scram } = await scramConnect(server.url, mechanism, "alice", "s3cret");
      expect(connack.reasonCode).toBe(0);
      // The CONNACK carries the method and the server-final message [MQTT-4.12.0-5].
      expect(connack.properties?.authenticationMethod).toBe(mechanism);
      expect(scram.verify(authText(connack.properties?.authenticationData))).toBe(true);
      expect(server.listener.bridge.connections.values().next().value?.user).toBe("alice");
      await client.subscribeAsync("t/#", { qos: 1 });
      await client.publishAsync("t/1", "hi", { qos: 1 });
    });
  }

  it("[MQTT-4.12.0-4] a wrong password or an unknown user is CONNACK 0x86 and the connection closes", async () => {
    server = await startServer({ auth });
    for (const [user, password] of [
      ["alice", "wrong"],
      ["eve", "s3cret"],
    ] as const) {
      const err = await scramConnect(server.url, "SCRAM-SHA-256", user, password).catch((e) => e);
      expect((err as { code?: number }).code).toBe(0x86);
    }
  });

  it("[MQTT-4.12.0-1] an unsupported Authentication Method is CONNACK 0x8C Bad authentication method, then close", async () => {
    server = await startServer({ auth });
    const { raw, first } = await rawScram(server.listener.port, {
      authenticationMethod: "GS2-KRB5",
      authenticationData: Buffer.from("x"),
    });
    expect((first as IConnackPacket).cmd).toBe("connack");
    expect((first as IConnackPacket).reasonCode).toBe(0x8c);
    await raw.closed;
    // Without SCRAM credentials (no hook) SCRAM itself is not offered either.
    await server.close();
    server = await startServer({ auth: { authenticate: auth.authenticate } });
    const second = await rawScram(server.listener.port, {
      authenticationMethod: "SCRAM-SHA-256",
      authenticationData: Buffer.from(new ScramClient("SCRAM-SHA-256", "alice", "s3cret").first()),
    });
    expect((second.first as IConnackPacket).reasonCode).toBe(0x8c);
    second.raw.end();
  });

  it("[MQTT-3.1.2-30] only AUTH may follow a CONNECT with a method before CONNACK; another method in AUTH is a protocol error", async () => {
    server = await startServer({ auth });
    const scram = new ScramClient("SCRAM-SHA-256", "alice", "s3cret");
    const { raw, first } = await rawScram(server.listener.port, {
      authenticationMethod: "SCRAM-SHA-256",
      authenticationData: Buffer.from(scram.first()),
    });
    expect((first as IAuthPacket).cmd).toBe("auth");
    expect((first as IAuthPacket).reasonCode).toBe(0x18);
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 0 }] });
    await raw.closed; // no CONNACK: the connection is closed

    const again = await rawScram(server.listener.port, {
      authenticationMethod: "SCRAM-SHA-256",
      authenticationData: Buffer.from(new ScramClient("SCRAM-SHA-256", "alice", "s3cret").first()),
    });
    expect((again.first as IAuthPacket).reasonCode).toBe(0x18);
    again.raw.send({
      cmd: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: "SCRAM-SHA-512", authenticationData: Buffer.from("c=biws") },
    });
    await again.raw.closed;
  });

  it("[MQTT-4.12.1-1][MQTT-4.12.1-2] re-authentication: AUTH 0x19 → AUTH 0x18 → AUTH → AUTH 0x00 with the server signature", async () => {
    server = await startServer({ auth });
    const mechanism = "SCRAM-SHA-256";
    const scram = new ScramClient(mechanism, "alice", "s3cret");
    const { raw, first } = await rawScram(server.listener.port, {
      authenticationMethod: mechanism,
      authenticationData: Buffer.from(scram.first()),
    });
    const final = scram.final(authText((first as IAuthPacket).properties?.authenticationData));
    sendScramAuth(raw, mechanism, 0x18, final);
    const connack = (await raw.next()) as IConnackPacket;
    expect(connack.reasonCode).toBe(0);

    const re = new ScramClient(mechanism, "alice", "s3cret");
    sendScramAuth(raw, mechanism, 0x19, re.first());
    const serverFirst = (await raw.next()) as IAuthPacket;
    expect(serverFirst.reasonCode).toBe(0x18);
    // Other packets keep flowing during re-authentication.
    raw.send({ cmd: "pingreq" });
    expect((await raw.next())?.cmd).toBe("pingresp");
    sendScramAuth(raw, mechanism, 0x18, re.final(authText(serverFirst.properties?.authenticationData)));
    const done = (await raw.next()) as IAuthPacket;
    expect(done.cmd).toBe("auth");
    expect(done.reasonCode).toBe(0);
    expect(re.verify(authText(done.properties?.authenticationData))).toBe(true);

    // Re-authenticating as another user fails: DISCONNECT 0x87.
    const other = new ScramClient(mechanism, "bob", "hunter2");
    sendScramAuth(raw, mechanism, 0x19, other.first());
    const sf = (await raw.next()) as IAuthPacket;
    sendScramAuth(raw, mechanism, 0x18, other.final(authText(sf.properties?.authenticationData)));
    const disconnect = (await raw.next()) as IDisconnectPacket;
    expect(disconnect.cmd).toBe("disconnect");
    expect(disconnect.reasonCode).toBe(0x87);
    await raw.closed;
  });

  it("[MQTT-4.12.0-6][MQTT-4.12.0-7] no method in CONNECT: no method in CONNACK, and an AUTH from the client is a protocol error (0x82)", async () => {
    server = await startServer({ auth: {} });
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({ cmd: "connect", protocolVersion: 5, clientId: "plain", clean: true, keepalive: 0 });
    const connack = (await raw.next()) as IConnackPacket;
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.authenticationMethod).toBeUndefined();
    raw.send({ cmd: "auth", reasonCode: 0x19, properties: { authenticationMethod: "SCRAM-SHA-256" } });
    const disconnect = (await raw.next()) as IDisconnectPacket;
    expect(disconnect.reasonCode).toBe(0x82);
    await raw.closed;
  });
});

describe("server redirection", () => {
  it("(section 4.11) CONNACK 0x9C Use another server / 0x9D Server moved with Server Reference; 3.1.1 gets 3", async () => {
    for (const permanent of [false, true]) {
      server = await startServer({ redirect: { serverReference: "new-gw:1883", permanent } });
      const raw = await rawConnect(server.listener.port, 5);
      raw.send({ cmd: "connect", protocolVersion: 5, clientId: "r", clean: true, keepalive: 0 });
      const connack = (await raw.next()) as IConnackPacket;
      expect(connack.reasonCode).toBe(permanent ? 0x9d : 0x9c);
      expect(connack.properties?.serverReference).toBe("new-gw:1883");
      await raw.closed;
      const v3 = await rawConnect(server.listener.port, 4);
      v3.send({ cmd: "connect", protocolVersion: 4, clientId: "r3", clean: true, keepalive: 0 });
      expect(((await v3.next()) as IConnackPacket).returnCode).toBe(3);
      await v3.closed;
      await server.close();
      server = undefined;
    }
  });
});

describe("CONNACK of a new persistent session", () => {
  it("[MQTT-3.2.2-2] goes out only after the session's save is durable in __mqtt_sessions", async () => {
    const broker = await openBroker();
    server = await startServer({ broker });
    // Slow down session saves, so a CONNACK sent before its save would arrive first.
    const produce = broker.produce.bind(broker);
    broker.produce = (async (req: Parameters<typeof produce>[0]) => {
      if (req.topic === SESSIONS_TOPIC) await Bun.sleep(150);
      return produce(req);
    }) as typeof broker.produce;
    const savedAt = () => broker.partitionState(SESSIONS_TOPIC, 0).highWatermark;
    const before = savedAt();
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "durable",
      clean: false,
      keepalive: 0,
      properties: { sessionExpiryInterval: 3600 },
    });
    const connack = (await raw.next()) as IConnackPacket;
    expect(connack.reasonCode).toBe(0);
    expect(connack.sessionPresent).toBe(false);
    expect(savedAt()).toBeGreaterThan(before);
    raw.end();
  });

  it("a session that cannot be saved is refused with 0x88 Server unavailable and not kept", async () => {
    const broker = await openBroker();
    server = await startServer({ broker });
    const produce = broker.produce.bind(broker);
    broker.produce = (async (req: Parameters<typeof produce>[0]) => {
      if (req.topic === SESSIONS_TOPIC) throw new Error("disk full");
      return produce(req);
    }) as typeof broker.produce;
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "unsaved",
      clean: false,
      keepalive: 0,
      properties: { sessionExpiryInterval: 3600 },
    });
    expect(((await raw.next()) as IConnackPacket).reasonCode).toBe(0x88);
    await raw.closed;
    expect(server.listener.bridge.sessions.has("unsaved")).toBe(false);
    expect(server.listener.bridge.connections.has("unsaved")).toBe(false);
  });
});
