/**
 * One topic mapping for both bridges: a CoAP publish on a mapped topic lands
 * where the same MQTT publish would (stream topic, key, mqtt.* headers) and
 * reaches MQTT subscribers; MQTT publishes and records produced on a stream
 * topic (the path Kafka and HTTP producers take) are observed over CoAP.
 */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { MqttClient } from "mqtt";
import { type CoapListener, startCoapListener } from "../../bridges/coap/index.ts";
import {
  type CoapMessage,
  Code,
  ContentFormat,
  MessageType,
  OptionNumber,
} from "../../bridges/coap/codec/constants.ts";
import { type CborValue, decodeCbor, encodeCbor } from "../../bridges/coap/codec/cbor.ts";
import { getOptions, getUintOption, stringOption, uintOption } from "../../bridges/coap/codec/options.ts";
import type { TopicMappingConfig } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { collect, openBroker, type Received, startServer, type TestServer, until } from "../mqtt/harness.ts";
import { createTestClient, type TestClient } from "./harness.ts";

const MAPPING: TopicMappingConfig = {
  rules: [
    { filter: "sensors/+/temp", topic: "telemetry", key: "{1}" },
    { filter: "devices/+/commands", topic: "commands", key: "{1}" },
  ],
  reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }],
};

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));
const query = (q: string) => stringOption(OptionNumber.URI_QUERY, q);

let mqttServer: TestServer;
let coap: CoapListener;
let client: TestClient;
let sub: MqttClient;
let got: Received[];

beforeEach(async () => {
  const broker = await openBroker();
  mqttServer = await startServer({ broker, mapping: MAPPING });
  coap = await startCoapListener({
    broker,
    logger: silentLogger,
    port: 0,
    echo: false,
    mapping: MAPPING,
  });
  client = await createTestClient(coap.port);
  sub = await mqttServer.connect({ protocolVersion: 5, clientId: "sub" });
  got = collect(sub);
  await sub.subscribeAsync(["sensors/+/temp", "devices/+/commands"], { qos: 1 });
});

afterEach(async () => {
  client.close();
  await coap.close();
  await mqttServer.close();
});

async function put(segs: string[], payload: string, extra: CoapMessage["options"] = []) {
  return client.request({
    code: Code.PUT,
    options: [...path(...segs), uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.JSON), ...extra],
    payload: enc(payload),
  });
}

async function observe(segs: string[]): Promise<{ token: Uint8Array; first: CoapMessage }> {
  const token = Uint8Array.of(0xab, segs.length, segs.join("").length & 0xff);
  const first = await client.request({
    code: Code.GET,
    token,
    options: [uintOption(OptionNumber.OBSERVE, 0), ...path(...segs)],
  });
  return { token, first };
}

const sameToken = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const notification = (token: Uint8Array) => (m: CoapMessage) =>
  m.code === Code.CONTENT &&
  sameToken(m.token, token) &&
  getUintOption(m, OptionNumber.OBSERVE) !== undefined;

