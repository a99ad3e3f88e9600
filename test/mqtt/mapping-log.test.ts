/** Messages live in the log: the mapping puts them on stream topics with headers; records from other frontends reach MQTT. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { RETAINED_TOPIC } from "../../bridges/mqtt/index.ts";
import { collect, startServer, type TestServer, until } from "./harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

let server: TestServer;
beforeEach(async () => {
  server = await startServer({
    mapping: {
      rules: [{ filter: "sensors/+/temp", topic: "telemetry", key: "{1}" }],
      reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 1 }],
    },
  });
});
afterEach(async () => {
  await server.close();
});

async function readAll(topic: string) {
  const desc = await server.broker.describeTopic(topic);
  const out = [];
  for (const p of desc.partitions) {
    const res = await server.broker.readRecords({
      topic,
      partition: p.partition,
      offset: 0,
      maxRecords: 1000,
    });
    out.push(...res.records.map((r) => ({ ...r, partition: p.partition })));
  }
  return out;
}

describe("topic mapping into the log", () => {
  it("creates the mapped stream topics and the internal compacted topics", async () => {
    const names = (await server.broker.listTopics()).map((t) => t.name).sort();
    expect(names).toEqual(["__mqtt_retained", "__mqtt_sessions", "commands", "mqtt", "telemetry"]);
    const retained = await server.broker.describeTopic(RETAINED_TOPIC);
    expect(retained.configs["cleanup.policy"]).toBe("compact");
  });

  it("a rule puts the record on its stream topic, keyed by the + level, with MQTT headers", async () => {
    const pub = await server.connect({ protocolVersion: 5, clientId: "dev-pub" });
    await pub.publishAsync("sensors/dev42/temp", "21.5", {
      qos: 1,
      retain: true,
      properties: { contentType: "text/plain", userProperties: { unit: "C", "mqtt.x": "y" } },
    });
    const records = await readAll("telemetry");
    expect(records.length).toBe(1);
    const r = records[0]!;
    expect(dec(r.key)).toBe("dev42");
    expect(dec(r.value)).toBe("21.5");
    const headers = Object.fromEntries(r.headers.map((h) => [h.key, dec(h.value)]));
    expect(headers).toEqual({
      "mqtt.topic": "sensors/dev42/temp",
      "mqtt.qos": "1",
      "mqtt.retain": "1",
      "mqtt.client-id": "dev-pub",
      "mqtt.content-type": "text/plain",
      unit: "C",
      "mqtt.user.mqtt.x": "y",
    });
    const retained = await readAll(RETAINED_TOPIC);
    expect(retained.map((x) => dec(x.key))).toEqual(["sensors/dev42/temp"]);
  });

  it("the default rule stores other topics on `mqtt`, keyed by the MQTT topic", async () => {
    const pub = await server.connect({ protocolVersion: 4 });
    await pub.publishAsync("a/b/c", "v", { qos: 1 });
    await pub.publishAsync("sensors/dev1/humidity", "55", { qos: 1 });
    const records = await readAll("mqtt");
    expect(records.map((r) => [dec(r.key), dec(r.value)]).sort()).toEqual([
      ["a/b/c", "v"],
      ["sensors/dev1/humidity", "55"],
    ]);
  });

  it("a record produced on a reverse-mapped topic reaches MQTT subscribers", async () => {
    const dev = await server.connect({ protocolVersion: 5 });
    const got = collect(dev);
    await dev.subscribeAsync("devices/+/commands", { qos: 1 });
    await server.broker.produce({
      topic: "commands",
      records: [
        { key: enc("dev7"), value: enc("reboot"), headers: [{ key: "requested-by", value: enc("ops") }] },
      ],
    });
    await until(() => got.length === 1);
    expect(got[0]!.topic).toBe("devices/dev7/commands");
    expect(got[0]!.payload).toBe("reboot");
    expect(got[0]!.packet.qos).toBe(1);
    expect(got[0]!.packet.properties?.userProperties).toEqual({ "requested-by": "ops" });
  });

  it("a record produced on `mqtt` with key K reaches subscribers of MQTT topic K", async () => {
    const c = await server.connect({ protocolVersion: 4 });
    const got = collect(c);
    await c.subscribeAsync("from/kafka", { qos: 1 });
    await server.broker.produce({ topic: "mqtt", records: [{ key: enc("from/kafka"), value: enc("hi") }] });
    await until(() => got.length === 1);
    expect(got[0]!.payload).toBe("hi");
  });

  it("records without a mapping (no header, no reverse rule) are not delivered", async () => {
    const c = await server.connect({ protocolVersion: 4 });
    const got = collect(c);
    await c.subscribeAsync("#", { qos: 1 });
    await server.broker.produce({ topic: "telemetry", records: [{ key: enc("x"), value: enc("raw") }] });
    await server.broker.produce({ topic: "mqtt", records: [{ key: enc("seen"), value: enc("ok") }] });
    await until(() => got.length === 1);
    expect(got[0]!.topic).toBe("seen");
  });
});
