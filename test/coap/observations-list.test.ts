/** The listener's list of live observations (operator view: GET /v1/coap/observers, console CoAP page). */
import { afterEach, describe, expect, it } from "bun:test";
import { Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { getUintOption, stringOption, uintOption } from "../../bridges/coap/codec/options.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);
const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));

let h: CoapHarness | undefined;
let c: TestClient | undefined;

afterEach(async () => {
  c?.close();
  await h?.close();
  c = undefined;
  h = undefined;
});

describe("CoAP observations list", () => {
  it("lists each observation with source, path, token, sequence, notifications and CON state", async () => {
    const clock = new ManualClock();
    const timers = new ManualTimers(clock);
    h = await createCoapHarness({ clock, timers, random: () => 0, conEvery: 2 });
    c = await createTestClient(h.listener.port, { ackCon: false });
    await h.broker.createTopic({ name: "live", partitions: 1 });
    await h.broker.produce({ topic: "live", records: [{ value: text("0") }], acks: -1 });
    expect(h.listener.observations()).toEqual([]);
    const token = Uint8Array.of(0xab, 0x01);
    const reg = await c.request({
      code: Code.GET,
      token,
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "live")],
    });
    const regSeq = getUintOption(reg, OptionNumber.OBSERVE);
    expect(regSeq).toBeDefined();
    const [fresh] = h.listener.observations();
    expect(fresh).toEqual({
      source: `127.0.0.1:${c.port}`,
      path: "/ps/data/live",
      resource: "live",
      topic: "live",
      tokenHex: "ab01",
      seq: regSeq!,
      notifications: 0,
      lastNotifiedAt: null,
      conOutstanding: false,
    });

    clock.advance(5000);
    await h.broker.produce({
      topic: "live",
      records: [{ value: text("1") }, { value: text("2") }],
      acks: -1,
    });
    const n1 = await c.waitFor((m) => m.token[0] === 0xab);
    const n2 = await c.waitFor((m) => m.token[0] === 0xab);
    expect([n1.type, n2.type]).toEqual([MessageType.NON, MessageType.CON]);
    const [after] = h.listener.observations();
    expect(after!.notifications).toBe(2);
    expect(after!.seq).toBe(getUintOption(n2, OptionNumber.OBSERVE)!);
    expect(after!.lastNotifiedAt).toBe(clock.now());
    // The client does not ACK the CON: it is outstanding.
    expect(after!.conOutstanding).toBe(true);
  });

  it("honours the limit and drops deregistered observations", async () => {
    h = await createCoapHarness({});
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "a", partitions: 1 });
    await h.broker.produce({ topic: "a", records: [{ value: text("0") }], acks: -1 });
    for (const t of [1, 2, 3]) {
      await c.request({
        code: Code.GET,
        token: Uint8Array.of(t),
        options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "a")],
      });
    }
    expect(h.listener.observations().map((o) => o.tokenHex)).toEqual(["01", "02", "03"]);
    expect(h.listener.observations(2)).toHaveLength(2);
    await c.request({
      code: Code.GET,
      token: Uint8Array.of(2),
      options: [uintOption(OptionNumber.OBSERVE, 1), ...path("ps", "data", "a")],
    });
    expect(h.listener.observations().map((o) => o.tokenHex)).toEqual(["01", "03"]);
  });
});
