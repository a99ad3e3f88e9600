/**
 * WriteQueue.enqueuePublish (the QoS 1/2 delivery path writes a PUBLISH
 * straight into the staging buffer): the bytes are exactly what
 * publish-encoder.ts's encodePublish and mqtt-packet produce, around the
 * Remaining Length size boundaries, for v3.1.1 and v5, with DUP and RETAIN.
 */
import { describe, expect, it } from "bun:test";
import mqttPacket from "mqtt-packet";
import type { MqttMessage, QoS } from "../../bridges/mqtt/message.ts";
import {
  encodePublish,
  publishFirstByte,
  publishRemaining,
  publishSize,
  wire,
} from "../../bridges/mqtt/publish-encoder.ts";
import { WriteQueue } from "../../bridges/mqtt/write-queue.ts";

function message(topic: string, size: number): MqttMessage {
  return {
    topic,
    payload: new Uint8Array(size).map((_, i) => (i * 7) & 0xff),
    qos: 1,
    retain: false,
    clientId: "c",
    timestamp: 0,
    userProperties: [],
  };
}

/** What the queue writes to a socket that takes everything. */
function queued(fill: (q: WriteQueue) => void): number[] {
  const out: number[] = [];
  const q = new WriteQueue(
    {
      write(data, offset, length) {
        for (let i = 0; i < length; i++) out.push(data[offset + i]!);
        return length;
      },
    },
    () => {},
    1 << 30,
  );
  fill(q);
  q.flush();
  return out;
}

describe("WriteQueue.enqueuePublish", () => {
  // Remaining Length 127/128 and 16383/16384 are where its encoding grows a byte (MQTT 5.0 section 1.5.5).
  const sizes = [0, 1, 100, 116, 117, 118, 119, 16371, 16372, 16373, 70_000];
  for (const v5 of [false, true]) {
    for (const size of sizes) {
      it(`matches encodePublish for a ${size}-byte payload (${v5 ? "v5" : "v3.1.1"})`, () => {
        const msg = message("a/b/c", size);
        const flags = [
          { qos: 1 as QoS, retain: false, dup: false, packetId: 1, v5 },
          { qos: 2 as QoS, retain: true, dup: true, packetId: 0xfffe, v5 },
        ];
        const got = queued((q) => {
          for (const f of flags) {
            const topic = wire(msg).topic;
            const remaining = publishRemaining(topic, msg.payload, f.qos, v5);
            expect(publishSize(remaining)).toBe(encodePublish(msg, f).length);
            q.enqueueAck(0x40, 7); // staged bytes in between
            q.enqueuePublish({
              first: publishFirstByte(f),
              remaining,
              topic,
              packetId: f.packetId,
              v5,
              payload: msg.payload,
            });
          }
        });
        const expected: number[] = [];
        for (const f of flags) expected.push(0x40, 2, 0, 7, ...encodePublish(msg, f));
        expect(got).toEqual(expected);
      });
    }
  }

  it("produces what mqtt-packet parses back as the same PUBLISH", () => {
    const msg = message("sensors/1/temp", 300);
    const bytes = queued((q) => {
      const topic = wire(msg).topic;
      q.enqueuePublish({
        first: publishFirstByte({ qos: 1, retain: true, dup: true }),
        remaining: publishRemaining(topic, msg.payload, 1, false),
        topic,
        packetId: 4242,
        v5: false,
        payload: msg.payload,
      });
    });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets: mqttPacket.Packet[] = [];
    parser.on("packet", (p) => packets.push(p));
    parser.parse(Buffer.from(bytes));
    expect(packets).toHaveLength(1);
    const p = packets[0] as mqttPacket.IPublishPacket;
    expect(p.cmd).toBe("publish");
    expect(p.topic).toBe("sensors/1/temp");
    expect(p.qos).toBe(1);
    expect(p.dup).toBe(true);
    expect(p.retain).toBe(true);
    expect(p.messageId).toBe(4242);
    expect([...(p.payload as Buffer)]).toEqual([...msg.payload]);
  });
});
