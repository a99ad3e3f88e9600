/**
 * The delivery and publish hot paths: the shared decoded message window, the
 * PUBLISH encoder for packets without properties and the plain PUBLISH
 * parser, each checked against mqtt-packet (the reference) or the broker.
 */
import { afterEach, describe, expect, it } from "bun:test";
import mqttPacket, { type IPublishPacket, type Packet } from "mqtt-packet";
import { compileMapping } from "../../bridges/mqtt/mapping.ts";
import { type MqttMessage, messageToRecord } from "../../bridges/mqtt/message.ts";
import { MessageWindows } from "../../bridges/mqtt/message-window.ts";
import { encodePublish } from "../../bridges/mqtt/publish-encoder.ts";
import { parsePlainAck, parsePlainPublish } from "../../bridges/mqtt/publish-parser.ts";
import type { Broker } from "../../src/broker/index.ts";
import { openBroker } from "./harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function message(topic: string, payload: string, qos: 0 | 1 | 2 = 0): MqttMessage {
  return {
    topic,
    payload: enc(payload),
    qos,
    retain: false,
    clientId: "c",
    timestamp: 1,
    userProperties: [],
  };
}

function parseWithMqttPacket(bytes: Uint8Array, protocolVersion: number): Packet {
  const parser = mqttPacket.parser({ protocolVersion });
  const out: Packet[] = [];
  parser.on("packet", (p: Packet) => out.push(p));
  parser.parse(Buffer.from(bytes));
  return out[0]!;
}

describe("publish-encoder", () => {
  for (const v5 of [false, true]) {
    for (const qos of [0, 1, 2] as const) {
      for (const [retain, dup] of [
        [false, false],
        [true, false],
        [false, true],
      ] as const) {
        if (qos === 0 && dup) continue;
        it(`matches mqtt-packet: v${v5 ? 5 : 4} qos ${qos} retain ${retain} dup ${dup}`, () => {
          const msg = message("a/é/c", "x".repeat(200), qos);
          const bytes = encodePublish(msg, { qos, retain, dup, packetId: 513, v5 });
          const reference: IPublishPacket = {
            cmd: "publish",
            topic: msg.topic,
            payload: Buffer.from(msg.payload),
            qos,
            retain,
            dup,
            ...(qos > 0 ? { messageId: 513 } : {}),
          };
          expect([...bytes]).toEqual([...mqttPacket.generate(reference, { protocolVersion: v5 ? 5 : 4 })]);
        });
      }
    }
  }

  it("shares one encoding of a QoS 0 packet between deliveries and keeps variants apart", () => {
    const msg = message("t", "p");
    const a = encodePublish(msg, { qos: 0, retain: false, dup: false, packetId: 0, v5: false });
    expect(encodePublish(msg, { qos: 0, retain: false, dup: false, packetId: 0, v5: false })).toBe(a);
    const retained = encodePublish(msg, { qos: 0, retain: true, dup: false, packetId: 0, v5: false });
    expect(retained).not.toBe(a);
    expect(retained[0]).toBe(0x31);
    const q1 = encodePublish(msg, { qos: 1, retain: false, dup: false, packetId: 7, v5: false });
    const q1b = encodePublish(msg, { qos: 1, retain: false, dup: false, packetId: 8, v5: false });
    expect(q1).not.toBe(q1b);
  });
});

describe("publish-parser", () => {
  const cases: Array<[string, IPublishPacket, number]> = [
    [
      "v4 qos 0",
      { cmd: "publish", topic: "s/1", payload: Buffer.from("hi"), qos: 0, dup: false, retain: false },
      4,
    ],
    [
      "v4 qos 1 retained",
      {
        cmd: "publish",
        topic: "s/ü",
        payload: Buffer.from("x"),
        qos: 1,
        dup: false,
        retain: true,
        messageId: 9,
      },
      4,
    ],
    [
      "v5 qos 2 dup, no properties",
      {
        cmd: "publish",
        topic: "t",
        payload: Buffer.alloc(300, 1),
        qos: 2,
        dup: true,
        retain: false,
        messageId: 65535,
      },
      5,
    ],
  ];
  for (const [name, packet, version] of cases) {
    it(`parses like mqtt-packet: ${name}`, () => {
      const bytes = new Uint8Array(mqttPacket.generate(packet, { protocolVersion: version }));
      const fast = parsePlainPublish(bytes, version)!;
      const ref = parseWithMqttPacket(bytes, version) as IPublishPacket;
      expect(fast.topic).toBe(ref.topic);
      expect(fast.qos).toBe(ref.qos);
      expect(fast.dup).toBe(ref.dup);
      expect(fast.retain).toBe(ref.retain);
      expect(fast.messageId).toBe(ref.messageId);
      expect([...new Uint8Array(fast.payload as Buffer)]).toEqual([...(ref.payload as Buffer)]);
    });
  }

  it("leaves properties, bad flags and bad topics to mqtt-packet (null)", () => {
    const withProps = mqttPacket.generate(
      {
        cmd: "publish",
        topic: "t",
        payload: Buffer.from("p"),
        qos: 0,
        dup: false,
        retain: false,
        properties: { contentType: "a" },
      },
      { protocolVersion: 5 },
    );
    expect(parsePlainPublish(new Uint8Array(withProps), 5)).toBeNull();
    // QoS 3 [MQTT-3.3.1-4], DUP on QoS 0 [MQTT-3.3.1-2], packet id 0, invalid UTF-8, truncated.
    expect(parsePlainPublish(new Uint8Array([0x36, 0x05, 0, 1, 0x74, 0, 1]), 4)).toBeNull();
    expect(parsePlainPublish(new Uint8Array([0x38, 0x03, 0, 1, 0x74]), 4)).toBeNull();
    expect(parsePlainPublish(new Uint8Array([0x32, 0x05, 0, 1, 0x74, 0, 0]), 4)).toBeNull();
    expect(parsePlainPublish(new Uint8Array([0x30, 0x03, 0, 1, 0xff]), 4)).toBeNull();
    expect(parsePlainPublish(new Uint8Array([0x30, 0x03, 0, 9, 0x74]), 4)).toBeNull();
  });
});

