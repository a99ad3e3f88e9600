import { describe, expect, it } from "bun:test";
import { type CoapMessage, Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { decodeMessage } from "../../bridges/coap/codec/decode.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import { stringOption } from "../../bridges/coap/codec/options.ts";
import {
  DedupCache,
  DedupState,
  datagramHash,
  ENTRY_BYTES,
  PEER_BYTES,
} from "../../bridges/coap/dedup-cache.ts";
import { MessageLayer, type Peer, type ResponseSpec } from "../../bridges/coap/message-layer.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createCoapHarness, createTestClient } from "./harness.ts";

const peer: Peer = { address: "10.0.0.1", port: 5000 };
const text = (s: string) => new TextEncoder().encode(s);
const flush = () => new Promise((r) => setTimeout(r, 0));

/** A layer whose handler "stores" every PUT/POST (counted) and answers GET with a payload. */
function setup(opts: { maxDedupBytes?: number; slow?: boolean } = {}) {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const sent: Array<{ peer: Peer; m: CoapMessage }> = [];
  const stored: string[] = [];
  let gets = 0;
  let release: (() => void) | undefined;
  const layer = new MessageLayer({
    clock,
    timers,
    logger: silentLogger,
    random: () => 0,
    knownOptions: new Set([OptionNumber.URI_PATH]),
    maxDedupBytes: opts.maxDedupBytes,
    send: (p, bytes) => sent.push({ peer: p, m: decodeMessage(bytes) }),
    handle: async ({ message }): Promise<ResponseSpec> => {
      if (opts.slow) await new Promise<void>((r) => (release = r));
      if (message.code === Code.GET) {
        gets++;
        return { code: Code.CONTENT, payload: text(`value ${gets}`) };
      }
      stored.push(new TextDecoder().decode(message.payload));
      if (message.code === Code.POST) return { code: Code.CREATED, payload: text("created") };
      return { code: Code.CHANGED };
    },
  });
  return { clock, timers, sent, stored, layer, gets: () => gets, release: () => release?.() };
}

function msg(
  type: MessageType,
  code: number,
  mid: number,
  payload = "",
  token = [7, mid & 0xff],
  path = ["t"],
): Uint8Array {
  return encodeMessage({
    type,
    code,
    messageId: mid,
    token: Uint8Array.from(token),
    options: path.map((p) => stringOption(OptionNumber.URI_PATH, p)),
    payload: text(payload),
  });
}

describe("CoAP deduplication over EXCHANGE_LIFETIME", () => {
  it("answers a CON publish retransmitted 200 s later from the cache, under load, without storing it twice", async () => {
    const t = setup();
    const put = msg(MessageType.CON, Code.PUT, 4242, "reading-1");
    t.layer.receive(peer, put);
    await flush();
    expect(t.stored).toEqual(["reading-1"]);
    const first = t.sent[0]!.m;
    expect(first).toMatchObject({ type: MessageType.ACK, code: Code.CHANGED, messageId: 4242 });
    // 70k other exchanges from other sources in between (more than the old count-bounded cache held).
    for (let i = 0; i < 70_000; i++) {
      t.layer.receive(
        { address: `10.1.${i >> 8}.${i & 0xff}`, port: 6000 },
        msg(MessageType.NON, Code.PUT, i & 0xffff, "x"),
      );
      if (i % 1000 === 0) t.timers.advance(2);
    }
    await flush();
    expect(t.stored).toHaveLength(70_001);
    t.timers.advance(200_000 - 200);
    t.sent.length = 0;
    t.layer.receive(peer, put);
    await flush();
    expect(t.stored).toHaveLength(70_001);
    expect(t.stored.filter((s) => s === "reading-1")).toHaveLength(1);
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0]!.m).toEqual(first);
    expect(t.layer.dedup.evictedEarly).toBe(0);
    // After EXCHANGE_LIFETIME (247 s) the id is free again.
    t.timers.advance(48_000);
    t.layer.receive(peer, put);
    await flush();
    expect(t.stored.filter((s) => s === "reading-1")).toHaveLength(2);
  });

  it("keeps no reply bytes for publishes, and treats a reused id with another datagram as a new request", async () => {
    const t = setup();
    t.layer.receive(peer, msg(MessageType.CON, Code.PUT, 1, "a"));
    t.layer.receive(peer, msg(MessageType.NON, Code.PUT, 2, "b"));
    await flush();
    expect(t.layer.dedup.bytes).toBe(2 * ENTRY_BYTES + PEER_BYTES);
    // A NON duplicate gets a regenerated NON 2.04 with its token, not a second store.
    t.layer.receive(peer, msg(MessageType.NON, Code.PUT, 2, "b"));
    await flush();
    expect(t.stored).toEqual(["a", "b"]);
    expect(t.sent[2]!.m).toMatchObject({
      type: MessageType.NON,
      code: Code.CHANGED,
      token: Uint8Array.of(7, 2),
    });
    // Same id, different payload: the client reused the id, so this is new data.
    t.layer.receive(peer, msg(MessageType.CON, Code.PUT, 1, "c"));
    await flush();
    expect(t.stored).toEqual(["a", "b", "c"]);
    t.layer.receive(peer, msg(MessageType.CON, Code.PUT, 1, "c"));
    await flush();
    expect(t.stored).toEqual(["a", "b", "c"]);
  });

  it("drops the oldest cached replies past the budget: a safe GET runs again, a POST gets its bare code", async () => {
    const t = setup({ maxDedupBytes: 4096 }); // replies get 1 KiB
    const post = msg(MessageType.CON, Code.POST, 10, "p".repeat(200));
    const get = msg(MessageType.CON, Code.GET, 11);
    t.layer.receive(peer, post);
    t.layer.receive(peer, get);
    await flush();
    expect(t.sent[0]!.m.payload).toEqual(text("created"));
    // While cached, a duplicate GET replays the same bytes.
    t.layer.receive(peer, get);
    await flush();
    expect(t.gets()).toBe(1);
    expect(t.sent[2]!.m).toEqual(t.sent[1]!.m);
    // Many answered GETs push the two replies out of the reply budget.
    for (let i = 100; i < 120; i++) t.layer.receive(peer, msg(MessageType.CON, Code.GET, i));
    await flush();
    expect(t.layer.dedup.repliesDropped).toBeGreaterThan(0);
    expect(t.layer.dedup.bytes).toBeLessThanOrEqual(4096);
    const gets = t.gets();
    t.sent.length = 0;
    t.layer.receive(peer, post);
    t.layer.receive(peer, get);
    await flush();
    expect(t.stored).toHaveLength(1); // the POST was not run again
    expect(t.sent[0]!.m).toMatchObject({ type: MessageType.ACK, code: Code.CREATED, messageId: 10 });
    expect(t.sent[0]!.m.payload.length).toBe(0);
    expect(t.gets()).toBe(gets + 1); // the GET was
    expect(t.sent[1]!.m).toMatchObject({ type: MessageType.ACK, code: Code.CONTENT, messageId: 11 });
  });

  it("a duplicate while the handler runs draws the empty ACK, and the answer then goes separately", async () => {
    const t = setup({ slow: true });
    const put = msg(MessageType.CON, Code.PUT, 77, "slow");
    t.layer.receive(peer, put);
    await flush();
    t.layer.receive(peer, put);
    expect(t.sent.map((s) => [s.m.type, s.m.code])).toEqual([[MessageType.ACK, Code.EMPTY]]);
    t.release();
    await flush();
    await flush();
    expect(t.sent[1]!.m).toMatchObject({ type: MessageType.CON, code: Code.CHANGED });
    expect(t.stored).toEqual(["slow"]);
    // A later duplicate is acknowledged again (empty), not run.
    t.layer.receive(peer, put);
    expect(t.sent.at(-1)!.m).toMatchObject({ type: MessageType.ACK, code: Code.EMPTY, messageId: 77 });
    expect(t.stored).toEqual(["slow"]);
  });

  it("stays within its byte budget under a flood of distinct ids and sources", async () => {
    const budget = 256 * 1024;
    const t = setup({ maxDedupBytes: budget });
    let maxBytes = 0;
    for (let i = 0; i < 100_000; i++) {
      const src = { address: `192.0.2.${i % 200}`, port: 1000 + (i % 3000) };
      t.layer.receive(src, msg(MessageType.NON, i % 7 === 0 ? Code.GET : Code.PUT, i & 0xffff, `${i}`));
      if (i % 5000 === 0) {
        await flush();
        maxBytes = Math.max(maxBytes, t.layer.dedup.bytes);
      }
    }
    await flush();
    maxBytes = Math.max(maxBytes, t.layer.dedup.bytes);
    expect(maxBytes).toBeLessThanOrEqual(budget);
    expect(t.layer.dedup.size).toBeLessThanOrEqual(budget / ENTRY_BYTES);
    expect(t.layer.dedup.evictedEarly).toBeGreaterThan(70_000);
    expect(t.stored.length).toBeGreaterThan(85_000);
    // Everything expires: the cache empties, and sources are released.
    t.timers.advance(248_000);
    t.layer.receive(peer, msg(MessageType.NON, Code.PUT, 1, "last"));
    expect(t.layer.dedup.size).toBe(1);
    expect(t.layer.dedup.bytes).toBe(ENTRY_BYTES + PEER_BYTES);
  });
});

