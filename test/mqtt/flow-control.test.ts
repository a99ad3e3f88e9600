/**
 * Inbound QoS 0 flow control: QoS 0 has no acknowledgement to pace a
 * publisher, so a connection with `maxInboundQos0` publishes stored but not
 * yet durable stops being read until half of them are. Durability is held back
 * here by a broker whose high watermark the test releases. Also: packets that
 * need a Packet Identifier and lack one.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { Broker } from "../../src/broker/index.ts";
import { openBroker, startServer, type TestServer, until } from "./harness.ts";
import { rawConnect } from "./raw-client.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/**
 * A broker that reports the high watermark of `mqtt` as 0, and holds its
 * high-watermark events (onAppend) and waitForData, until released.
 */
async function gatedBroker(): Promise<{ broker: Broker; release(): void }> {
  const inner = await openBroker();
  let released = false;
  const waiting: Array<() => void> = [];
  const broker = new Proxy(inner, {
    get(target, prop) {
      if (prop === "onAppend") {
        return (listener: Parameters<Broker["onAppend"]>[0]) =>
          target.onAppend((event) => {
            if (event.topic === "mqtt" && !released) waiting.push(() => listener(event));
            else listener(event);
          });
      }
      if (prop === "partitionState") {
        return (topic: string, partition: number) => {
          const state = target.partitionState(topic, partition);
          return topic === "mqtt" && !released ? { ...state, highWatermark: 0 } : state;
        };
      }
      if (prop === "waitForData") {
        return async (topic: string, partition: number, offset: number, timeoutMs: number) => {
          if (topic === "mqtt" && !released) await new Promise<void>((r) => waiting.push(r));
          return target.waitForData(topic, partition, offset, timeoutMs);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Broker;
  return {
    broker,
    release() {
      released = true;
      for (const r of waiting.splice(0)) r();
    },
  };
}

describe("QoS 0 inbound flow control", () => {
  it("stops reading a QoS 0 publisher whose messages are not durable yet, and resumes once they are", async () => {
    const gate = await gatedBroker();
    server = await startServer({ broker: gate.broker, maxInboundQos0: 4 });
    const raw = await rawConnect(server.listener.port, 4);
    raw.send({ cmd: "connect", protocolVersion: 4, clientId: "flood", clean: true, keepalive: 0 });
    expect((await raw.next())?.cmd).toBe("connack");
    const logEnd = () => server!.broker.partitionState("mqtt", 0).logEndOffset;
    for (let i = 0; i < 10; i++) {
      raw.send({
        cmd: "publish",
        topic: `f/${i}`,
        payload: Buffer.from(`m${i}`),
        qos: 0,
        dup: false,
        retain: false,
      });
      await Bun.sleep(20); // one TCP read per publish
    }
    await until(() => logEnd() >= 4, 2000, "the first publishes appended");
    await Bun.sleep(100);
    // Reading stopped at the limit: the rest waits in the socket, not in memory.
    expect(logEnd()).toBeLessThan(10);
    gate.release();
    await until(() => logEnd() === 10, 3000, "every publish appended after durability");
    const res = await server.broker.readRecords({ topic: "mqtt", partition: 0, offset: 0 });
    expect(res.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    raw.end();
  });
});

describe("packet identifiers", () => {
  for (const version of [4, 5] as const) {
    it(`[MQTT-2.2.1-3] a PUBREL without a packet identifier is malformed (v${version})`, async () => {
      server = await startServer();
      const raw = await rawConnect(server.listener.port, version);
      raw.send({
        cmd: "connect",
        protocolVersion: version,
        clientId: `noid-${version}`,
        clean: true,
        keepalive: 0,
      });
      expect((await raw.next())?.cmd).toBe("connack");
      raw.sendBytes([0x62, 0x00]);
      const reply = await raw.next();
      if (version === 5) {
        expect(reply).toMatchObject({ cmd: "disconnect", reasonCode: 0x81 });
        expect(await raw.next()).toBeNull();
      } else expect(reply).toBeNull(); // 3.1.1: the connection is closed
    });
  }
});
