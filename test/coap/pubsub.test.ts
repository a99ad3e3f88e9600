import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { type CborValue, decodeCbor, encodeCbor } from "../../bridges/coap/codec/cbor.ts";
import {
  Code,
  codeString,
  ContentFormat,
  MessageType,
  OptionNumber,
} from "../../bridges/coap/codec/constants.ts";
import {
  getOption,
  getOptions,
  getUintOption,
  optionString,
  stringOption,
  uintOption,
} from "../../bridges/coap/codec/options.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));
const query = (...qs: string[]) => qs.map((q) => stringOption(OptionNumber.URI_QUERY, q));

let h: CoapHarness;
let c: TestClient;

beforeEach(async () => {
  h = await createCoapHarness();
  c = await createTestClient(h.listener.port);
});

afterEach(async () => {
  c.close();
  await h.close();
});

async function publish(
  topic: string,
  body: string,
  cf: number = ContentFormat.TEXT_PLAIN,
  code: number = Code.PUT,
) {
  return c.request({
    code,
    options: [...path("ps", "data", topic), uintOption(OptionNumber.CONTENT_FORMAT, cf)],
    payload: text(body),
  });
}

describe("CoAP pub/sub over UDP", () => {
  it("publishes with PUT/POST onto the stream topic and answers 2.01 then 2.04 after the append", async () => {
    await h.broker.createTopic({ name: "temps", partitions: 1 });
    const first = await publish("temps", "21.5");
    expect(codeString(first.code)).toBe("2.01");
    expect(first.type).toBe(MessageType.ACK);
    const second = await publish("temps", "22.0", ContentFormat.TEXT_PLAIN, Code.POST);
    expect(codeString(second.code)).toBe("2.04");
    const read = await h.broker.readRecords({ topic: "temps", partition: 0, offset: 0 });
    expect(read.records.map((r) => str(r.value!))).toEqual(["21.5", "22.0"]);
    expect(read.records[0]!.headers).toEqual([{ key: "content-format", value: text("0") }]);
  });

  it("GET returns the latest value with its Content-Format and ETag; 4.04 before any data", async () => {
    await h.broker.createTopic({ name: "t", partitions: 2 });
    const empty = await c.request({ code: Code.GET, options: path("ps", "data", "t") });
    expect(codeString(empty.code)).toBe("4.04");
    expect(str(empty.payload)).toContain("no data");
    await publish("t", '{"v":1}', ContentFormat.JSON);
    await h.broker.produce({
      topic: "t",
      partition: 1,
      records: [
        {
          value: text('{"v":2}'),
          timestamp: Date.now() + 60_000,
          headers: [{ key: "content-format", value: text("50") }],
        },
      ],
      acks: -1,
    });
    const res = await c.request({ code: Code.GET, options: path("ps", "data", "t") });
    expect(codeString(res.code)).toBe("2.05");
    expect(str(res.payload)).toBe('{"v":2}');
    expect(getUintOption(res, OptionNumber.CONTENT_FORMAT)).toBe(ContentFormat.JSON);
    const etag = getOption(res, OptionNumber.ETAG)!;
    const valid = await c.request({ code: Code.GET, options: [...path("ps", "data", "t"), etag] });
    expect(codeString(valid.code)).toBe("2.03");
    const notAcceptable = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "t"), uintOption(OptionNumber.ACCEPT, 60)],
    });
    expect(codeString(notAcceptable.code)).toBe("4.06");
  });

  it("GET ?offset=N and ?since=T return history from the log as CBOR", async () => {
    await h.broker.createTopic({ name: "hist", partitions: 1 });
    const base = 1_800_000_000_000;
    await h.broker.produce({
      topic: "hist",
      records: [0, 1, 2, 3, 4].map((i) => ({ value: text(`v${i}`), timestamp: base + i * 1000 })),
      acks: -1,
    });
    const res = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "hist"), ...query("offset=2", "limit=2")],
    });
    expect(codeString(res.code)).toBe("2.05");
    expect(getUintOption(res, OptionNumber.CONTENT_FORMAT)).toBe(ContentFormat.CBOR);
    const body = decodeCbor(res.payload) as Map<string, CborValue>;
    const recs = body.get("records") as Map<string, CborValue>[];
    expect(recs.map((r) => [r.get("o"), str(r.get("v") as Uint8Array)])).toEqual([
      [2, "v2"],
      [3, "v3"],
    ]);
    expect((body.get("next") as Map<number, number>).get(0)).toBe(4);
    const since = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "hist"), ...query(`since=${base + 3000}`)],
    });
    const sinceRecs = (decodeCbor(since.payload) as Map<string, CborValue>).get("records") as Map<
      string,
      CborValue
    >[];
    expect(sinceRecs.map((r) => r.get("t"))).toEqual([base + 3000, base + 4000]);
    const iso = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "hist"), ...query(`since=${new Date(base + 4000).toISOString()}`)],
    });
    expect(((decodeCbor(iso.payload) as Map<string, CborValue>).get("records") as unknown[]).length).toBe(1);
    const bad = await c.request({
      code: Code.GET,
      options: [...path("ps", "data", "hist"), ...query("offset=-1")],
    });
    expect(codeString(bad.code)).toBe("4.00");
    expect(str(bad.payload)).toContain("offset");
  });

  it("Observe: notifications for records produced via broker.produce, in order, until deregistered", async () => {
    await h.broker.createTopic({ name: "obs", partitions: 1 });
    await publish("obs", "start");
    const token = Uint8Array.of(0xab, 0xcd);
    const reg = await c.request({
      code: Code.GET,
      token,
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "obs")],
    });
    expect(codeString(reg.code)).toBe("2.05");
    expect(str(reg.payload)).toBe("start");
    const seq0 = getUintOption(reg, OptionNumber.OBSERVE)!;
    expect(seq0).toBeDefined();
    expect(h.listener.observers()).toBe(1);
    for (const v of ["a", "b", "c"])
      await h.broker.produce({ topic: "obs", records: [{ value: text(v) }], acks: -1 });
    const same = (m: { token: Uint8Array }) => m.token.length === 2 && m.token[0] === 0xab;
    const notes = [await c.waitFor(same), await c.waitFor(same), await c.waitFor(same)];
    expect(notes.map((n) => str(n.payload))).toEqual(["a", "b", "c"]);
    const seqs = notes.map((n) => getUintOption(n, OptionNumber.OBSERVE)!);
    expect(seqs[0]!).toBeGreaterThan(seq0);
    expect(seqs[1]!).toBeGreaterThan(seqs[0]!);
    expect(seqs[2]!).toBeGreaterThan(seqs[1]!);
    // Deregister with Observe 1 and the same token.
    const dereg = await c.request({
      code: Code.GET,
      token,
      options: [uintOption(OptionNumber.OBSERVE, 1), ...path("ps", "data", "obs")],
    });
    expect(getOption(dereg, OptionNumber.OBSERVE)).toBeUndefined();
    expect(h.listener.observers()).toBe(0);
  });

  it("a RST to a notification removes the observer", async () => {
    await h.broker.createTopic({ name: "rst", partitions: 1 });
    await publish("rst", "x");
    const token = Uint8Array.of(1, 2, 3);
    await c.request({
      code: Code.GET,
      token,
      options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "rst")],
    });
    await h.broker.produce({ topic: "rst", records: [{ value: text("y") }], acks: -1 });
    const note = await c.waitFor((m) => m.token.length === 3);
    expect(note.type).toBe(MessageType.NON);
    const { encodeMessage } = await import("../../bridges/coap/codec/encode.ts");
    c.sendRaw(
      encodeMessage({
        type: MessageType.RST,
        code: 0,
        messageId: note.messageId,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
    for (let i = 0; i < 50 && h.listener.observers() > 0; i++) await Bun.sleep(5);
    expect(h.listener.observers()).toBe(0);
  });

  it("discovery: /.well-known/core lists the collection, topics and topic data with rt and ct; filters by rt", async () => {
    await h.broker.createTopic({ name: "alpha", partitions: 1 });
    const res = await c.request({ code: Code.GET, options: path(".well-known", "core") });
    expect(getUintOption(res, OptionNumber.CONTENT_FORMAT)).toBe(ContentFormat.LINK_FORMAT);
    const body = str(res.payload);
    expect(body).toContain('</ps>;rt="core.ps.coll";ct=40');
    expect(body).toContain('</ps/alpha>;rt="core.ps.conf";ct=606');
    expect(body).toContain('</ps/data/alpha>;rt="core.ps.data";obs');
    const filtered = await c.request({
      code: Code.GET,
      options: [...path(".well-known", "core"), ...query("rt=core.ps.data")],
    });
    expect(str(filtered.payload)).toBe('</ps/data/alpha>;rt="core.ps.data";obs');
    const coll = await c.request({ code: Code.GET, options: [...path("ps"), ...query("rt=core.ps.data")] });
    expect(str(coll.payload)).toBe('</ps/data/alpha>;rt="core.ps.data";obs');
  });

  it("topic collection: POST creates a topic (core-pubsub+cbor), GET/iPATCH/DELETE the topic resource", async () => {
    const cfg = encodeCbor(
      new Map<number, CborValue>([
        [0, "room1"],
        [2, "core.ps.data"],
        [3, 0],
        [8, text("init")],
      ]),
    );
    const created = await c.request({
      code: Code.POST,
      options: [...path("ps"), uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.CORE_PUBSUB_CBOR)],
      payload: cfg,
    });
    expect(codeString(created.code)).toBe("2.01");
    expect(getOptions(created, OptionNumber.LOCATION_PATH).map(optionString)).toEqual(["ps", "room1"]);
    const rep = decodeCbor(created.payload) as Map<number, CborValue>;
    expect(rep.get(0)).toBe("room1");
    expect(rep.get(1)).toBe("/ps/data/room1");
    expect(rep.get(2)).toBe("core.ps.data");
    // initialize made the topic fully created.
    const latest = await c.request({ code: Code.GET, options: path("ps", "data", "room1") });
    expect(str(latest.payload)).toBe("init");
    const dup = await c.request({ code: Code.POST, options: path("ps"), payload: cfg });
    expect(codeString(dup.code)).toBe("4.09");
    const wrongCf = await publish("room1", "{}", ContentFormat.JSON);
    expect(codeString(wrongCf.code)).toBe("4.15");
    const patch = await c.request({
      code: Code.IPATCH,
      options: path("ps", "room1"),
      payload: encodeCbor(new Map<number, CborValue>([[6, 5]])),
    });
    expect(codeString(patch.code)).toBe("2.04");
    expect((decodeCbor(patch.payload) as Map<number, CborValue>).get(6)).toBe(5);
    const unknown = await c.request({
      code: Code.POST,
      options: path("ps"),
      payload: encodeCbor(new Map([[99, 1]])),
    });
    expect(codeString(unknown.code)).toBe("4.00");
    const del = await c.request({ code: Code.DELETE, options: path("ps", "room1") });
    expect(codeString(del.code)).toBe("2.02");
    const gone = await c.request({ code: Code.GET, options: path("ps", "room1") });
    expect(codeString(gone.code)).toBe("4.04");
  });

  it("DELETE on topic data returns the topic to half created", async () => {
    await h.broker.createTopic({ name: "d", partitions: 1 });
    await publish("d", "1");
    const del = await c.request({ code: Code.DELETE, options: path("ps", "data", "d") });
    expect(codeString(del.code)).toBe("2.02");
    const get = await c.request({ code: Code.GET, options: path("ps", "data", "d") });
    expect(codeString(get.code)).toBe("4.04");
    expect(codeString((await publish("d", "2")).code)).toBe("2.01");
  });

  it("unknown resources, methods and malformed datagrams get 4.04/4.05/RST", async () => {
    const nf = await c.request({ code: Code.GET, options: path("nope") });
    expect(codeString(nf.code)).toBe("4.04");
    expect(str(nf.payload)).toContain(".well-known/core");
    const m = await c.request({ code: Code.POST, options: path(".well-known", "core") });
    expect(codeString(m.code)).toBe("4.05");
    c.sendRaw(Uint8Array.of(0x4a, 0x01, 0x33, 0x44)); // CON with TKL 10
    const rst = await c.waitFor((x) => x.type === MessageType.RST);
    expect(rst.messageId).toBe(0x3344);
  });
});