describe("CoAP and MQTT share the topic mapping", () => {
  it("a CoAP PUT on /ps/data/sensors/dev1/temp lands on telemetry/dev1 and reaches MQTT subscribers", async () => {
    const res = await put(["ps", "data", "sensors", "dev1", "temp"], '{"t":21}');
    expect([Code.CREATED, Code.CHANGED]).toContain(res.code);
    // A single Uri-Path segment holding the whole topic is the same mapped topic.
    const res2 = await put(["ps", "data", "sensors/dev2/temp"], '{"t":22}');
    expect(res2.code).toBe(Code.CHANGED);

    await until(() => got.length >= 2, 3000, "MQTT deliveries");
    expect(got.map((m) => [m.topic, m.payload])).toEqual([
      ["sensors/dev1/temp", '{"t":21}'],
      ["sensors/dev2/temp", '{"t":22}'],
    ]);
    expect(got[0]!.packet.properties?.contentType).toBe("application/json");

    const broker = mqttServer.broker;
    const records = [];
    for (const p of (await broker.describeTopic("telemetry")).partitions) {
      records.push(
        ...(await broker.readRecords({ topic: "telemetry", partition: p.partition, offset: 0 })).records,
      );
    }
    const byKey = new Map(records.map((r) => [dec(r.key), r]));
    expect([...byKey.keys()].sort()).toEqual(["dev1", "dev2"]);
    const headers = Object.fromEntries(byKey.get("dev1")!.headers.map((h) => [h.key, dec(h.value)]));
    expect(headers).toMatchObject({
      "mqtt.topic": "sensors/dev1/temp",
      "mqtt.qos": "1", // a CON publish is acknowledged once durable, like QoS 1
      "mqtt.retain": "0",
      "mqtt.content-type": "application/json",
      "content-format": String(ContentFormat.JSON),
    });
    // Nothing went to the default topic.
    const def = await broker.describeTopic("mqtt");
    expect(def.partitions.every((p) => p.highWatermark === 0)).toBe(true);
  });

  it("an MQTT publish is observed over CoAP at the corresponding path, and only that topic", async () => {
    const pub = await mqttServer.connect({ protocolVersion: 5, clientId: "pub" });
    await pub.publishAsync("sensors/dev3/temp", "first", { qos: 1 });
    const { token, first } = await observe(["ps", "data", "sensors", "dev3", "temp"]);
    expect(first.code).toBe(Code.CONTENT);
    expect(dec(first.payload)).toBe("first");
    expect(getUintOption(first, OptionNumber.OBSERVE)).toBeDefined();

    // Same stream topic (telemetry), another MQTT topic: not for this observer.
    await pub.publishAsync("sensors/dev4/temp", "other", {
      qos: 1,
      properties: { contentType: "text/plain" },
    });
    await pub.publishAsync("sensors/dev3/temp", "second", {
      qos: 1,
      properties: { contentType: "text/plain" },
    });
    const n = await client.waitFor(notification(token));
    expect(dec(n.payload)).toBe("second");
    expect(getUintOption(n, OptionNumber.CONTENT_FORMAT)).toBe(ContentFormat.TEXT_PLAIN);

    // GET: the newest record of this topic, although a newer one of dev4 sits on the stream topic.
    await pub.publishAsync("sensors/dev4/temp", "other-2", { qos: 1 });
    const latest = await client.request({
      code: Code.GET,
      options: path("ps", "data", "sensors", "dev3", "temp"),
    });
    expect(latest.code).toBe(Code.CONTENT);
    expect(dec(latest.payload)).toBe("second");
    expect(client.received.filter(notification(token)).map((m) => dec(m.payload))).toEqual([]);

    // History of a mapped topic: only its records, from the shared stream topic.
    const hist = await client.request({
      code: Code.GET,
      options: [...path("ps", "data", "sensors", "dev3", "temp"), query("since=0")],
    });
    expect(hist.code).toBe(Code.CONTENT);
    const page = decodeCbor(hist.payload) as Map<string, CborValue>;
    const values = (page.get("records") as Array<Map<string, CborValue>>).map((r) =>
      dec(r.get("v") as Uint8Array),
    );
    expect(values).toEqual(["first", "second"]);
  });

  it("a record produced on a stream topic (Kafka/HTTP path) reaches MQTT and CoAP observers through a reverse rule", async () => {
    const broker = mqttServer.broker;
    await broker.produce({
      topic: "commands",
      records: [{ key: enc("dev5"), value: enc("reboot") }],
      acks: -1,
    });
    await until(() => got.some((m) => m.topic === "devices/dev5/commands"), 3000, "MQTT delivery");
    const { token, first } = await observe(["ps", "data", "devices", "dev5", "commands"]);
    expect(first.code).toBe(Code.CONTENT);
    expect(dec(first.payload)).toBe("reboot");

    await broker.produce({
      topic: "commands",
      records: [{ key: enc("dev6"), value: enc("not-yours") }],
      acks: -1,
    });
    await broker.produce({
      topic: "commands",
      records: [{ key: enc("dev5"), value: enc("update") }],
      acks: -1,
    });
    expect(dec((await client.waitFor(notification(token))).payload)).toBe("update");

    // A CoAP publish on the same mapped topic goes through the forward rule to the same stream topic.
    expect((await put(["ps", "data", "devices", "dev5", "commands"], '"stop"')).code).toBe(Code.CHANGED);
    expect(dec((await client.waitFor(notification(token))).payload)).toBe('"stop"');
    await until(() => got.filter((m) => m.topic === "devices/dev5/commands").length === 3, 3000, "MQTT");
    expect(got.filter((m) => m.topic.startsWith("devices/")).map((m) => [m.topic, m.payload])).toEqual([
      ["devices/dev5/commands", "reboot"],
      ["devices/dev6/commands", "not-yours"],
      ["devices/dev5/commands", "update"],
      ["devices/dev5/commands", '"stop"'],
    ]);
  });

  it("refuses ?key= and DELETE on a mapped topic, and NON publishes are QoS 0", async () => {
    const withKey = await put(["ps", "data", "sensors", "dev7", "temp"], "1", [query("key=x")]);
    expect(withKey.code).toBe(Code.BAD_REQUEST);
    const del = await client.request({
      code: Code.DELETE,
      options: path("ps", "data", "sensors", "dev7", "temp"),
    });
    expect(del.code).toBe(Code.METHOD_NOT_ALLOWED);

    const non = await client.request({
      type: MessageType.NON,
      code: Code.PUT,
      options: path("ps", "data", "sensors", "dev8", "temp"),
      payload: enc("n"),
    });
    expect([Code.CREATED, Code.CHANGED]).toContain(non.code);
    await until(() => got.some((m) => m.topic === "sensors/dev8/temp"), 3000, "MQTT delivery");
    expect(got.find((m) => m.topic === "sensors/dev8/temp")!.packet.qos).toBe(0);
  });
});

