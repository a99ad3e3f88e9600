/**
 * Flow control over WebSocket is the TCP one (bridges/mqtt/websocket.ts is
 * only a socket adapter): a WebSocket subscriber that stops reading neither
 * blocks publishers nor makes the broker buffer without bound — its QoS 0
 * backlog stays in the log behind its cursor, and it gets every message, in
 * order, once it reads again (README: outbound delivery is log-backed); a
 * WebSocket QoS 0 publisher is paced by durability like a TCP one.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { Packet } from "mqtt-packet";
import { type MqttWebSocketData, mqttWebSocketUpgrade } from "../../bridges/mqtt/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { openBroker, startServer, type TestServer, tempDir, until } from "./harness.ts";
import { rawWebSocket } from "./raw-websocket.ts";
import fs from "node:fs";

let server: TestServer | undefined;
let http: ReturnType<typeof Bun.serve> | undefined;
let dir: string | undefined;
afterEach(async () => {
  http?.stop(true);
  http = undefined;
  await server?.close();
  server = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function serveWebSocket(s: TestServer): ReturnType<typeof Bun.serve> {
  return Bun.serve<MqttWebSocketData>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const upgrade = new URL(req.url).pathname === "/mqtt" ? mqttWebSocketUpgrade(req) : null;
      if (upgrade && srv.upgrade(req, upgrade)) return undefined;
      return new Response("not found", { status: 404 });
    },
    websocket: s.listener.websocket,
  });
}

/** A QoS 0 PUBLISH (v3.1.1) of `size` payload bytes whose first 4 bytes are `seq`. */
function qos0Publish(topic: string, seq: number, size: number): Uint8Array {
  const t = Buffer.from(topic);
  const remaining = 2 + t.length + size;
  const lenBytes: number[] = [];
  let n = remaining;
  do {
    let b = n & 0x7f;
    n >>= 7;
    if (n > 0) b |= 0x80;
    lenBytes.push(b);
  } while (n > 0);
  const out = Buffer.alloc(1 + lenBytes.length + remaining);
  let at = 0;
  out[at++] = 0x30;
  for (const b of lenBytes) out[at++] = b;
  out.writeUInt16BE(t.length, at);
  at += 2;
  t.copy(out, at);
  at += t.length;
  out.writeUInt32BE(seq, at);
  return out;
}

/** A raw TCP publisher: writes `count` QoS 0 messages as fast as the socket takes them. */
async function tcpFlood(port: number, opts: { topic: string; count: number; size: number }): Promise<void> {
  let drained: (() => void) | null = null;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data() {},
      drain() {
        drained?.();
      },
      error() {},
    },
  });
  const connect = Buffer.from([
    0x10, 0x11, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x05, 0x66, 0x6c, 0x6f,
    0x6f, 0x64,
  ]); // CONNECT v3.1.1, clean, keep-alive 0, client id "flood"
  const write = async (bytes: Uint8Array): Promise<void> => {
    let off = 0;
    while (off < bytes.length) {
      const wrote = socket.write(bytes, off, bytes.length - off);
      if (wrote < 0) throw new Error("publisher socket closed");
      off += wrote;
      if (off < bytes.length) await new Promise<void>((r) => (drained = r));
    }
  };
  await write(connect);
  const perWrite = 64;
  for (let i = 0; i < opts.count; i += perWrite) {
    const parts: Uint8Array[] = [];
    for (let j = i; j < Math.min(opts.count, i + perWrite); j++)
      parts.push(qos0Publish(opts.topic, j, opts.size));
    await write(Buffer.concat(parts));
  }
  socket.end();
}

async function logEnd(broker: Broker, topic: string): Promise<number> {
  const desc = await broker.describeTopic(topic);
  let sum = 0;
  for (const p of desc.partitions) sum += broker.partitionState(topic, p.partition).logEndOffset;
  return sum;
}

