import { describe, expect, it } from "bun:test";
import { type CoapMessage, Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { decodeMessage } from "../../bridges/coap/codec/decode.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import { stringOption } from "../../bridges/coap/codec/options.ts";
import {
  type DeliveryOutcome,
  MessageLayer,
  type Peer,
  type ResponseSpec,
} from "../../bridges/coap/message-layer.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";

const peer: Peer = { address: "127.0.0.1", port: 40000 };
const text = (s: string) => new TextEncoder().encode(s);
const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(handle?: (m: CoapMessage) => Promise<ResponseSpec>) {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const sent: CoapMessage[] = [];
  const resets: Uint8Array[] = [];
  let calls = 0;
  const layer = new MessageLayer({
    clock,
    timers,
    logger: silentLogger,
    random: () => 0, // initial timeout exactly ACK_TIMEOUT
    knownOptions: new Set([OptionNumber.URI_PATH, OptionNumber.URI_QUERY]),
    send: (_p, bytes) => sent.push(decodeMessage(bytes)),
    handle: (req) => {
      calls++;
      return handle ? handle(req.message) : Promise.resolve({ code: Code.CONTENT, payload: text("hi") });
    },
    onReset: (_p, token) => resets.push(token),
  });
  return { clock, timers, sent, resets, layer, calls: () => calls };
}

function request(type: MessageType, messageId: number, extra: Partial<CoapMessage> = {}): Uint8Array {
  return encodeMessage({
    type,
    code: Code.GET,
    messageId,
    token: Uint8Array.of(0xaa, messageId & 0xff),
    options: [stringOption(OptionNumber.URI_PATH, "x")],
    payload: new Uint8Array(0),
    ...extra,
  });
}

describe("CoAP message layer", () => {
  it("piggybacks a quick answer on the ACK and replays it for a duplicate", async () => {
    const t = setup();
    t.layer.receive(peer, request(MessageType.CON, 100));
    await flush();
    expect(t.sent).toHaveLength(1);
    const ack = t.sent[0]!;
    expect(ack.type).toBe(MessageType.ACK);
    expect(ack.messageId).toBe(100);
    expect(ack.code).toBe(Code.CONTENT);
    expect([...ack.token]).toEqual([0xaa, 100]);
    t.layer.receive(peer, request(MessageType.CON, 100));
    await flush();
    expect(t.calls()).toBe(1);
    expect(t.sent).toHaveLength(2);
    expect(t.sent[1]).toEqual(ack);
    // Another peer with the same id is a different exchange.
    t.layer.receive({ ...peer, port: 40001 }, request(MessageType.CON, 100));
    await flush();
    expect(t.calls()).toBe(2);
  });

  it("forgets exchanges after EXCHANGE_LIFETIME", async () => {
    const t = setup();
    t.layer.receive(peer, request(MessageType.NON, 7));
    await flush();
    expect(t.sent[0]!.type).toBe(MessageType.NON);
    t.timers.advance(246_000);
    t.layer.receive(peer, request(MessageType.NON, 7));
    await flush();
    expect(t.calls()).toBe(1);
    t.timers.advance(2_000);
    t.layer.receive(peer, request(MessageType.NON, 7));
    await flush();
    expect(t.calls()).toBe(2);
  });

  it("sends an empty ACK for a slow handler, then a separate CON response retransmitted with backoff", async () => {
    let answer!: (r: ResponseSpec) => void;
    const t = setup(() => new Promise((r) => (answer = r)));
    t.layer.receive(peer, request(MessageType.CON, 5));
    await flush();
    expect(t.sent).toHaveLength(0);
    t.timers.advance(1000);
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0]!.type).toBe(MessageType.ACK);
    expect(t.sent[0]!.code).toBe(Code.EMPTY);
    // A retransmitted request while we work gets the empty ACK again, no second call.
    t.layer.receive(peer, request(MessageType.CON, 5));
    expect(t.sent).toHaveLength(2);
    expect(t.calls()).toBe(1);
    answer({ code: Code.CHANGED });
    await flush();
    const sep = t.sent[2]!;
    expect(sep.type).toBe(MessageType.CON);
    expect(sep.code).toBe(Code.CHANGED);
    expect([...sep.token]).toEqual([0xaa, 5]);
    // Backoff: 2s, 4s, 8s, 16s between the 4 retransmissions.
    const times: number[] = [];
    const start = t.clock.monotonic();
    for (let i = 0; i < 40; i++) {
      const before = t.sent.length;
      t.timers.advance(1000);
      if (t.sent.length > before) times.push(t.clock.monotonic() - start);
    }
    expect(times).toEqual([2000, 6000, 14000, 30000]);
    expect(t.sent.slice(3).every((m) => m.messageId === sep.messageId)).toBe(true);
    expect(t.layer.pendingCount).toBe(1); // waits the last (32 s) timeout
    t.timers.advance(32_000);
    expect(t.layer.pendingCount).toBe(0); // gave up after MAX_RETRANSMIT
    expect(t.sent).toHaveLength(7);
  });

  it("stops retransmitting on ACK and reports the outcome", async () => {
    const t = setup();
    const outcome = t.layer.sendConfirmable(peer, {
      code: Code.CONTENT,
      token: Uint8Array.of(1),
      options: [],
      payload: text("n"),
    });
    expect(t.sent).toHaveLength(1);
    t.timers.advance(2000);
    expect(t.sent).toHaveLength(2);
    const mid = t.sent[0]!.messageId;
    t.layer.receive(
      peer,
      encodeMessage({
        type: MessageType.ACK,
        code: 0,
        messageId: mid,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
    expect(await outcome).toBe("ack" as DeliveryOutcome);
    t.timers.advance(60_000);
    expect(t.sent).toHaveLength(2);
    expect(t.timers.size).toBe(0);
  });

  it("times out after MAX_RETRANSMIT and resolves reset on RST", async () => {
    const t = setup();
    const lost = t.layer.sendConfirmable(peer, {
      code: Code.CONTENT,
      token: Uint8Array.of(1),
      options: [],
      payload: text("a"),
    });
    t.timers.advance(200_000);
    expect(await lost).toBe("timeout");
    expect(t.sent).toHaveLength(5);
    const reset = t.layer.sendConfirmable(peer, {
      code: Code.CONTENT,
      token: Uint8Array.of(2),
      options: [],
      payload: text("b"),
    });
    const mid = t.sent[5]!.messageId;
    t.layer.receive(
      peer,
      encodeMessage({
        type: MessageType.RST,
        code: 0,
        messageId: mid,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
    expect(await reset).toBe("reset");
  });

  it("reports a RST for a NON it sent with that message's token", () => {
    const t = setup();
    t.layer.sendNonConfirmable(peer, {
      code: Code.CONTENT,
      token: Uint8Array.of(9, 9),
      options: [],
      payload: text("n"),
    });
    const mid = t.sent[0]!.messageId;
    t.layer.receive(
      peer,
      encodeMessage({
        type: MessageType.RST,
        code: 0,
        messageId: mid,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
    expect(t.resets.map((r) => [...r])).toEqual([[9, 9]]);
  });

  it("answers a malformed CON and a ping with RST, drops malformed NON and garbage", async () => {
    const t = setup();
    t.layer.receive(peer, Uint8Array.of(0x49, 1, 0x12, 0x34)); // TKL 9
    expect(t.sent[0]).toMatchObject({ type: MessageType.RST, messageId: 0x1234, code: 0 });
    t.layer.receive(peer, Uint8Array.of(0x40, 0, 0x00, 0x02)); // CON ping
    expect(t.sent[1]).toMatchObject({ type: MessageType.RST, messageId: 2 });
    t.layer.receive(peer, Uint8Array.of(0x59, 1, 0, 3)); // malformed NON
    t.layer.receive(peer, Uint8Array.of(1, 2));
    t.layer.receive(peer, Uint8Array.of(0x40, 0x45, 0, 4)); // a response sent to a server in a CON
    expect(t.sent).toHaveLength(3);
    expect(t.sent[2]).toMatchObject({ type: MessageType.RST, messageId: 4 });
    await flush();
    expect(t.calls()).toBe(0);
  });

  it("rejects unknown critical options: 4.02 for CON, RST for NON; elective ones pass", async () => {
    const t = setup();
    const odd = { number: 2049, value: Uint8Array.of(1) };
    t.layer.receive(peer, request(MessageType.CON, 10, { options: [odd] }));
    expect(t.sent[0]).toMatchObject({ type: MessageType.ACK, code: Code.BAD_OPTION, messageId: 10 });
    expect(new TextDecoder().decode(t.sent[0]!.payload)).toContain("2049");
    t.layer.receive(peer, request(MessageType.NON, 11, { options: [odd] }));
    expect(t.sent[1]).toMatchObject({ type: MessageType.RST, messageId: 11 });
    t.layer.receive(
      peer,
      request(MessageType.CON, 12, { options: [{ number: 2048, value: Uint8Array.of(1) }] }),
    );
    await flush();
    expect(t.sent[2]).toMatchObject({ type: MessageType.ACK, code: Code.CONTENT });
    expect(t.calls()).toBe(1);
  });

  it("turns a handler failure into 5.00 with a diagnostic payload", async () => {
    const t = setup(() => Promise.reject(new Error("boom")));
    t.layer.receive(peer, request(MessageType.CON, 20));
    await flush();
    expect(t.sent[0]).toMatchObject({ type: MessageType.ACK, code: Code.INTERNAL_SERVER_ERROR });
    expect(t.sent[0]!.payload.length).toBeGreaterThan(0);
  });

  it("bounds the exchange cache", async () => {
    const t = setup();
    const small = new MessageLayer({
      clock: t.clock,
      timers: t.timers,
      logger: silentLogger,
      knownOptions: new Set([OptionNumber.URI_PATH]),
      maxDedupBytes: 10 * 100,
      send: () => {},
      handle: async () => ({ code: Code.CONTENT }),
    });
    for (let i = 0; i < 50; i++) small.receive(peer, request(MessageType.NON, i));
    await flush();
    expect(small.exchangeCount).toBeLessThanOrEqual(10);
    expect(small.exchangeCount).toBeGreaterThan(0);
    expect(small.dedup.bytes).toBeLessThanOrEqual(1000);
  });
});
