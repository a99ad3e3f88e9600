/**
 * Crash semantics of persistent sessions: the in-flight window (packet id ↔
 * offset, QoS, PUBREC state) and pending wills are saved as they change, so a
 * broker that dies without a clean shutdown resumes exactly where it was.
 * A crash is simulated by copying the data directory of a running broker
 * (what a kill -9 leaves behind: nothing flushed at close) and starting a new
 * broker on the copy.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import type { IConnackPacket, IPublishPacket, Packet } from "mqtt-packet";
import { SESSIONS_TOPIC } from "../../bridges/mqtt/index.ts";
import type { StoredSession } from "../../bridges/mqtt/session-store.ts";
import type { Broker } from "../../src/broker/index.ts";
import { collect, startServer, type TestServer, tempDir, until } from "./harness.ts";
import { type RawClient, rawConnect } from "./raw-client.ts";

const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function start(dir: string): Promise<TestServer> {
  // No periodic saves: whatever survives the crash was saved because an acknowledgement changed it.
  const s = await startServer({ dir, sessionFlushIntervalMs: 3_600_000 });
  servers.push(s);
  return s;
}

function newDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

/** The latest stored session of `clientId` in __mqtt_sessions. */
async function storedSession(broker: Broker, clientId: string): Promise<StoredSession | null> {
  const res = await broker.readRecords({
    topic: SESSIONS_TOPIC,
    partition: 0,
    offset: 0,
    maxRecords: 10_000,
  });
  let latest: StoredSession | null = null;
  for (const r of res.records) {
    if (new TextDecoder().decode(r.key!) !== `c/${clientId}`) continue;
    latest = r.value === null ? null : (JSON.parse(new TextDecoder().decode(r.value)) as StoredSession);
  }
  return latest;
}

/** Poll the store until `check` holds for the stored session. */
async function untilStored(broker: Broker, clientId: string, check: (s: StoredSession) => boolean) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const s = await storedSession(broker, clientId);
    if (s && check(s)) return s;
    if (Date.now() > deadline) throw new Error(`stored session of ${clientId}: ${JSON.stringify(s)}`);
    await Bun.sleep(10);
  }
}

async function connectRaw(port: number, clientId: string): Promise<{ raw: RawClient; ack: IConnackPacket }> {
  const raw = await rawConnect(port, 5);
  raw.send({
    cmd: "connect",
    protocolVersion: 5,
    clientId,
    clean: false,
    keepalive: 0,
    properties: { sessionExpiryInterval: 3600 },
  });
  const ack = (await raw.next()) as IConnackPacket;
  expect(ack.cmd).toBe("connack");
  return { raw, ack };
}

/** The broker "dies": its files as they are now become the next broker's. */
function crashCopy(dir: string): string {
  const copy = newDir();
  fs.cpSync(dir, copy, { recursive: true });
  return copy;
}

