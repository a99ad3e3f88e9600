/**
 * ACLs per user, anonymous and pattern (%u / %c) with MQTT filters
 * (bridges/mqtt/acl.ts, config [auth.acl]): SUBSCRIBE refused with 0x80,
 * PUBLISH refused (v5 0x87, 3.1.1 acknowledged and dropped, QoS 0 dropped),
 * and the read check on every delivery: live, retained, reverse-mapped and
 * shared-subscription messages.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { IConnackPacket, IPubackPacket, IPubrecPacket, ISubackPacket } from "mqtt-packet";
import { type AclRule, compileAcl, filterCovers, type MqttAclConfig } from "../../bridges/mqtt/acl.ts";
import type { MqttAuth } from "../../bridges/mqtt/auth.ts";
import { explain } from "../../bridges/mqtt/index.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { loadConfig } from "../../src/config/load.ts";
import { mqttAuthenticator } from "../../src/config/mqtt-auth.ts";
import { CredentialStore } from "../../src/util/credentials.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";
import { rawConnect } from "./raw-client.ts";

const enc = (s: string) => new TextEncoder().encode(s);

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const rw = (filter: string): AclRule => ({ filter, access: "readwrite" });
const credentials = new CredentialStore({
  users: { alice: { password: "a" }, bob: { password: "b" }, admin: { password: "x" } },
  tokens: {},
});

function authWith(acl: MqttAclConfig, allowAnonymous = true): MqttAuth {
  const compiled = compileAcl(acl)!;
  return {
    authenticate: mqttAuthenticator({ credentials, allowAnonymous }).authenticate,
    canPublish: compiled.canPublish,
    canSubscribe: compiled.canSubscribe,
    canRead: compiled.canRead,
  };
}

const ACL: MqttAclConfig = {
  users: {
    alice: [
      rw("alice/#"),
      { filter: "shared/#", access: "read" },
      { filter: "shared/secret/#", access: "deny" },
      { filter: "inbox/alice", access: "write" },
    ],
    bob: [{ filter: "shared/#", access: "write" }, rw("bob/#")],
    admin: [rw("#")],
  },
  anonymous: [{ filter: "public/#", access: "read" }],
  patterns: [rw("devices/%c/#"), { filter: "users/%u/#", access: "read" }],
};

/** Stored records of the default stream topic `mqtt` (every partition). */
async function storedCount(s: TestServer): Promise<number> {
  const { partitions } = await s.broker.describeTopic("mqtt");
  let n = 0;
  for (let p = 0; p < partitions.length; p++) n += s.broker.partitionState("mqtt", p).highWatermark;
  return n;
}

describe("ACL rules (unit)", () => {
  it("no rule at all = no ACL (zero-config allows everything)", () => {
    expect(compileAcl(undefined)).toBeNull();
    expect(compileAcl({ users: {}, anonymous: [], patterns: [] })).toBeNull();
  });

  it("a subscription filter is allowed only when a read rule covers every topic it matches", () => {
    expect(filterCovers("a/#", "a/+/b")).toBe(true);
    expect(filterCovers("a/#", "a")).toBe(true); // a/# also matches a [MQTT-4.7.1-2]
    expect(filterCovers("a/#", "a/#")).toBe(true);
    expect(filterCovers("a/+", "a/b")).toBe(true);
    expect(filterCovers("a/+", "a/+")).toBe(true);
    expect(filterCovers("a/+", "a/#")).toBe(false);
    expect(filterCovers("a/b", "a/+")).toBe(false);
    expect(filterCovers("a/+/c", "a/b")).toBe(false);
    expect(filterCovers("#", "b/c")).toBe(true);
    // A wildcard first level never matches $ topics [MQTT-4.7.2-1].
    expect(filterCovers("#", "$SYS/x")).toBe(false);
    expect(filterCovers("$SYS/#", "$SYS/x")).toBe(true);
  });

  it("deny wins over any grant; anonymous and pattern rules; %u / %c that could escape a level are skipped", () => {
    const acl = compileAcl(ACL)!;
    expect(acl.canRead("alice", "c1", "shared/news")).toBe(true);
    expect(acl.canRead("alice", "c1", "shared/secret/plan")).toBe(false);
    expect(acl.canPublish("alice", "c1", "shared/news")).toBe(false); // read only
    expect(acl.canPublish("alice", "c1", "inbox/alice")).toBe(true);
    expect(acl.canRead("alice", "c1", "inbox/alice")).toBe(false); // write only
    expect(acl.canSubscribe("alice", "c1", "shared/#")).toBe(true);
    expect(acl.canSubscribe("alice", "c1", "shared/secret/+")).toBe(false);
    expect(acl.canSubscribe("alice", "c1", "#")).toBe(false);
    expect(acl.canSubscribe("alice", "c1", "$share/g/alice/+")).toBe(true);
    // Patterns: %c and %u.
    expect(acl.canPublish("bob", "dev9", "devices/dev9/state")).toBe(true);
    expect(acl.canPublish("bob", "dev9", "devices/dev8/state")).toBe(false);
    expect(acl.canRead("bob", "x", "users/bob/mail")).toBe(true);
    expect(acl.canRead(null, "x", "users/bob/mail")).toBe(false); // %u needs a user
    expect(acl.canPublish(null, "a/b", "devices/a/b/x")).toBe(false); // client id with '/'
    expect(acl.canPublish(null, "+", "devices/+/x")).toBe(false);
    // Anonymous rules apply only without a user; users get their own rules.
    expect(acl.canRead(null, "x", "public/news")).toBe(true);
    expect(acl.canRead("bob", "x", "public/news")).toBe(false);
    expect(acl.canRead("mallory", "x", "public/news")).toBe(false);
    expect(acl.explain("alice", "c1", "shared/secret/x").read.rule).toEqual({
      filter: "shared/secret/#",
      access: "deny",
    });
  });
});

