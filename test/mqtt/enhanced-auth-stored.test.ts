/**
 * MQTT 5 enhanced authentication (section 4.12) with stored SCRAM credentials:
 * [auth.users] entries with a password_hash and scram_sha_256 / scram_sha_512
 * (as `eddy passwd` prints them), no plain-text password. The auth hooks are
 * built as src/main/bridges.ts builds them. MQTT.js (handleAuth) and raw AUTH
 * packets drive the exchange; a user with only a password hash gets CONNACK
 * 0x86 and the log tells the operator what to add.
 */
import { afterEach, beforeAll, describe, expect, it } from "bun:test";
import type { MqttClient } from "mqtt";
import type { IAuthPacket, IConnackPacket, Packet } from "mqtt-packet";
import type { MqttAuth } from "../../bridges/mqtt/auth.ts";
import { mqttAuthenticator, mqttScramCredentials } from "../../src/config/mqtt-auth.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { ScramClient } from "../../src/util/scram.ts";
import { storedScramConfig } from "../helpers/stored-scram.ts";
import { startServer, type TestServer } from "./harness.ts";
import { authText, scramConnector, sendScramAuth } from "./scram-connect.ts";
import { rawConnect } from "./raw-client.ts";

let server: TestServer | undefined;
let auth: MqttAuth;
const clients: MqttClient[] = [];
const logLines: string[] = [];

beforeAll(async () => {
  const { config, credentials } = await storedScramConfig("s3cret");
  expect(credentials.plaintextPasswords().size).toBe(0);
  auth = {
    authenticate: mqttAuthenticator({ credentials, allowAnonymous: false }).authenticate,
    scramCredential: mqttScramCredentials(config.auth.users, {
      logger: createLogger({ level: "warn", write: (line) => logLines.push(line) }),
    }),
  };
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
  await server?.close();
  server = undefined;
});

const scramConnect = scramConnector(clients);

describe("SCRAM over AUTH with stored credentials", () => {
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    it(`[MQTT-4.12.0-2] ${mechanism}: a password_hash user with ${mechanism === "SCRAM-SHA-256" ? "scram_sha_256" : "scram_sha_512"} connects; the server signature checks out`, async () => {
      server = await startServer({ auth });
      const { client, connack, scram } = await scramConnect(server.url, mechanism, "alice", "s3cret");
      expect(connack.reasonCode).toBe(0);
      expect(connack.properties?.authenticationMethod).toBe(mechanism);
      expect(scram.verify(authText(connack.properties?.authenticationData))).toBe(true);
      expect(server.listener.bridge.connections.values().next().value?.user).toBe("alice");
      await client.subscribeAsync("t/#", { qos: 1 });
      await client.publishAsync("t/1", "hi", { qos: 1 });
    });
  }

  it("[MQTT-4.12.0-4] a wrong password is CONNACK 0x86; the same user's password hash still serves CONNECT passwords", async () => {
    server = await startServer({ auth });
    const err = await scramConnect(server.url, "SCRAM-SHA-256", "alice", "wrong").catch((e) => e);
    expect((err as { code?: number }).code).toBe(0x86);
    const plain = await server.connect({ protocolVersion: 5, username: "alice", password: "s3cret" });
    expect(plain.connected).toBe(true);
  });

  it("[MQTT-4.12.0-4] a user with only a password hash is CONNACK 0x86, and the log says to add scram_sha_256", async () => {
    server = await startServer({ auth });
    logLines.length = 0;
    const err = await scramConnect(server.url, "SCRAM-SHA-256", "carol", "s3cret").catch((e) => e);
    expect((err as { code?: number }).code).toBe(0x86);
    const hint = logLines
      .map((l) => JSON.parse(l) as { msg: string; user?: string })
      .find((l) => l.user === "carol");
    expect(hint?.msg).toContain(
      'user "carol" has no scram_sha_256, and a password_hash cannot answer SCRAM-SHA-256',
    );
    expect(hint?.msg).toContain("add auth.users.carol.scram_sha_256");
    expect(hint?.msg).toContain("eddy passwd");
    // An unknown user: 0x86 as well, and nothing about it in the log.
    logLines.length = 0;
    const unknown = await scramConnect(server.url, "SCRAM-SHA-256", "mallory", "s3cret").catch((e) => e);
    expect((unknown as { code?: number }).code).toBe(0x86);
    expect(logLines).toEqual([]);
  });

  it("[MQTT-4.12.1-1] raw AUTH packets: CONNECT, then re-authentication with the stored SCRAM-SHA-512 credential", async () => {
    server = await startServer({ auth });
    const mechanism = "SCRAM-SHA-512";
    const raw = await rawConnect(server.listener.port, 5);
    const scram = new ScramClient(mechanism, "alice", "s3cret");
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "raw-stored",
      clean: true,
      keepalive: 0,
      properties: { authenticationMethod: mechanism, authenticationData: Buffer.from(scram.first()) },
    } as Packet);
    const serverFirst = (await raw.next()) as IAuthPacket;
    expect(serverFirst.cmd).toBe("auth");
    expect(serverFirst.reasonCode).toBe(0x18);
    expect(authText(serverFirst.properties?.authenticationData)).toEndWith(",i=4096");
    sendScramAuth(raw, mechanism, 0x18, scram.final(authText(serverFirst.properties?.authenticationData)));
    const connack = (await raw.next()) as IConnackPacket;
    expect(connack.reasonCode).toBe(0);
    expect(scram.verify(authText(connack.properties?.authenticationData))).toBe(true);

    const re = new ScramClient(mechanism, "alice", "s3cret");
    sendScramAuth(raw, mechanism, 0x19, re.first());
    const sf = (await raw.next()) as IAuthPacket;
    expect(sf.reasonCode).toBe(0x18);
    sendScramAuth(raw, mechanism, 0x18, re.final(authText(sf.properties?.authenticationData)));
    const done = (await raw.next()) as IAuthPacket;
    expect(done.cmd).toBe("auth");
    expect(done.reasonCode).toBe(0);
    expect(re.verify(authText(done.properties?.authenticationData))).toBe(true);
    raw.end();
  });
});