describe("persistent sessions across a crash", () => {
  it("[MQTT-4.4.0-1][MQTT-4.3.3] exactly the unacknowledged deliveries come back, with their original packet ids", async () => {
    const dir = newDir();
    const first = await start(dir);
    const { raw } = await connectRaw(first.listener.port, "crashy");
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "crash/t", qos: 2 }] });
    expect((await raw.next())?.cmd).toBe("suback");
    const pub = await first.connect({ protocolVersion: 5 });
    const plan = [
      ["m0", 1],
      ["m1", 1],
      ["m2", 2],
      ["m3", 2],
      ["m4", 1],
      ["m5", 1],
    ] as const;
    for (const [payload, qos] of plan) await pub.publishAsync("crash/t", payload, { qos });
    const sent = new Map<string, IPublishPacket>();
    for (let i = 0; i < plan.length; i++) {
      const p = (await raw.next()) as IPublishPacket;
      expect(p.cmd).toBe("publish");
      sent.set(p.payload.toString(), p);
    }
    const id = (payload: string) => sent.get(payload)!.messageId!;
    expect(new Set(plan.map(([p]) => id(p))).size).toBe(plan.length);
    // Acknowledge m1, m5 (PUBACK); m2 reaches PUBREL; m3 completes; m0 and m4 stay unacknowledged.
    raw.send({ cmd: "puback", messageId: id("m1") });
    raw.send({ cmd: "pubrec", messageId: id("m2") });
    raw.send({ cmd: "pubrec", messageId: id("m3") });
    raw.send({ cmd: "puback", messageId: id("m5") });
    expect(await raw.next()).toMatchObject({ cmd: "pubrel", messageId: id("m2") });
    expect(await raw.next()).toMatchObject({ cmd: "pubrel", messageId: id("m3") });
    raw.send({ cmd: "pubcomp", messageId: id("m3") });
    const stored = await untilStored(first.broker, "crashy", (s) => s.inflight.length === 3);
    expect(stored.inflight.map((e): [number, string] => [e.id, e.state]).sort()).toEqual(
      [
        [id("m0"), "publish"],
        [id("m2"), "pubrel"],
        [id("m4"), "publish"],
      ].sort() as Array<[number, string]>,
    );
    expect(JSON.stringify(stored)).not.toContain("m0"); // offsets, not message copies

    const copy = crashCopy(dir);
    raw.end();
    await servers.shift()!.close();

    const second = await start(copy);
    const back = await connectRaw(second.listener.port, "crashy");
    expect(back.ack.sessionPresent).toBe(true);
    const resent: Packet[] = [];
    for (let i = 0; i < 3; i++) resent.push((await back.raw.next())!);
    expect(resent[0]).toMatchObject({ cmd: "publish", messageId: id("m0"), dup: true, qos: 1 });
    expect((resent[0] as IPublishPacket).payload.toString()).toBe("m0");
    // The PUBREC'd QoS 2 message is not published again, only released [MQTT-4.3.3].
    expect(resent[1]).toMatchObject({ cmd: "pubrel", messageId: id("m2") });
    expect(resent[2]).toMatchObject({ cmd: "publish", messageId: id("m4"), dup: true, qos: 1 });
    expect((resent[2] as IPublishPacket).payload.toString()).toBe("m4");
    // Acknowledged messages (m1, m3, m5) never come back.
    await expect(back.raw.next(300)).rejects.toThrow("no packet");

    back.raw.send({ cmd: "puback", messageId: id("m0") });
    back.raw.send({ cmd: "pubcomp", messageId: id("m2") });
    back.raw.send({ cmd: "puback", messageId: id("m4") });
    const session = second.listener.bridge.sessions.get("crashy")!;
    await until(() => session.inflight.size === 0, 3000, "acknowledgements after restart");
    // New messages flow on, with packet ids free in the restored window.
    const pub2 = await second.connect({ protocolVersion: 5 });
    await pub2.publishAsync("crash/t", "m6", { qos: 1 });
    const m6 = (await back.raw.next()) as IPublishPacket;
    expect(m6.payload.toString()).toBe("m6");
    expect(m6.dup).toBe(false);
    back.raw.end();
  });

  it("v5 properties of a restored delivery are rebuilt: subscription identifier and user properties", async () => {
    const dir = newDir();
    const first = await start(dir);
    const { raw } = await connectRaw(first.listener.port, "props");
    raw.send({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: "p/#", qos: 1 }],
      properties: { subscriptionIdentifier: 7 },
    });
    expect((await raw.next())?.cmd).toBe("suback");
    const pub = await first.connect({ protocolVersion: 5 });
    await pub.publishAsync("p/1", "hello", {
      qos: 1,
      retain: true,
      properties: { userProperties: { a: "b" } },
    });
    const p = (await raw.next()) as IPublishPacket;
    await untilStored(first.broker, "props", (s) => s.inflight.length === 1);
    const copy = crashCopy(dir);
    raw.end();
    await servers.shift()!.close();

    const second = await start(copy);
    const back = await connectRaw(second.listener.port, "props");
    const again = (await back.raw.next()) as IPublishPacket;
    expect(again).toMatchObject({ cmd: "publish", messageId: p.messageId, dup: true, topic: "p/1" });
    expect(again.properties?.subscriptionIdentifier).toBe(7);
    expect(again.properties?.userProperties).toEqual({ a: "b" });
    back.raw.end();
  });
});

