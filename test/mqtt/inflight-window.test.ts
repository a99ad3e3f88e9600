/** The adaptive outbound in-flight window (bridges/mqtt/inflight-window.ts), on a manual clock. */
import { afterEach, describe, expect, it } from "bun:test";
import { InflightWindow } from "../../bridges/mqtt/inflight-window.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";

/**
 * One round: `size` acknowledgements spread over `rttMs`, each `rttMs` after
 * its PUBLISH (a full window keeps that many in flight); `limited`: deliveries
 * waited for room.
 */
function round(w: InflightWindow, clock: ManualClock, rttMs: number, limited = true): void {
  const n = w.size;
  for (let i = 0; i < n; i++) {
    if (limited && i === 0) w.full();
    clock.advance(rttMs / n);
    w.acked(w.now() - rttMs);
  }
}

describe("adaptive in-flight window", () => {
  it("starts at 100 and grows by an eighth per window-limited round while acknowledgements stay fast, up to the maximum", () => {
    const clock = new ManualClock();
    const w = new InflightWindow({ clock, max: 1000 });
    expect(w.size).toBe(100);
    round(w, clock, 1);
    expect(w.size).toBe(112);
    round(w, clock, 1);
    expect(w.size).toBe(126);
    for (let i = 0; i < 40; i++) round(w, clock, 1);
    expect(w.size).toBe(1000);
  });

  it("does not grow in rounds where the window was never full", () => {
    const clock = new ManualClock();
    const w = new InflightWindow({ clock, max: 1000 });
    for (let i = 0; i < 10; i++) round(w, clock, 1, false);
    expect(w.size).toBe(100);
  });

  it("halves when the round's acknowledgement time passes 2 × baseline + slack, down to the minimum", () => {
    const clock = new ManualClock();
    const w = new InflightWindow({ clock, max: 1000, slackMs: 5 });
    for (let i = 0; i < 5; i++) round(w, clock, 2);
    const grown = w.size;
    expect(grown).toBeGreaterThan(100);
    // 2 × 2 + 5 = 9 ms still keeps up.
    round(w, clock, 9);
    expect(w.size).toBeGreaterThan(grown);
    const before = w.size;
    round(w, clock, 10); // lagging
    expect(w.size).toBe(Math.floor(before / 2));
    for (let i = 0; i < 10; i++) round(w, clock, 50);
    expect(w.size).toBe(16);
  });

  it("follows a slow but steady client: a high round trip alone is not lag (the baseline is the client's own)", () => {
    const clock = new ManualClock();
    const w = new InflightWindow({ clock, max: 400 });
    for (let i = 0; i < 30; i++) round(w, clock, 300);
    expect(w.size).toBe(400);
  });

  it("settles where queueing starts: acknowledgement time proportional to the window above a client's capacity", () => {
    const clock = new ManualClock();
    const w = new InflightWindow({ clock, max: 5000 });
    // The client handles 100 messages/ms; 1 ms of its own latency.
    const rtt = (size: number) => 1 + Math.max(0, size - 100) / 100;
    const sizes: number[] = [];
    for (let i = 0; i < 200; i++) {
      round(w, clock, rtt(w.size));
      sizes.push(w.size);
    }
    const tail = sizes.slice(100);
    // Never beyond 2 × 1 + 5 ms worth of queueing (about 700) by more than one growth step.
    expect(Math.max(...tail)).toBeLessThanOrEqual(800);
    expect(Math.min(...tail)).toBeGreaterThanOrEqual(16);
    expect(tail.some((s) => s > 100)).toBe(true); // it did use more than the old fixed 100
  });

  it("forgets the baseline after baselineMs, so a path that got slower is used fully again", () => {
    const clock = new ManualClock();
    const w = new InflightWindow({ clock, max: 1000, baselineMs: 1000 });
    for (let i = 0; i < 3; i++) round(w, clock, 1);
    for (let i = 0; i < 20; i++) round(w, clock, 40); // 40 ms > 2 × 1 + 5: halved to the minimum
    expect(w.size).toBe(16);
    for (let i = 0; i < 100; i++) round(w, clock, 40); // 4 s later the 1 ms rounds are forgotten
    expect(w.size).toBe(1000);
  });

  it("keeps a small maximum as a fixed window and starts over on reset()", () => {
    const clock = new ManualClock();
    const small = new InflightWindow({ clock, max: 2 });
    expect(small.size).toBe(2);
    round(small, clock, 1);
    expect(small.size).toBe(2);
    round(small, clock, 100);
    expect(small.size).toBe(2);
    const w = new InflightWindow({ clock, max: 1000 });
    round(w, clock, 1);
    round(w, clock, 1);
    expect(w.size).toBeGreaterThan(100);
    w.reset();
    expect(w.size).toBe(100);
    round(w, clock, 1);
    expect(w.size).toBe(112);
  });
});

describe("session in-flight window [MQTT-3.3.4-9]", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("uses a v5 client's announced Receive Maximum as is, and the adaptive window for clients that announce none", async () => {
    server = await startServer({ maxInflight: 500 });
    await server.connect({ protocolVersion: 5, clientId: "rm-10", properties: { receiveMaximum: 10 } });
    await server.connect({ protocolVersion: 5, clientId: "rm-none" });
    await server.connect({ protocolVersion: 4, clientId: "v311" });
    await server.connect({ protocolVersion: 5, clientId: "rm-big", properties: { receiveMaximum: 60000 } });
    const session = (id: string) => server!.listener.bridge.connections.get(id)!.session!;
    expect(session("rm-10").window).toBe(10);
    expect(session("rm-big").window).toBe(500); // capped by maxInflight
    for (const id of ["rm-none", "v311"]) {
      const s = session(id);
      expect(s.window).toBe(100);
      s.flow.size = 321; // what the adaptive window says, the session uses
      expect(s.window).toBe(321);
    }
  });

  it("delivers QoS 1 in order through the adaptive window", async () => {
    server = await startServer();
    const sub = await server.connect({ protocolVersion: 4, clientId: "q1-sub" });
    const got = collect(sub);
    await sub.subscribeAsync("aw/#", { qos: 1 });
    const pub = await server.connect({ protocolVersion: 4, clientId: "q1-pub" });
    const n = 3000;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => pub.publishAsync("aw/t", String(i + j), { qos: 1 })),
      );
    }
    await until(() => got.length === n, 10_000, "every message delivered");
    expect(got.map((m) => Number(m.payload))).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