describe("ack parser", () => {
  for (const cmd of ["puback", "pubrec", "pubrel", "pubcomp"] as const) {
    for (const version of [4, 5]) {
      it(`parses a plain ${cmd} (v${version}) like mqtt-packet`, () => {
        // Remaining Length 2: reason Success and no properties, which MQTT 5.0 allows to omit (3.4.2.1).
        const first = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 }[cmd];
        const bytes = new Uint8Array([first, 2, 4242 >> 8, 4242 & 0xff]);
        const fast = parsePlainAck(bytes) as { cmd: string; messageId: number };
        const ref = parseWithMqttPacket(bytes, version) as { cmd: string; messageId: number };
        expect(fast.cmd).toBe(ref.cmd);
        expect(fast.messageId).toBe(ref.messageId);
      });
    }
  }

  it("leaves reason codes, bad PUBREL flags [MQTT-3.6.1-1] and packet id 0 to mqtt-packet", () => {
    const withReason = mqttPacket.generate(
      { cmd: "puback", messageId: 1, reasonCode: 0x10 },
      { protocolVersion: 5 },
    );
    expect(parsePlainAck(new Uint8Array(withReason))).toBeNull();
    expect(parsePlainAck(new Uint8Array([0x60, 2, 0, 1]))).toBeNull();
    expect(parsePlainAck(new Uint8Array([0x40, 2, 0, 0]))).toBeNull();
    expect(parsePlainAck(new Uint8Array([0x40, 2, 0, 1]))).toMatchObject({ cmd: "puback", messageId: 1 });
  });
});

describe("message window", () => {
  let broker: Broker | null = null;
  afterEach(async () => {
    await broker?.close();
    broker = null;
  });

  async function setup(records: string[]) {
    broker = await openBroker();
    await broker.createTopic({ name: "mqtt", partitions: 1 });
    if (records.length > 0) {
      await broker.produce({
        topic: "mqtt",
        partition: 0,
        acks: -1,
        records: records.map((r) => messageToRecord(message(`t/${r}`, r), null)),
      });
    }
    return new MessageWindows(broker, compileMapping(undefined), { maxEntries: 8, readBytes: 1024 * 1024 });
  }

  it("decodes each record once for every reader at the same offset", async () => {
    const w = await setup(["a", "b", "c"]);
    const [one, two] = await Promise.all([w.read("mqtt", 0, 0), w.read("mqtt", 0, 0)]);
    expect(one.entries.slice(one.index).map((e) => e.msg?.topic)).toEqual(["t/a", "t/b", "t/c"]);
    expect(two.entries[two.index]!.msg).toBe(one.entries[one.index]!.msg);
    const later = await w.read("mqtt", 0, 1);
    expect(later.entries[later.index]!.offset).toBe(1);
    expect(later.entries[later.index]!.msg).toBe(one.entries[one.index + 1]!.msg);
    expect(later.end).toBe(3);
  });

  it("extends at the end, evicts the oldest half when full, and serves readers behind it directly", async () => {
    const w = await setup(["0", "1", "2", "3", "4", "5"]);
    await w.read("mqtt", 0, 0);
    await broker!.produce({
      topic: "mqtt",
      partition: 0,
      acks: -1,
      records: ["6", "7", "8", "9"].map((r) => messageToRecord(message(`t/${r}`, r), null)),
    });
    const tail = await w.read("mqtt", 0, 6);
    expect(tail.entries.slice(tail.index).map((e) => e.offset)).toEqual([6, 7, 8, 9]);
    expect(tail.entries.length).toBeLessThanOrEqual(8);
    const behind = await w.read("mqtt", 0, 0);
    expect(behind.entries.slice(behind.index).map((e) => e.msg?.topic)).toEqual(
      ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"].map((r) => `t/${r}`),
    );
    const empty = await w.read("mqtt", 0, 10);
    expect(empty.entries.length - empty.index).toBe(0);
    expect(empty.highWatermark).toBe(10);
  });

  it("starts over when the log became shorter than the window (topic deleted and created again)", async () => {
    const w = await setup(["old1", "old2"]);
    await w.read("mqtt", 0, 0);
    await broker!.deleteTopic("mqtt");
    await broker!.createTopic({ name: "mqtt", partitions: 1 });
    await broker!.produce({
      topic: "mqtt",
      partition: 0,
      acks: -1,
      records: [messageToRecord(message("t/new", "new"), null)],
    });
    const fresh = await w.read("mqtt", 0, 0);
    expect(fresh.entries.slice(fresh.index).map((e) => e.msg?.topic)).toEqual(["t/new"]);
  });
});