describe("MQTT over WebSocket: backpressure", () => {
  it("a WebSocket subscriber that stops reading holds a bounded buffer, does not block publishers, and then gets every message in order", async () => {
    dir = tempDir();
    const highWater = 256 * 1024;
    server = await startServer({ dir, writeHighWaterBytes: highWater });
    await server.broker.ensureTopic("mqtt");
    http = serveWebSocket(server);
    const sub = await rawWebSocket(http.port!, 4);
    sub.send({ cmd: "connect", protocolVersion: 4, clientId: "slow-ws", clean: true, keepalive: 0 });
    expect((await sub.next())?.cmd).toBe("connack");
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "bp/#", qos: 0 }] });
    expect((await sub.next())?.cmd).toBe("suback");
    const conn = server.listener.bridge.connections.get("slow-ws")!;
    expect(conn).toBeDefined();
    sub.pause(); // from here on, the subscriber reads nothing

    const count = 60_000;
    const size = 1024;
    const before = await logEnd(server.broker, "mqtt");
    let maxQueued = 0;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, conn.queuedBytes);
    }, 2);
    try {
      // Publishers are not blocked: the whole flood (~60 MB) is appended while the subscriber reads nothing.
      await tcpFlood(server.listener.port, { topic: "bp/t", count, size });
      const s = server;
      let appended = 0;
      await until(
        () => {
          void logEnd(s.broker, "mqtt").then((n) => {
            appended = n - before;
          });
          return appended === count;
        },
        20_000,
        "every message appended",
      );
      maxQueued = Math.max(maxQueued, conn.queuedBytes);
    } finally {
      clearInterval(sampler);
    }
    // The broker holds at most about the high-water mark for this connection (plus one flush of
    // packets), not the 60 MB the subscriber has not read: the rest waits in the log.
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThan(highWater + 128 * 1024);
    expect(conn.writable()).toBe(false); // stopped taking deliveries
    // Independent of the connection's own count: what was handed to the socket at all is the
    // high-water mark plus what the kernel's socket buffers hold (a few MB), not the 60 MB sent.
    expect(server.listener.bridge.stats.messagesOut[0]).toBeLessThan(10_000);

    // Reading again: every message, in log order (the cursor stayed behind, nothing was dropped).
    let next = 0;
    let outOfOrder = 0;
    sub.onPacket((p: Packet) => {
      if (p.cmd !== "publish") return;
      const seq = Buffer.from(p.payload as Uint8Array).readUInt32BE(0);
      if (seq !== next) outOfOrder++;
      next = seq + 1;
    });
    sub.resume();
    await until(() => next === count, 30_000, "the subscriber caught up");
    expect(outOfOrder).toBe(0);
    expect(server.listener.bridge.stats.dropped.notStored).toBe(0);
    sub.end();
  }, 60_000);

  it("a WebSocket QoS 0 publisher stops being read while its messages are not durable (TCP's inbound flow control)", async () => {
    const gate = await gatedBroker();
    server = await startServer({ broker: gate.broker, maxInboundQos0: 4 });
    http = serveWebSocket(server);
    const pub = await rawWebSocket(http.port!, 4);
    pub.send({ cmd: "connect", protocolVersion: 4, clientId: "ws-flood", clean: true, keepalive: 0 });
    expect((await pub.next())?.cmd).toBe("connack");
    const conn = server.listener.bridge.connections.get("ws-flood")!;
    const end = () => server!.broker.partitionState("mqtt", 0).logEndOffset;
    for (let i = 0; i < 10; i++) {
      pub.send({
        cmd: "publish",
        topic: `w/${i}`,
        payload: Buffer.from(`m${i}`),
        qos: 0,
        dup: false,
        retain: false,
      });
      await Bun.sleep(20); // one socket read per frame
    }
    await until(() => end() >= 4, 2000, "the first publishes appended");
    await Bun.sleep(100);
    // Reading stopped at the limit: the rest waits in the socket, not in memory.
    expect(conn.inputPauses).toBeGreaterThan(0);
    expect(end()).toBeLessThan(10);
    gate.release();
    await until(() => end() === 10, 3000, "every publish appended after durability");
    const res = await server.broker.readRecords({ topic: "mqtt", partition: 0, offset: 0 });
    expect(res.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    pub.end();
  });
});

/** A broker whose `mqtt` high watermark stays 0 (nothing durable) until released (as flow-control.test.ts). */
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
