import { afterEach, describe, expect, it } from "bun:test";
import { Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
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
});

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await Bun.sleep(5);
  expect(cond()).toBe(true);
}

describe("Observe liveness (RFC 7641 §4.5)", () => {
  it("every conEvery-th notification is CON; an observer that never ACKs is dropped after MAX_RETRANSMIT", async () => {
    const clock = new ManualClock();
    const timers = new ManualTimers(clock);
    h = await createCoapHarness({ clock, timers, random: () => 0, conEvery: 2 });
    c = await createTestClient(h.listener.port, { ackCon: false });
    await h.broker.createTopic({ name: "live", partitions: 1 });
    await h.broker.produce({ topic: "live", records: [{ value: text("0") }], acks: -1 });
    const token = Uint8Array.of(7);
    const reg = await c.request({
      code: Code.GET,
      token,
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "live")],
    });
    expect(getUintOption(reg, OptionNumber.OBSERVE)).toBeDefined();
    await h.broker.produce({
      topic: "live",
      records: [{ value: text("1") }, { value: text("2") }],
      acks: -1,
    });
    const n1 = await c.waitFor((m) => m.token[0] === 7);
    const n2 = await c.waitFor((m) => m.token[0] === 7);
    expect([n1.type, n2.type]).toEqual([MessageType.NON, MessageType.CON]);
    // The CON goes unanswered: 4 retransmissions (2, 4, 8, 16 s), then 32 s more, then the observer is gone.
    for (let i = 0; i < 4; i++) {
      timers.advance(2000 * 2 ** i);
      const again = await c.waitFor((m) => m.token[0] === 7);
      expect(again.messageId).toBe(n2.messageId);
    }
    expect(h.listener.observers()).toBe(1);
    timers.advance(32_000);
    await waitUntil(() => h!.listener.observers() === 0);
  });

  it("an ACKed CON notification keeps the observer; deleting the topic ends observations with 4.04", async () => {
    h = await createCoapHarness({ conEvery: 1 });
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "keep", partitions: 1 });
    await h.broker.produce({ topic: "keep", records: [{ value: text("0") }], acks: -1 });
    await c.request({
      code: Code.GET,
      token: Uint8Array.of(9),
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "keep")],
    });
    await h.broker.produce({ topic: "keep", records: [{ value: text("1") }], acks: -1 });
    const n = await c.waitFor((m) => m.token[0] === 9);
    expect(n.type).toBe(MessageType.CON); // the test client ACKs it
    await Bun.sleep(20);
    expect(h.listener.observers()).toBe(1);
    const del = await c.request({ code: Code.DELETE, options: path("ps", "keep") });
    expect(del.code).toBe(Code.DELETED);
    const last = await c.waitFor((m) => m.token[0] === 9);
    expect(last.code).toBe(Code.NOT_FOUND);
    expect(h.listener.observers()).toBe(0);
  });

  it("max-subscribers: a registration beyond the limit is answered without Observe", async () => {
    h = await createCoapHarness();
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "few", partitions: 1 });
    await h.broker.produce({ topic: "few", records: [{ value: text("0") }], acks: -1 });
    const { encodeCbor } = await import("../../bridges/coap/codec/cbor.ts");
    await c.request({
      code: Code.IPATCH,
      options: path("ps", "few"),
      payload: encodeCbor(new Map([[6, 1]])),
    });
    const a = await c.request({
      code: Code.GET,
      token: Uint8Array.of(1),
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "few")],
    });
    const b = await c.request({
      code: Code.GET,
      token: Uint8Array.of(2),
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "few")],
    });
    expect(getUintOption(a, OptionNumber.OBSERVE)).toBeDefined();
    expect(getUintOption(b, OptionNumber.OBSERVE)).toBeUndefined();
    expect(b.code).toBe(Code.CONTENT);
    // NON request dedup: the same message id twice registers once and answers twice.
    const dup = encodeMessage({
      type: MessageType.NON,
      code: Code.GET,
      messageId: 4242,
      token: Uint8Array.of(3),
      options: path(".well-known", "core"),
      payload: new Uint8Array(0),
    });
    c.sendRaw(dup);
    c.sendRaw(dup);
    const r1 = await c.waitFor((m) => m.token[0] === 3);
    const r2 = await c.waitFor((m) => m.token[0] === 3);
    expect(r2.messageId).toBe(r1.messageId);
  });
});
