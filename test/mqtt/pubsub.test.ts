/** PUBLISH / SUBSCRIBE between MQTT.js clients (3.1.1 and 5.0) through the log. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { collect, startServer, type TestServer, until } from "./harness.ts";

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(async () => {
  await server.close();
});

describe("QoS 0/1/2 delivery", () => {
  for (const version of [4, 5] as const) {
    it(`v${version === 4 ? "3.1.1" : "5"}: [MQTT-3.8.4-8] delivers at min(published, granted) QoS, in order`, async () => {
      const sub = await server.connect({ protocolVersion: version });
      const got = collect(sub);
      await sub.subscribeAsync("q/2", { qos: 2 });
      await sub.subscribeAsync("q/1", { qos: 1 });
      const pub = await server.connect({ protocolVersion: version });
      for (let i = 0; i < 5; i++) {
        await pub.publishAsync("q/2", `a${i}`, { qos: 2 });
        await pub.publishAsync("q/1", `b${i}`, { qos: 2 });
        await pub.publishAsync("q/2", `c${i}`, { qos: 0 });
      }
      await until(() => got.length === 15, 3000, "15 messages");
      const on = (t: string) => got.filter((g) => g.topic === t);
      expect(on("q/2").map((g) => g.payload)).toEqual([
        "a0",
        "c0",
        "a1",
        "c1",
        "a2",
        "c2",
        "a3",
        "c3",
        "a4",
        "c4",
      ]);
      expect(on("q/2").map((g) => g.packet.qos)).toEqual([2, 0, 2, 0, 2, 0, 2, 0, 2, 0]);
      expect(on("q/1").map((g) => g.packet.qos)).toEqual([1, 1, 1, 1, 1]);
      expect(on("q/1").map((g) => g.payload)).toEqual(["b0", "b1", "b2", "b3", "b4"]);
      const session = server.listener.bridge.sessions.get(sub.options.clientId!)!;
      await until(() => session.inflight.size === 0, 3000, "acks");
    });
  }

  it("[MQTT-4.7.1-2][MQTT-4.7.2-1] wildcards, and no $-topics for leading wildcards", async () => {
    const sub = await server.connect({ protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(["home/+/temp", "$SYS/#"], { qos: 1 });
    const all = await server.connect({ protocolVersion: 5 });
    const gotAll = collect(all);
    await all.subscribeAsync("#", { qos: 1 });
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("home/kitchen/temp", "21", { qos: 1 });
    await pub.publishAsync("home/kitchen/humidity", "40", { qos: 1 });
    await pub.publishAsync("$SYS/uptime", "9", { qos: 1 });
    await pub.publishAsync("home/end", "x", { qos: 1 });
    await until(() => got.length === 2 && gotAll.length === 3);
    expect(got.map((g) => g.topic).sort()).toEqual(["$SYS/uptime", "home/kitchen/temp"]);
    expect(gotAll.map((g) => g.topic)).toEqual(["home/kitchen/temp", "home/kitchen/humidity", "home/end"]);
  });

  it("[MQTT-3.10.4-2] UNSUBSCRIBE stops delivery; v5 UNSUBACK says 0x11 for unknown filters", async () => {
    const sub = await server.connect({ protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync("u/#", { qos: 1 });
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("u/1", "before", { qos: 1 });
    await until(() => got.length === 1);
    const acks: unknown[] = [];
    sub.on("packetreceive", (p) => {
      if (p.cmd === "unsuback") acks.push(p.granted);
    });
    await sub.unsubscribeAsync(["u/#", "never/subscribed"]).catch(() => {});
    await until(() => acks.length === 1);
    expect(acks[0]).toEqual([0x00, 0x11]);
    await pub.publishAsync("u/2", "after", { qos: 1 });
    await pub.publishAsync("marker", "m", { qos: 1 });
    const probe = await server.connect({ protocolVersion: 5 });
    const probeGot = collect(probe);
    await probe.subscribeAsync("u/#", { qos: 1 });
    await pub.publishAsync("u/3", "probe", { qos: 1 });
    await until(() => probeGot.length === 1);
    expect(got.map((g) => g.payload)).toEqual(["before"]);
  });

  it("[MQTT-3.8.3-3] no-local: a v5 client does not get its own messages back", async () => {
    const c = await server.connect({ protocolVersion: 5, clientId: "self" });
    const got = collect(c);
    await c.subscribeAsync("nl/#", { qos: 1, nl: true });
    await c.subscribeAsync("other", { qos: 1 });
    await c.publishAsync("nl/mine", "x", { qos: 1 });
    const other = await server.connect({ protocolVersion: 5 });
    await other.publishAsync("nl/theirs", "y", { qos: 1 });
    await until(() => got.length === 1);
    await c.publishAsync("other", "z", { qos: 1 });
    await until(() => got.length === 2);
    expect(got.map((g) => g.payload)).toEqual(["y", "z"]);
  });

  it("[MQTT-3.3.4-3][MQTT-3.8.4-6] v5 subscription identifiers travel with matching messages", async () => {
    const c = await server.connect({ protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync("sid/+", { qos: 1, properties: { subscriptionIdentifier: 7 } });
    await c.subscribeAsync("sid/#", { qos: 0, properties: { subscriptionIdentifier: 9 } });
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("sid/a", "x", { qos: 1 });
    await until(() => got.length === 1);
    const ids = got[0]!.packet.properties?.subscriptionIdentifier;
    expect((Array.isArray(ids) ? ids : [ids]).sort()).toEqual([7, 9]);
    expect(got[0]!.packet.qos).toBe(1);
  });

  it("[MQTT-3.3.2-4][MQTT-3.3.2-15][MQTT-3.3.2-16][MQTT-3.3.2-17][MQTT-3.3.2-20] v5 properties: user properties, content type, response topic, correlation data, payload format", async () => {
    const sub = await server.connect({ protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync("props", { qos: 1 });
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("props", "héllo", {
      qos: 1,
      properties: {
        userProperties: { a: "1", b: ["2", "3"] },
        contentType: "text/plain",
        responseTopic: "reply/here",
        correlationData: Buffer.from([1, 2, 3]),
        payloadFormatIndicator: true,
        messageExpiryInterval: 3600,
      },
    });
    await until(() => got.length === 1);
    const p = got[0]!.packet.properties!;
    expect(p.userProperties).toEqual({ a: "1", b: ["2", "3"] });
    expect(p.contentType).toBe("text/plain");
    expect(p.responseTopic).toBe("reply/here");
    expect([...(p.correlationData ?? [])]).toEqual([1, 2, 3]);
    expect(p.payloadFormatIndicator).toBe(true);
    expect(p.messageExpiryInterval).toBeGreaterThan(3590);
    expect(p.messageExpiryInterval).toBeLessThanOrEqual(3600);
    expect(got[0]!.payload).toBe("héllo");
  });

  it("[MQTT-3.3.2-8][MQTT-3.3.2-12] topic aliases in both directions", async () => {
    const sub = await server.connect({ protocolVersion: 5, properties: { topicAliasMaximum: 5 } });
    const raw: Array<{ topic: string; alias?: number }> = [];
    sub.on("packetreceive", (p) => {
      if (p.cmd === "publish") raw.push({ topic: p.topic, alias: p.properties?.topicAlias });
    });
    const got = collect(sub);
    await sub.subscribeAsync("alias/#", { qos: 1 });
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("alias/long/topic/name", "1", { qos: 1, properties: { topicAlias: 3 } });
    await pub.publishAsync("", "2", { qos: 1, properties: { topicAlias: 3 } });
    await until(() => got.length === 2);
    expect(got.map((g) => [g.topic, g.payload])).toEqual([
      ["alias/long/topic/name", "1"],
      ["alias/long/topic/name", "2"],
    ]);
    // Outbound: first PUBLISH carries the topic and sets the alias, the second uses the alias alone.
    expect(raw[0]).toEqual({ topic: "alias/long/topic/name", alias: 1 });
    expect(raw[1]).toEqual({ topic: "", alias: 1 });
  });
});

describe("retained messages", () => {
  it("[MQTT-3.3.1-5][MQTT-3.3.1-8] stored, delivered on subscribe with RETAIN=1, replaced", async () => {
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("r/a", "old", { qos: 1, retain: true });
    await pub.publishAsync("r/a", "new", { qos: 1, retain: true });
    await pub.publishAsync("r/b", "b", { qos: 0, retain: true });
    await until(() => server.listener.bridge.retained.size === 2);
    const sub = await server.connect({ protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync("r/#", { qos: 1 });
    await until(() => got.length === 2);
    expect(got.map((g) => [g.topic, g.payload, g.packet.retain]).sort()).toEqual([
      ["r/a", "new", true],
      ["r/b", "b", true],
    ]);
  });

  it("[MQTT-3.3.1-9] 3.1.1: live delivery clears RETAIN; [MQTT-3.3.1-12] v5 retain-as-published keeps it", async () => {
    const v4 = await server.connect({ protocolVersion: 4 });
    const got4 = collect(v4);
    await v4.subscribeAsync("live/#", { qos: 1 });
    const v5 = await server.connect({ protocolVersion: 5 });
    const got5 = collect(v5);
    await v5.subscribeAsync("live/#", { qos: 1, rap: true });
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("live/x", "r", { qos: 1, retain: true });
    await until(() => got4.length === 1 && got5.length === 1);
    expect(got4[0]!.packet.retain).toBe(false);
    expect(got5[0]!.packet.retain).toBe(true);
  });

  it("[MQTT-3.3.1-6][MQTT-3.3.1-7] an empty retained payload clears it and is not stored as data", async () => {
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("gone", "here", { qos: 1, retain: true });
    await pub.publishAsync("gone", "", { qos: 1, retain: true });
    expect(server.listener.bridge.retained.size).toBe(0);
    const sub = await server.connect({ protocolVersion: 4 });
    const got = collect(sub);
    await sub.subscribeAsync(["gone", "marker"], { qos: 1 });
    await pub.publishAsync("marker", "m", { qos: 1 });
    await until(() => got.length === 1);
    expect(got[0]!.topic).toBe("marker");
  });

  it("[MQTT-3.3.1-10][MQTT-3.3.1-11] retain handling 1 (only new subscriptions) and 2 (never)", async () => {
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("rh/x", "kept", { qos: 1, retain: true });
    const c = await server.connect({ protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync("rh/#", { qos: 1, rh: 1 });
    await until(() => got.length === 1);
    await c.subscribeAsync("rh/#", { qos: 1, rh: 1 });
    await c.subscribeAsync("rh/+", { qos: 1, rh: 2 });
    await pub.publishAsync("rh/marker", "m", { qos: 1 });
    await until(() => got.length === 2);
    expect(got.map((g) => g.payload)).toEqual(["kept", "m"]);
  });
});

describe("shared subscriptions", () => {
  it("(MQTT 5.0 section 4.8.2) $share/{group}/{filter}: each message goes to exactly one member", async () => {
    const a = await server.connect({ protocolVersion: 5 });
    const b = await server.connect({ protocolVersion: 5 });
    const plain = await server.connect({ protocolVersion: 5 });
    const gotA = collect(a);
    const gotB = collect(b);
    const gotPlain = collect(plain);
    await a.subscribeAsync("$share/workers/jobs/#", { qos: 1 });
    await b.subscribeAsync("$share/workers/jobs/#", { qos: 1 });
    await plain.subscribeAsync("jobs/#", { qos: 1 });
    const pub = await server.connect({ protocolVersion: 4 });
    for (let i = 0; i < 20; i++) await pub.publishAsync(`jobs/${i}`, String(i), { qos: 1 });
    await until(() => gotA.length + gotB.length === 20 && gotPlain.length === 20);
    expect(gotA.length).toBeGreaterThan(0);
    expect(gotB.length).toBeGreaterThan(0);
    const all = [...gotA, ...gotB].map((g) => Number(g.payload)).sort((x, y) => x - y);
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("[MQTT-3.8.3-4] no-local on a shared subscription is a protocol error", async () => {
    const c = await server.connect({ protocolVersion: 5 });
    const closed = new Promise<void>((r) => c.once("close", () => r()));
    c.subscribe("$share/g/x", { qos: 1, nl: true });
    await closed;
  });
});
