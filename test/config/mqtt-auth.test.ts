/** MQTT authentication from [auth]: listener exposure rules and the CONNECT check src/main.ts hands the bridge. */
import { describe, expect, it } from "bun:test";
import { parseServeArgs } from "../../src/config/flags.ts";
import { listenerHasAuth, loadConfig } from "../../src/config/load.ts";
import { isLoopbackAddress, mqttAuthenticator } from "../../src/config/mqtt-auth.ts";
import { CredentialStore, hashPassword } from "../../src/util/credentials.ts";
import { issuesOf } from "./helpers.ts";

const USERS = JSON.stringify({ alice: { password: "s3cret" } });
const enc = (s: string) => new TextEncoder().encode(s);

describe("listener exposure with MQTT users", () => {
  it("treats mqtt and mqtt_tls as authenticated once auth.users has a user", () => {
    const none = loadConfig({ env: {} }).config;
    expect(listenerHasAuth(none, "mqtt")).toBe(false);
    expect(listenerHasAuth(none, "mqtt_tls")).toBe(false);
    const withUsers = loadConfig({ env: { EDDY_AUTH_USERS: USERS } }).config;
    expect(listenerHasAuth(withUsers, "mqtt")).toBe(true);
    expect(listenerHasAuth(withUsers, "mqtt_tls")).toBe(true);
    // API tokens are HTTP-only: they do not authenticate MQTT.
    const tokens = loadConfig({
      env: { EDDY_AUTH_TOKENS: JSON.stringify({ ci: `sha256:${"a".repeat(64)}` }) },
    }).config;
    expect(listenerHasAuth(tokens, "mqtt")).toBe(false);
  });

  it("binds non-loopback MQTT (TCP and TLS) without allow_anonymous when users exist, warning about clear text", () => {
    const flags = parseServeArgs([
      "--mqtt-listen",
      "0.0.0.0:1883",
      "--mqtt-tls-listen",
      "0.0.0.0:8883",
    ]).settings;
    const refused = issuesOf(() => loadConfig({ env: {}, flags }));
    expect(refused.join("\n")).toContain("listeners.mqtt: 0.0.0.0:1883 is reachable from the network");
    const loaded = loadConfig({ env: { EDDY_AUTH_USERS: USERS }, flags });
    expect(loaded.config.listeners.mqtt).toBe("0.0.0.0:1883");
    expect(loaded.warnings.join("\n")).toContain(
      "listeners.mqtt: 0.0.0.0:1883 is reachable from the network and takes credentials",
    );
  });
});

describe("mqttAuthenticator", () => {
  const store = new CredentialStore({ users: { alice: { password: "s3cret" } }, tokens: {} });
  const req = (username: string | null, password: string | null, remoteAddress = "10.1.2.3") => ({
    username,
    password: password === null ? null : enc(password),
    remoteAddress,
  });

  it("with users: right password in, wrong or missing credentials out (bad user name or password)", async () => {
    const auth = mqttAuthenticator({ credentials: store, allowAnonymous: false });
    expect(await auth.authenticate(req("alice", "s3cret"))).toEqual({ ok: true, user: "alice" });
    expect(await auth.authenticate(req("alice", "nope"))).toEqual({ ok: false, reason: "bad-credentials" });
    expect(await auth.authenticate(req("bob", "s3cret"))).toEqual({ ok: false, reason: "bad-credentials" });
    expect(await auth.authenticate(req(null, null, "127.0.0.1"))).toEqual({
      ok: false,
      reason: "bad-credentials",
    });
    expect(await auth.authenticate(req("alice", null))).toEqual({ ok: false, reason: "bad-credentials" });
  });

  it("with users and allow_anonymous: a CONNECT without a user name is an anonymous client", async () => {
    const auth = mqttAuthenticator({ credentials: store, allowAnonymous: true });
    expect(await auth.authenticate(req(null, null))).toEqual({ ok: true, user: null });
    expect(await auth.authenticate(req("alice", "nope"))).toEqual({ ok: false, reason: "bad-credentials" });
  });

  it("checks password hashes (argon2id)", async () => {
    const hash = await hashPassword("hashed-pw", { memoryCost: 1024, timeCost: 1 });
    const hashed = new CredentialStore({ users: { carol: { password_hash: hash } }, tokens: {} });
    const auth = mqttAuthenticator({ credentials: hashed, allowAnonymous: false });
    expect(await auth.authenticate(req("carol", "hashed-pw"))).toEqual({ ok: true, user: "carol" });
    expect(await auth.authenticate(req("carol", "hashed-px"))).toEqual({
      ok: false,
      reason: "bad-credentials",
    });
  });

  it("without users: anonymous from loopback only, unless allow_anonymous (mosquitto 2.0's rule)", async () => {
    const empty = new CredentialStore({ users: {}, tokens: {} });
    const closed = mqttAuthenticator({ credentials: empty, allowAnonymous: false });
    for (const addr of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      expect(await closed.authenticate(req(null, null, addr))).toEqual({ ok: true, user: null });
    }
    expect(await closed.authenticate(req(null, null, "192.168.1.9"))).toEqual({
      ok: false,
      reason: "not-authorized",
    });
    expect(await closed.authenticate(req("x", "y", "::ffff:10.0.0.1"))).toEqual({
      ok: false,
      reason: "not-authorized",
    });
    const open = mqttAuthenticator({ credentials: empty, allowAnonymous: true });
    expect(await open.authenticate(req(null, null, "192.168.1.9"))).toEqual({ ok: true, user: null });
    expect(isLoopbackAddress("10.0.0.1")).toBe(false);
  });
});
