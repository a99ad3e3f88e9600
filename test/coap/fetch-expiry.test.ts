/** FETCH on the topic collection (property filters) and expiration-date enforcement. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { type CborValue, encodeCbor } from "../../bridges/coap/codec/cbor.ts";
import { Code, codeString, ContentFormat, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { getUintOption, stringOption, uintOption } from "../../bridges/coap/codec/options.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));
const cborCf = uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.CORE_PUBSUB_CBOR);

let h: CoapHarness;
let c: TestClient;
let clock: ManualClock;
let timers: ManualTimers;

beforeEach(async () => {
  clock = new ManualClock(1_800_000_000_000);
  timers = new ManualTimers(clock);
  h = await createCoapHarness({ clock, timers, rateLimit: false, expiryCheckMs: 1000 });
  c = await createTestClient(h.listener.port);
});

afterEach(async () => {
  c.close();
  await h.close();
});

async function createTopic(props: Array<[number, CborValue]>) {
  const res = await c.request({
    code: Code.POST,
    options: [...path("ps"), cborCf],
    payload: encodeCbor(new Map<number, CborValue>([[2, "core.ps.data"], ...props])),
  });
  expect(codeString(res.code)).toBe("2.01");
}

function fetchTopics(filter: Array<[number, CborValue]>) {
  return c.request({
    code: Code.FETCH,
    options: [...path("ps"), cborCf],
    payload: encodeCbor(new Map<number, CborValue>(filter)),
  });
}

async function observe(token: Uint8Array, ...segs: string[]) {
  const reg = await c.request({
    code: Code.GET,
    token,
    options: [uintOption(OptionNumber.OBSERVE, 0), ...path(...segs)],
  });
  expect(getUintOption(reg, OptionNumber.OBSERVE)).toBeDefined();
}

describe("FETCH on the topic collection", () => {
  it("lists the topics whose properties match every property of the CBOR filter", async () => {
    await createTopic([
      [0, "kitchen"],
      [3, ContentFormat.JSON],
      [4, "temperature"],
    ]);
    await createTopic([
      [0, "garage"],
      [3, ContentFormat.JSON],
      [4, "door"],
    ]);
    await createTopic([
      [0, "cellar"],
      [3, ContentFormat.TEXT_PLAIN],
      [4, "temperature"],
    ]);
    await createTopic([
      [0, "home/attic/temp"],
      [3, ContentFormat.JSON],
      [4, "temperature"],
    ]);

    const json = await fetchTopics([[3, ContentFormat.JSON]]);
    expect(codeString(json.code)).toBe("2.05");
    expect(getUintOption(json, OptionNumber.CONTENT_FORMAT)).toBe(ContentFormat.LINK_FORMAT);
    expect(str(json.payload).split(",")).toEqual([
      '</ps/garage>;rt="core.ps.conf";ct=606',
      '</ps/home%2Fattic%2Ftemp>;rt="core.ps.conf";ct=606',
      '</ps/kitchen>;rt="core.ps.conf";ct=606',
    ]);
    const both = await fetchTopics([
      [3, ContentFormat.JSON],
      [4, "temperature"],
    ]);
    expect(str(both.payload)).toBe(
      '</ps/home%2Fattic%2Ftemp>;rt="core.ps.conf";ct=606,</ps/kitchen>;rt="core.ps.conf";ct=606',
    );
    const byName = await fetchTopics([[0, "cellar"]]);
    expect(str(byName.payload)).toBe('</ps/cellar>;rt="core.ps.conf";ct=606');
    const byData = await fetchTopics([[1, "/ps/data/home/attic/temp"]]);
    expect(str(byData.payload)).toBe('</ps/home%2Fattic%2Ftemp>;rt="core.ps.conf";ct=606');
    const none = await fetchTopics([[4, "humidity"]]);
    expect(codeString(none.code)).toBe("2.05");
    expect(none.payload.length).toBe(0);
    const all = await fetchTopics([]);
    // Every topic, including `mqtt`, the stream topic the mapped topic created.
    expect(
      str(all.payload)
        .split(",")
        .map((l) => l.split(">")[0]),
    ).toEqual(["</ps/cellar", "</ps/garage", "</ps/home%2Fattic%2Ftemp", "</ps/kitchen", "</ps/mqtt"]);
  });

  it("refuses unknown properties, initialize and other content formats", async () => {
    expect(codeString((await fetchTopics([[99, 1]])).code)).toBe("4.00");
    expect(
      codeString(
        (
          await fetchTopics([
            [3, 0],
            [8, text("x")],
          ])
        ).code,
      ),
    ).toBe("4.00");
    const wrongCf = await c.request({
      code: Code.FETCH,
      options: [...path("ps"), uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.JSON)],
      payload: text("{}"),
    });
    expect(codeString(wrongCf.code)).toBe("4.15");
  });
});

describe("topic expiration-date", () => {
  const nowSeconds = () => Math.floor(clock.now() / 1000);

  it("removes an expired stream topic: observers get 4.04, the topic and its data are gone", async () => {
    await createTopic([
      [0, "shortlived"],
      [3, 0],
      [5, { tag: 1, value: nowSeconds() + 60 }],
      [8, text("v0")],
    ]);
    await createTopic([
      [0, "durable"],
      [3, 0],
      [5, { tag: 1, value: nowSeconds() + 3600 }],
    ]);
    const token = Uint8Array.of(0x51, 0x01);
    await observe(token, "ps", "data", "shortlived");
    expect(h.listener.observers()).toBe(1);
    timers.advance(30_000);
    expect(await h.broker.describeTopic("shortlived")).toBeDefined();
    timers.advance(31_000);
    const end = await c.waitFor((m) => m.token[0] === 0x51 && m.code === Code.NOT_FOUND);
    expect(str(end.payload)).toContain("expired");
    expect(h.listener.observers()).toBe(0);
    await expect(h.broker.describeTopic("shortlived")).rejects.toMatchObject({ code: "TOPIC_NOT_FOUND" });
    expect(codeString((await c.request({ code: Code.GET, options: path("ps", "shortlived") })).code)).toBe(
      "4.04",
    );
    const links = await c.request({ code: Code.GET, options: path("ps") });
    expect(str(links.payload)).not.toContain("shortlived");
    expect(str(links.payload)).toContain("durable");
  });

  it("a request between two sweeps already finds the topic expired, and a mapped topic keeps its records", async () => {
    await createTopic([
      [0, "sensors/x/temp"],
      [3, 0],
      [5, { tag: 1, value: nowSeconds() + 10 }],
      [8, text("i")],
    ]);
    const token = Uint8Array.of(0x52, 0x02);
    await observe(token, "ps", "data", "sensors", "x", "temp");
    clock.advance(10_000); // the clock passes the date; no sweep has run
    const get = await c.request({ code: Code.GET, options: path("ps", "sensors/x/temp") });
    expect(codeString(get.code)).toBe("4.04");
    expect(str(get.payload)).toContain("expired");
    await c.waitFor((m) => m.token[0] === 0x52 && m.code === Code.NOT_FOUND);
    expect(h.listener.observers()).toBe(0);
    // The mapped topic's stream topic (`mqtt` by default) and its records stay.
    const read = await h.broker.readRecords({ topic: "mqtt", partition: 0, offset: 0 });
    expect(read.records.map((r) => str(r.value!))).toContain("i");
    // Its properties are gone: the collection no longer lists it.
    const links = await c.request({ code: Code.GET, options: path("ps") });
    expect(str(links.payload)).not.toContain("sensors");
  });
});
