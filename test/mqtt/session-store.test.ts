/** What persistent sessions keep in __mqtt_sessions (cursors, not copies), expiry, and shared groups across a restart. */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import { SESSIONS_TOPIC } from "../../bridges/mqtt/index.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { persistentSession, startServer, type TestServer, tempDir, until } from "./harness.ts";

let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function storedSessions(s: TestServer): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  const res = await s.broker.readRecords({
    topic: SESSIONS_TOPIC,
    partition: 0,
    offset: 0,
    maxRecords: 10_000,
  });
  for (const r of res.records) {
    const key = new TextDecoder().decode(r.key!);
    out.set(key, r.value === null ? null : JSON.parse(new TextDecoder().decode(r.value)));
  }
  return out;
}

describe("session store", () => {
  it("keeps subscriptions and log cursors, never message copies", async () => {
    server = await startServer({ sessionFlushIntervalMs: 50 });
    const sub = await server.connect(persistentSession("cursor", 600));
    await sub.subscribeAsync("c/#", { qos: 1, properties: { subscriptionIdentifier: 4 } });
    await sub.endAsync();
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("c/1", "secret-payload", { qos: 1 });
    await server.listener.bridge.flush({ all: true });
    const stored = (await storedSessions(server)).get("c/cursor") as {
      expiry: number;
      subs: unknown[];
      cursors: Array<{ t: string; p: number; o: number }>;
    };
    expect(stored.expiry).toBe(600);
    expect(stored.subs).toEqual([{ raw: "c/#", qos: 1, nl: false, rap: false, rh: 0, id: 4 }]);
    expect(stored.cursors).toContainEqual({ t: "mqtt", p: 0, o: 0 });
    expect(JSON.stringify(stored)).not.toContain("secret-payload");
  });

  it("[MQTT-3.1.2-23] a session ends when its expiry interval passes after disconnect; the store forgets it", async () => {
    const clock = new ManualClock(Date.now());
    server = await startServer({ clock });
    const c = await server.connect(persistentSession("brief", 5));
    await c.subscribeAsync("x", { qos: 1 });
    await c.endAsync();
    await server.listener.bridge.flush();
    expect((await storedSessions(server)).get("c/brief")).not.toBeNull();
    clock.advance(4_000);
    await Bun.sleep(250);
    expect(server.listener.bridge.sessions.has("brief")).toBe(true);
    clock.advance(2_000);
    await until(() => !server!.listener.bridge.sessions.has("brief"), 3000, "expiry");
    await server.listener.bridge.flush();
    expect((await storedSessions(server)).get("c/brief")).toBeNull();
  });

  it("a shared group's cursor and its persistent members survive a restart", async () => {
    dir = tempDir();
    server = await startServer({ dir });
    const m = await server.connect(persistentSession("member", 3600));
    await m.subscribeAsync("$share/grp/orders/#", { qos: 1 });
    await m.endAsync();
    const pub = await server.connect({ protocolVersion: 5 });
    await pub.publishAsync("orders/1", "o1", { qos: 1 });
    await pub.publishAsync("orders/2", "o2", { qos: 1 });
    await server.close();

    server = await startServer({ dir });
    const back = await server.resume(persistentSession("member", 3600));
    expect(back.sessionPresent).toBe(true);
    await until(() => back.got.length === 2, 3000, "shared backlog after restart");
    expect(back.got.map((g) => g.payload)).toEqual(["o1", "o2"]);
  });
});