describe("a CoAP topic named with an MQTT-style topic", () => {
  it("POST creates it through the mapping; GET and DELETE its resource; discovery lists its data path", async () => {
    const cfg = encodeCbor(
      new Map<number, CborValue>([
        [0, "sensors/dev9/temp"],
        [2, "core.ps.data"],
        [3, ContentFormat.TEXT_PLAIN],
        [8, enc("init")],
      ]),
    );
    const created = await client.request({
      code: Code.POST,
      options: [...path("ps"), uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.CORE_PUBSUB_CBOR)],
      payload: cfg,
    });
    expect(created.code).toBe(Code.CREATED);
    expect(getOptions(created, OptionNumber.LOCATION_PATH).map((o) => dec(o.value))).toEqual([
      "ps",
      "sensors/dev9/temp",
    ]);
    const rep = decodeCbor(created.payload) as Map<number, CborValue>;
    expect(rep.get(1)).toBe("/ps/data/sensors/dev9/temp");
    // initialize went through the forward rule: telemetry, key dev9, and to the MQTT subscriber.
    await until(() => got.some((m) => m.topic === "sensors/dev9/temp"), 3000, "MQTT delivery");
    expect(got.find((m) => m.topic === "sensors/dev9/temp")!.payload).toBe("init");
    const dup = await client.request({ code: Code.POST, options: path("ps"), payload: cfg });
    expect(dup.code).toBe(Code.CONFLICT);

    // The topic resource: the whole name in one Uri-Path segment (/ps/sensors%2Fdev9%2Ftemp).
    const conf = await client.request({ code: Code.GET, options: path("ps", "sensors/dev9/temp") });
    expect(conf.code).toBe(Code.CONTENT);
    expect((decodeCbor(conf.payload) as Map<number, CborValue>).get(3)).toBe(ContentFormat.TEXT_PLAIN);
    // Its topic-content-format applies to publishes on the mapped topic.
    expect((await put(["ps", "data", "sensors", "dev9", "temp"], "{}")).code).toBe(
      Code.UNSUPPORTED_CONTENT_FORMAT,
    );

    const wk = await client.request({ code: Code.GET, options: path(".well-known", "core") });
    expect(dec(wk.payload)).toContain("</ps/data/sensors/dev9/temp>");
    expect(dec(wk.payload)).toContain("</ps/sensors%2Fdev9%2Ftemp>");

    const { token, first } = await observe(["ps", "data", "sensors", "dev9", "temp"]);
    expect(dec(first.payload)).toBe("init");
    const del = await client.request({ code: Code.DELETE, options: path("ps", "sensors/dev9/temp") });
    expect(del.code).toBe(Code.DELETED);
    const gone = await client.waitFor((m) => sameToken(m.token, token) && m.code === Code.NOT_FOUND);
    expect(dec(gone.payload)).toContain("deleted");
    // The stream topic and its records stay.
    const desc = await mqttServer.broker.describeTopic("telemetry");
    expect(desc.partitions.reduce((n, p) => n + p.highWatermark, 0)).toBeGreaterThan(0);
  });
});

describe("zero-config and refused topics", () => {
  it("without rules a mapped topic goes to stream topic mqtt keyed by the topic; stream topics stay 1:1", async () => {
    const broker = await openBroker();
    const plain = await startCoapListener({ broker, logger: silentLogger, port: 0, echo: false });
    const c = await createTestClient(plain.port);
    try {
      await broker.createTopic({ name: "mqtt" });
      await broker.createTopic({ name: "raw" });
      const a = await c.request({
        code: Code.PUT,
        options: path("ps", "data", "a", "b"),
        payload: enc("ab"),
      });
      expect([Code.CREATED, Code.CHANGED]).toContain(a.code);
      const r = await c.request({
        code: Code.PUT,
        options: [...path("ps", "data", "raw"), query("key=k")],
        payload: enc("r"),
      });
      expect([Code.CREATED, Code.CHANGED]).toContain(r.code);
      const onMqtt = (await broker.readRecords({ topic: "mqtt", partition: 0, offset: 0 })).records;
      expect(onMqtt.map((x) => [dec(x.key), dec(x.value)])).toEqual([["a/b", "ab"]]);
      const onRaw = (await broker.readRecords({ topic: "raw", partition: 0, offset: 0 })).records;
      expect(onRaw.map((x) => [dec(x.key), dec(x.value), x.headers.length])).toEqual([["k", "r", 0]]);
    } finally {
      c.close();
      await plain.close();
      await broker.close();
    }
  });

  it("answers 4.04 for a topic no rule takes when the default topic is off", async () => {
    const broker = await openBroker();
    const strict = await startCoapListener({
      broker,
      logger: silentLogger,
      port: 0,
      echo: false,
      mapping: { defaultTopic: null, rules: [{ filter: "x/#", topic: "xs" }] },
    });
    const c = await createTestClient(strict.port);
    try {
      const res = await c.request({
        code: Code.PUT,
        options: path("ps", "data", "y", "z"),
        payload: enc("1"),
      });
      expect(res.code).toBe(Code.NOT_FOUND);
      expect(dec(res.payload)).toContain("no topic mapping rule takes 'y/z'");
    } finally {
      c.close();
      await strict.close();
      await broker.close();
    }
  });
});
