/** MQTT CONNECT checked against [auth.users] (the authenticator src/main.ts wires), with MQTT.js v3.1.1 and v5. */
import { afterEach, describe, expect, it } from "bun:test";
import mqtt from "mqtt";
import { mqttAuthenticator } from "../../src/config/mqtt-auth.ts";
import { CredentialStore } from "../../src/util/credentials.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const credentials = new CredentialStore({ users: { alice: { password: "s3cret" } }, tokens: {} });

async function refusal(url: string, opts: mqtt.IClientOptions): Promise<number | undefined> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
    await c.endAsync(true);
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

describe("MQTT authentication from auth.users", () => {
  it("requires user name and password: 0x86 (v5) / return code 4 (v3.1.1) otherwise", async () => {
    server = await startServer({ auth: mqttAuthenticator({ credentials, allowAnonymous: false }) });
    const url = server.url;
    for (const protocolVersion of [4, 5] as const) {
      const bad = protocolVersion === 5 ? 0x86 : 4;
      expect(await refusal(url, { protocolVersion, clientId: "anon" })).toBe(bad);
      expect(
        await refusal(url, { protocolVersion, clientId: "x", username: "alice", password: "wrong" }),
      ).toBe(bad);
      expect(
        await refusal(url, { protocolVersion, clientId: "y", username: "eve", password: "s3cret" }),
      ).toBe(bad);
    }
    expect(server.listener.bridge.stats.connectionsRefused).toBe(6);

    const alice = await server.connect({
      protocolVersion: 5,
      clientId: "a",
      username: "alice",
      password: "s3cret",
    });
    const got = collect(alice);
    await alice.subscribeAsync("t/#", { qos: 1 });
    const old = await server.connect({
      protocolVersion: 4,
      clientId: "b",
      username: "alice",
      password: "s3cret",
    });
    await old.publishAsync("t/1", "hello", { qos: 1 });
    await until(() => got.length === 1, 3000, "delivery");
    expect(got[0]!.payload).toBe("hello");
    const client = server.listener.bridge.connections.get("a");
    expect(client?.user).toBe("alice");
  });

  it("accepts a CONNECT without user name when auth.allow_anonymous is set", async () => {
    server = await startServer({ auth: mqttAuthenticator({ credentials, allowAnonymous: true }) });
    const anon = await server.connect({ protocolVersion: 5, clientId: "anon" });
    expect(anon.connected).toBe(true);
    expect(
      await refusal(server.url, { protocolVersion: 5, clientId: "z", username: "alice", password: "no" }),
    ).toBe(0x86);
  });
});
