import { afterEach, describe, expect, it } from "bun:test";
import { decodeCbor } from "../../bridges/coap/codec/cbor.ts";
import { type CoapMessage, Code, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import {
  decodeBlock,
  encodeBlock,
  getOption,
  getUintOption,
  stringOption,
  uintOption,
} from "../../bridges/coap/codec/options.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));
const query = (...qs: string[]) => qs.map((q) => stringOption(OptionNumber.URI_QUERY, q));

let h: CoapHarness | undefined;
let c: TestClient | undefined;

afterEach(async () => {
  c?.close();
  await h?.close();
  h = undefined;
  c = undefined;
});

/** The offset in a notification's ETag (partition 2 bytes, offset 6 bytes). */
function etagOffset(m: CoapMessage): number {
  const v = getOption(m, OptionNumber.ETAG)!.value;
  const d = new DataView(v.buffer, v.byteOffset, 8);
  return d.getUint16(2) * 2 ** 32 + d.getUint32(4);
}

const isToken = (b: number) => (m: CoapMessage) => m.token[0] === b && m.code !== Code.EMPTY;

/** Collect notifications for a token until `n` arrived. */
async function collect(client: TestClient, token: number, n: number): Promise<CoapMessage[]> {
  const out: CoapMessage[] = [];
  while (out.length < n) out.push(await client.waitFor(isToken(token)));
  return out;
}

async function observeGet(client: TestClient, token: number, topic: string, ...qs: string[]) {
  return client.request({
    code: Code.GET,
    token: Uint8Array.of(token),
    options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", topic), ...query(...qs)],
  });
}

async function produce(topic: string, values: string[]): Promise<void> {
  await h!.broker.produce({ topic, records: values.map((v) => ({ value: text(v) })), acks: -1 });
}

describe("Observe flow control (RFC 7641 §4.5.1)", () => {
  it("a saturated observer gets only the newest state once its CON is acknowledged", async () => {
    h = await createCoapHarness({ conEvery: 2, ackTimeoutMs: 60_000 });
    c = await createTestClient(h.listener.port, { ackCon: false });
    await h.broker.createTopic({ name: "slow", partitions: 1 });
    await produce("slow", ["0"]);
    await observeGet(c, 5, "slow");
    await produce("slow", ["1", "2", "3", "4", "5", "6"]);
    const first = await collect(c, 5, 4);
    expect(first.map((m) => str(m.payload))).toEqual(["1", "2", "3", "4"]);
    expect(first.map((m) => m.type)).toEqual([
      MessageType.NON,
      MessageType.CON, // every 2nd; then conEvery (2) NON may follow before an ACK
      MessageType.NON,
      MessageType.NON,
    ]);
    await Bun.sleep(30);
    expect(c.received.filter(isToken(5))).toEqual([]); // "5" and "6" wait; only "6" is kept
    expect(h.listener.counters.droppedNotifications).toBe(1);
    c.sendRaw(
      encodeMessage({
        type: MessageType.ACK,
        code: Code.EMPTY,
        messageId: first[1]!.messageId,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
    const [last] = await collect(c, 5, 1);
    expect(str(last!.payload)).toBe("6");
    const seqs = [...first, last!].map((m) => getUintOption(m, OptionNumber.OBSERVE)!);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });
});

describe("Observe positions: no record twice, none skipped, none from before", () => {
  it("a new observer never receives records from before its registration; an old one gets all, once", async () => {
    h = await createCoapHarness();
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "pos", partitions: 1 });
    await produce("pos", ["seed"]);
    await observeGet(c, 1, "pos");
    // Hold the shared cursor's reads (GET's latest-value reads ask for 1 record) so that
    // it is still behind when the second observer registers.
    const read = h.broker.readRecords.bind(h.broker);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    h.broker.readRecords = async (req) => {
      if (req.maxRecords !== 1) await gate;
      return read(req);
    };
    for (let i = 0; i < 20; i++) await produce("pos", [`a${i}`]);
    const reg = await observeGet(c, 2, "pos");
    const regOffset = etagOffset(reg);
    expect(regOffset).toBe(20);
    release();
    for (let i = 0; i < 5; i++) await produce("pos", [`b${i}`]);
    const end = h.broker.partitionState("pos", 0).highWatermark;
    const one = await collect(c, 1, 25);
    expect(one.map(etagOffset)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const two = await collect(c, 2, end - 1 - regOffset);
    expect(two.map(etagOffset)).toEqual(
      Array.from({ length: end - 1 - regOffset }, (_, i) => regOffset + 1 + i),
    );
    await Bun.sleep(20);
    expect(c.received.filter((m) => m.token[0] === 1 || m.token[0] === 2)).toEqual([]);
  });

  it("GET ?offset=N with Observe replays from N, then live, with no gap and no duplicate", async () => {
    h = await createCoapHarness();
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "replay", partitions: 1 });
    await produce(
      "replay",
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
    // A live observer first, so the shared cursor is at the end when the replay registers.
    await observeGet(c, 1, "replay");
    const res = await observeGet(c, 3, "replay", "offset=2", "limit=3");
    expect(res.code).toBe(Code.CONTENT);
    expect(getUintOption(res, OptionNumber.OBSERVE)).toBeDefined();
    const page = decodeCbor(res.payload) as Map<string, unknown>;
    const records = page.get("records") as Array<Map<string, unknown>>;
    expect(records.map((r) => r.get("o"))).toEqual([2, 3, 4]);
    await produce("replay", ["live0", "live1"]);
    const rest = await collect(c, 3, 7);
    expect(rest.map(etagOffset)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(rest.map((m) => str(m.payload))).toEqual(["r5", "r6", "r7", "r8", "r9", "live0", "live1"]);
    const live = await collect(c, 1, 2);
    expect(live.map(etagOffset)).toEqual([10, 11]);
    await Bun.sleep(20);
    expect(c.received.filter((m) => m.token[0] === 3)).toEqual([]);
  });

  it("a replay on a topic nobody observes yet starts its own cursor", async () => {
    h = await createCoapHarness();
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "alone", partitions: 1 });
    await produce("alone", ["x0", "x1", "x2", "x3"]);
    await observeGet(c, 4, "alone", "offset=0", "limit=1");
    const rest = await collect(c, 4, 3);
    expect(rest.map((m) => str(m.payload))).toEqual(["x1", "x2", "x3"]);
  });
});

describe("large notifications", () => {
  it("Block2 follow-ups continue the notified record, not the newest one", async () => {
    h = await createCoapHarness();
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "big", partitions: 1 });
    await produce("big", ["small"]);
    await observeGet(c, 6, "big");
    const big = new Uint8Array(2500).map((_, i) => i & 0xff);
    await h.broker.produce({ topic: "big", records: [{ value: big }], acks: -1 });
    const [n] = await collect(c, 6, 1);
    const b0 = decodeBlock(getOption(n!, OptionNumber.BLOCK2)!.value)!;
    expect(b0).toEqual({ num: 0, more: true, szx: 6 });
    expect(n!.payload).toEqual(big.subarray(0, 1024));
    await produce("big", ["newer"]); // the newest value is now different
    await collect(c, 6, 1);
    const parts = [n!.payload];
    for (let num = 1; ; num++) {
      const r = await c.request({
        code: Code.GET,
        options: [
          ...path("ps", "data", "big"),
          { number: OptionNumber.BLOCK2, value: encodeBlock({ num, more: false, szx: 6 }) },
        ],
      });
      expect(r.code).toBe(Code.CONTENT);
      expect(getOption(r, OptionNumber.ETAG)!.value).toEqual(getOption(n!, OptionNumber.ETAG)!.value);
      parts.push(r.payload);
      if (!decodeBlock(getOption(r, OptionNumber.BLOCK2)!.value)!.more) break;
    }
    expect(Buffer.concat(parts)).toEqual(Buffer.from(big));
  });

  it("notifications to a source not verified by Echo stay within the amplification limit (smaller blocks)", async () => {
    h = await createCoapHarness({ echo: {} });
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "amp", partitions: 1 });
    await produce("amp", ["s"]);
    const reg = await observeGet(c, 7, "amp");
    expect(getUintOption(reg, OptionNumber.OBSERVE)).toBeDefined();
    const regBytes = 4 + 1 + 1 + 3 + 4 + 4; // header, token, Observe, "ps", "data", "amp"
    const value = new Uint8Array(600).fill(0x33);
    await h.broker.produce({ topic: "amp", records: [{ value }], acks: -1 });
    const [n] = await collect(c, 7, 1);
    const block = decodeBlock(getOption(n!, OptionNumber.BLOCK2)!.value)!;
    expect(block.more).toBe(true);
    expect(block.szx).toBeLessThan(6);
    expect(n!.payload.length + 16).toBeLessThanOrEqual(Math.max(64, 3 * regBytes));
  });
});