describe("ACL enforcement", () => {
  it("[MQTT-3.9.3-2] a refused subscription answers 0x80 in its SUBACK slot in 3.1.1 and 5.0", async () => {
    server = await startServer({ auth: authWith(ACL) });
    for (const version of [4, 5] as const) {
      const raw = await rawConnect(server.listener.port, version);
      raw.send({
        cmd: "connect",
        protocolVersion: version,
        clientId: `sub-${version}`,
        clean: true,
        keepalive: 0,
        username: "alice",
        password: Buffer.from("a"),
      });
      expect(((await raw.next()) as IConnackPacket).cmd).toBe("connack");
      raw.send({
        cmd: "subscribe",
        messageId: 1,
        subscriptions: [
          { topic: "alice/#", qos: 1 },
          { topic: "bob/#", qos: 1 },
          { topic: "shared/secret/x", qos: 0 },
          { topic: "shared/+", qos: 2 },
        ],
      });
      const suback = (await raw.next()) as ISubackPacket;
      expect(suback.granted).toEqual([1, 0x80, 0x80, 2]);
      raw.end();
    }
  });

  it("refused PUBLISH: v5 PUBACK / PUBREC 0x87, QoS 0 dropped; nothing stored", async () => {
    server = await startServer({ auth: authWith(ACL) });
    const raw = await rawConnect(server.listener.port, 5);
    raw.send({
      cmd: "connect",
      protocolVersion: 5,
      clientId: "pub5",
      clean: true,
      keepalive: 0,
      username: "alice",
      password: Buffer.from("a"),
    });
    await raw.next();
    raw.send({
      cmd: "publish",
      topic: "bob/x",
      payload: Buffer.from("0"),
      qos: 0,
      dup: false,
      retain: false,
    });
    raw.send({
      cmd: "publish",
      topic: "bob/x",
      payload: Buffer.from("1"),
      qos: 1,
      messageId: 1,
      dup: false,
      retain: false,
    });
    raw.send({
      cmd: "publish",
      topic: "shared/x",
      payload: Buffer.from("2"),
      qos: 2,
      messageId: 2,
      dup: false,
      retain: false,
    });
    const puback = (await raw.next()) as IPubackPacket;
    expect(puback.cmd).toBe("puback");
    expect(puback.reasonCode).toBe(0x87);
    const pubrec = (await raw.next()) as IPubrecPacket;
    expect(pubrec.cmd).toBe("pubrec");
    expect(pubrec.reasonCode).toBe(0x87);
    raw.send({
      cmd: "publish",
      topic: "alice/ok",
      payload: Buffer.from("3"),
      qos: 1,
      messageId: 3,
      dup: false,
      retain: false,
    });
    expect(((await raw.next()) as IPubackPacket).reasonCode ?? 0).toBe(0);
    raw.end();
    expect(await storedCount(server)).toBe(1);
    expect(server.listener.bridge.stats.dropped.notAuthorized).toBe(3);
  });

  it("refused PUBLISH in 3.1.1: acknowledged (PUBACK / PUBREC) and dropped, as mosquitto does", async () => {
    server = await startServer({ auth: authWith(ACL) });
    const c = await server.connect({ protocolVersion: 4, username: "alice", password: "a" });
    await c.publishAsync("bob/x", "q1", { qos: 1 }); // resolves: PUBACK came
    await c.publishAsync("bob/x", "q2", { qos: 2 }); // PUBREC, PUBREL, PUBCOMP
    await c.publishAsync("bob/x", "q0", { qos: 0 });
    await c.publishAsync("alice/x", "ok", { qos: 1 });
    expect(c.connected).toBe(true);
    expect(await storedCount(server)).toBe(1);
    expect(server.listener.bridge.stats.dropped.notAuthorized).toBe(3);
  });

  it("delivery checks read access per message: a wildcard subscription does not deliver denied topics", async () => {
    server = await startServer({ auth: authWith(ACL) });
    const alice = await server.connect({ protocolVersion: 5, username: "alice", password: "a" });
    const got = collect(alice);
    await alice.subscribeAsync("shared/#", { qos: 1 });
    const bob = await server.connect({ protocolVersion: 5, username: "bob", password: "b" });
    await bob.publishAsync("shared/secret/plan", "hidden", { qos: 1 });
    await bob.publishAsync("shared/news", "visible", { qos: 1 });
    await until(() => got.length >= 1, 3000, "delivery");
    await bob.publishAsync("shared/news", "visible2", { qos: 1 });
    await until(() => got.length >= 2, 3000, "second delivery");
    expect(got.map((m) => m.topic)).toEqual(["shared/news", "shared/news"]);
    // `eddy mqtt explain` (admin.ts) shows the ACL's verdict per subscriber.
    const bridge = server.listener.bridge;
    expect((await explain(bridge, "shared/secret/plan")).subscribers.map((x) => x.authorized)).toEqual([
      false,
    ]);
    expect((await explain(bridge, "shared/news")).subscribers.map((x) => x.authorized)).toEqual([true]);
  });

  it("retained messages obey the read check on SUBSCRIBE", async () => {
    server = await startServer({ auth: authWith(ACL) });
    const admin = await server.connect({ protocolVersion: 5, username: "admin", password: "x" });
    await admin.publishAsync("shared/secret/r", "hidden", { qos: 1, retain: true });
    await admin.publishAsync("shared/open/r", "shown", { qos: 1, retain: true });
    const alice = await server.connect({ protocolVersion: 5, username: "alice", password: "a" });
    const got = collect(alice);
    await alice.subscribeAsync("shared/#", { qos: 1 });
    await until(() => got.length >= 1, 3000, "retained delivery");
    await admin.publishAsync("shared/open/live", "after", { qos: 1 });
    await until(() => got.length >= 2, 3000, "live delivery");
    expect(got.map((m) => m.topic)).toEqual(["shared/open/r", "shared/open/live"]);
  });

  it("reverse-mapped records obey the read check (a client id pattern)", async () => {
    const acl: MqttAclConfig = {
      patterns: [{ filter: "devices/%c/#", access: "read" }],
      users: { admin: [{ filter: "devices/#", access: "read" }] },
    };
    server = await startServer({
      auth: authWith(acl),
      mapping: { reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }] },
    });
    const dev = await server.connect({ protocolVersion: 5, clientId: "dev1" });
    const got = collect(dev);
    // Anonymous dev1 may subscribe to its own subtree only.
    expect((await dev.subscribeAsync("devices/dev1/commands", { qos: 1 }))[0]!.qos).toBe(1);
    const admin = await server.connect({ protocolVersion: 5, username: "admin", password: "x" });
    const seen = collect(admin);
    await admin.subscribeAsync("devices/+/commands", { qos: 1 });
    await server.broker.produce({
      topic: "commands",
      records: [
        { key: enc("dev2"), value: enc("not for dev1") },
        { key: enc("dev1"), value: enc("reboot") },
      ],
    });
    await until(() => got.length === 1 && seen.length === 2, 3000, "reverse deliveries");
    expect(got[0]!.topic).toBe("devices/dev1/commands");
    expect(got[0]!.payload).toBe("reboot");
  });

  it("a shared subscription skips messages its members may not read", async () => {
    const acl: MqttAclConfig = {
      users: {
        alice: [
          { filter: "jobs/#", access: "read" },
          { filter: "jobs/private/#", access: "deny" },
        ],
        bob: [{ filter: "jobs/#", access: "write" }],
      },
    };
    server = await startServer({ auth: authWith(acl) });
    const alice = await server.connect({ protocolVersion: 5, username: "alice", password: "a" });
    const got = collect(alice);
    await alice.subscribeAsync("$share/workers/jobs/#", { qos: 1 });
    const bob = await server.connect({ protocolVersion: 5, username: "bob", password: "b" });
    await bob.publishAsync("jobs/private/1", "hidden", { qos: 1 });
    await bob.publishAsync("jobs/open/1", "work", { qos: 1 });
    await until(() => got.length === 1, 3000, "shared delivery");
    expect(got[0]!.topic).toBe("jobs/open/1");
  });

  it("a will the user may not publish is not published", async () => {
    server = await startServer({ auth: authWith(ACL) });
    const admin = await server.connect({ protocolVersion: 5, username: "admin", password: "x" });
    const got = collect(admin);
    await admin.subscribeAsync("#", { qos: 1 });
    const dying = await server.connect({
      protocolVersion: 5,
      username: "alice",
      password: "a",
      will: { topic: "bob/will", payload: Buffer.from("gone"), qos: 1, retain: false },
    });
    const allowed = await server.connect({
      protocolVersion: 5,
      clientId: "dev5",
      will: { topic: "devices/dev5/status", payload: Buffer.from("offline"), qos: 1, retain: false },
    });
    (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
    (allowed as unknown as { stream: { destroy(): void } }).stream.destroy();
    await until(() => got.length === 1, 3000, "will");
    expect(got[0]!.topic).toBe("devices/dev5/status");
    await until(() => server!.listener.bridge.stats.dropped.notAuthorized === 1, 3000, "denied will counted");
  });
});