describe("CoAP deduplication through the listener (UDP)", () => {
  it("a CON publish retransmitted 200 s later is acknowledged again and appended once", async () => {
    const clock = new ManualClock();
    const timers = new ManualTimers(clock);
    const h = await createCoapHarness({ clock, timers, rateLimit: false });
    const c = await createTestClient(h.listener.port);
    try {
      await h.broker.createTopic({ name: "meter", partitions: 1 });
      const meter = ["ps", "data", "meter"];
      const put = msg(MessageType.CON, Code.PUT, 9001, "kwh=17", [1, 2, 3, 4], meter);
      c.sendRaw(put);
      const ack = await c.waitFor((m) => m.messageId === 9001);
      expect(ack).toMatchObject({ type: MessageType.ACK, code: Code.CREATED });
      timers.advance(200_000);
      c.sendRaw(put);
      const again = await c.waitFor((m) => m.messageId === 9001);
      expect(again).toEqual(ack);
      // A later publish (another id) proves the first is not queued behind a batch.
      c.sendRaw(msg(MessageType.CON, Code.PUT, 9002, "kwh=18", [1, 2, 3, 5], meter));
      await c.waitFor((m) => m.messageId === 9002);
      const read = await h.broker.readRecords({ topic: "meter", partition: 0, offset: 0 });
      expect(read.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(["kwh=17", "kwh=18"]);
    } finally {
      c.close();
      await h.close();
    }
  });
});

describe("DedupCache", () => {
  it("keeps handles valid while the ring grows and replies move", () => {
    const c = new DedupCache(1024 * 1024);
    const h = c.add("p", 1, 11, 1000);
    c.markAckSent(h);
    const replies: Array<ReturnType<DedupCache["add"]>> = [];
    for (let i = 2; i < 500; i++) {
      const hi = c.add("p", i, i, 1000);
      if (i % 3 === 0) c.answer(hi, Code.CONTENT, Uint8Array.of(i & 0xff, 1, 2));
      replies.push(hi);
    }
    expect(c.stateOf(h)).toBe(DedupState.ACK_SENT);
    c.answer(h, Code.CHANGED);
    expect(c.get("p", 1)).toMatchObject({
      state: DedupState.ANSWERED,
      code: Code.CHANGED,
      hash: 11,
      reply: undefined,
    });
    expect(c.get("p", 3)!.reply).toEqual(Uint8Array.of(3, 1, 2));
    expect(c.get("p", 498)!.reply).toEqual(Uint8Array.of(498 & 0xff, 1, 2));
    expect(c.get("p", 4)!.reply).toBeUndefined();
    // Replacing an id invalidates the old handle.
    c.add("p", 5, 99, 2000);
    c.answer(replies[3]!, Code.BAD_REQUEST);
    expect(c.get("p", 5)).toMatchObject({ state: DedupState.RUNNING, hash: 99 });
    c.sweep(1000);
    expect(c.size).toBe(1);
    c.sweep(2000);
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it("hashes datagrams (FNV-1a)", () => {
    expect(datagramHash(new Uint8Array(0))).toBe(0x811c9dc5);
    expect(datagramHash(text("a"))).toBe(0xe40c292c);
  });
});