describe("inbound QoS 2 across a crash", () => {
  it("[MQTT-4.3.3-9] a PUBLISH resent after the restart is not stored twice: PUBREC waits for the saved packet id", async () => {
    const dir = newDir();
    const first = await start(dir);
    const { raw } = await connectRaw(first.listener.port, "sender");
    const publish = {
      cmd: "publish",
      topic: "in/q2",
      payload: Buffer.from("once"),
      qos: 2,
      dup: false,
      retain: false,
      messageId: 9,
    } as const;
    raw.send(publish);
    expect(await raw.next()).toMatchObject({ cmd: "pubrec", messageId: 9 });
    const copy = crashCopy(dir); // right after PUBREC
    raw.end();
    await servers.shift()!.close();

    const second = await start(copy);
    const back = await connectRaw(second.listener.port, "sender");
    expect(back.ack.sessionPresent).toBe(true);
    back.raw.send({ ...publish, dup: true });
    expect(await back.raw.next()).toMatchObject({ cmd: "pubrec", messageId: 9 });
    back.raw.send({ cmd: "pubrel", messageId: 9 });
    expect(await back.raw.next()).toMatchObject({ cmd: "pubcomp", messageId: 9, reasonCode: 0 });
    const records = (await second.broker.describeTopic("mqtt")).partitions.reduce(
      (n, p) => n + p.highWatermark,
      0,
    );
    expect(records).toBe(1);
    back.raw.end();
  });
});

describe("will delay across a restart", () => {
  it("[MQTT-3.1.3-9] a pending will is published after the restart when due, unless its client came back", async () => {
    const dir = newDir();
    const first = await start(dir);
    // Retained, so that the watcher sees the will whenever it fires relative to its SUBSCRIBE.
    const will = (topic: string, delay: number) => ({
      topic,
      payload: Buffer.from(`will of ${topic}`),
      qos: 1 as const,
      retain: true,
      properties: { willDelayInterval: delay },
    });
    for (const [clientId, delay] of [
      ["gone", 1],
      ["returns", 30],
    ] as const) {
      const raw = await rawConnect(first.listener.port, 5);
      raw.send({
        cmd: "connect",
        protocolVersion: 5,
        clientId,
        clean: false,
        keepalive: 0,
        will: will(`wd/${clientId}`, delay),
        properties: { sessionExpiryInterval: 60 },
      });
      expect((await raw.next())?.cmd).toBe("connack");
      raw.end(); // no DISCONNECT: the will waits out its delay
      await raw.closed;
    }
    await untilStored(first.broker, "gone", (s) => s.will !== undefined);
    await untilStored(first.broker, "returns", (s) => s.will !== undefined);
    expect(first.listener.bridge.retained.size).toBe(0); // not published before the crash
    const copy = crashCopy(dir);
    await servers.shift()!.close(); // its timers die with it

    const second = await start(copy);
    const watcher = await second.connect({ protocolVersion: 5 });
    const got = collect(watcher);
    await watcher.subscribeAsync("wd/#", { qos: 1 });
    // Coming back (session resumed) cancels the pending will, in memory and in the store.
    const back = await connectRaw(second.listener.port, "returns");
    expect(back.ack.sessionPresent).toBe(true);
    await untilStored(second.broker, "returns", (s) => s.will === undefined);
    await until(() => got.length === 1, 4000, "the will after the restart");
    expect(got[0]!.topic).toBe("wd/gone");
    expect(got[0]!.payload).toBe("will of wd/gone");
    await untilStored(second.broker, "gone", (s) => s.will === undefined);
    back.raw.end();
    await back.raw.closed;
    await Bun.sleep(200);
    expect(got.map((g) => g.topic)).toEqual(["wd/gone"]);
    expect(second.listener.bridge.retained.size).toBe(1);
  });
});