describe("[auth.acl] in the config", () => {
  const load = (toml: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-acl-"));
    try {
      fs.writeFileSync(path.join(dir, "eddy.toml"), toml);
      return loadConfig({ configFile: path.join(dir, "eddy.toml"), env: {} }).config;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const issues = (toml: string): string[] => {
    try {
      load(toml);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return [...(err as ConfigError).issues];
    }
    throw new Error("expected a ConfigError");
  };

  it("reads users, anonymous and pattern rules from TOML (and none by default)", () => {
    expect(compileAcl(load("").auth.acl)).toBeNull();
    const config = load(`
[[auth.acl.users.alice]]
filter = "sensors/#"
access = "readwrite"
[[auth.acl.anonymous]]
filter = "public/#"
access = "read"
[[auth.acl.patterns]]
filter = "devices/%c/#"
access = "write"
`);
    expect(config.auth.acl.users.alice).toEqual([{ filter: "sensors/#", access: "readwrite" }]);
    const acl = compileAcl(config.auth.acl)!;
    expect(acl.canPublish("alice", "x", "sensors/1")).toBe(true);
    expect(acl.canRead(null, "x", "public/a")).toBe(true);
    expect(acl.canPublish(null, "d1", "devices/d1/up")).toBe(true);
    expect(acl.canPublish(null, "d1", "sensors/1")).toBe(false); // deny by default once an ACL exists
  });

  it("names the key path of a bad rule and says what is expected", () => {
    const found = issues(`
[[auth.acl.users.alice]]
filter = "sensors/#/x"
access = "readwrite"
[[auth.acl.users.alice]]
filter = "a/b"
access = "all"
[[auth.acl.anonymous]]
filter = "users/%u/#"
access = "read"
[[auth.acl.patterns]]
filter = "x"
access = "read"
extra = 1
`);
    expect(found).toEqual([
      expect.stringContaining("auth.acl.users.alice.0.filter: expected an MQTT topic filter"),
      expect.stringContaining(
        'auth.acl.users.alice.1.access: expected access = "read", "write", "readwrite" or "deny"',
      ),
      expect.stringContaining(
        "auth.acl.anonymous.0.filter: %u and %c are substituted only in auth.acl.patterns",
      ),
      expect.stringContaining("auth.acl.patterns.0"),
    ]);
  });
});
