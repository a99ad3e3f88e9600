/**
 * The batch-level hot path: what the bridge appends fills the shared delivery
 * window (no read back from the log, under the "write" and the "fsync"
 * policies), records appended by other frontends in between are read from the
 * log and delivered in log order; the framer cuts any split of a byte stream
 * into the same packets without copying whole chunks; the write queue keeps
 * byte order across referenced runs, copies and short writes.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import { Framer } from "../../bridges/mqtt/framing.ts";
import { WriteQueue } from "../../bridges/mqtt/write-queue.ts";
import type { Broker } from "../../src/broker/index.ts";
import { collect, openBroker, startServer, type TestServer, tempDir, until } from "./harness.ts";

let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const enc = (s: string) => new TextEncoder().encode(s);

/** A broker that counts readRecords calls on stream topic `mqtt`. */
function countingReads(inner: Broker): { broker: Broker; reads: () => number; reset(): void } {
  let reads = 0;
  const broker = new Proxy(inner, {
    get(target, prop) {
      if (prop === "readRecords") {
        return (req: Parameters<Broker["readRecords"]>[0]) => {
          if (req.topic === "mqtt") reads++;
          return target.readRecords(req);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Broker;
  return {
    broker,
    reads: () => reads,
    reset() {
      reads = 0;
    },
  };
}

describe("append-side window fill", () => {
  for (const policy of ["write", "fsync"] as const) {
    it(`delivers what the bridge appended without reading the log back (durability ${policy})`, async () => {
      dir = tempDir();
      const inner = await openBroker(dir);
      await inner.createTopic({ name: "mqtt", partitions: 1, configs: { durability: policy } });
      const counted = countingReads(inner);
      server = await startServer({ broker: counted.broker });
      const sub = await server.connect({ clientId: `fill-sub-${policy}` });
      await sub.subscribeAsync("fill/#", { qos: 1 });
      const got = collect(sub);
      const pub = await server.connect({ clientId: `fill-pub-${policy}` });
      // The first record opens the window (read from the log); the rest come from the appends.
      await pub.publishAsync("fill/0", "first", { qos: 1 });
      await until(() => got.length === 1, 3000, "first delivery");
      counted.reset();
      const sent: string[] = [];
      for (let i = 0; i < 200; i++) {
        const payload = `m${i}`;
        sent.push(payload);
        void pub.publishAsync(`fill/${i % 3}`, payload, { qos: i % 2 === 0 ? 0 : 1 });
      }
      await until(() => got.length === 201, 5000, "every delivery");
      expect(got.slice(1).map((m) => m.payload)).toEqual(sent);
      expect(counted.reads()).toBe(0);
      // The log holds the same records (appended by the bridge's own encoder).
      const res = await inner.readRecords({ topic: "mqtt", partition: 0, offset: 1, maxRecords: 500 });
      expect(res.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(sent);
    });
  }

  it("reads records appended by other frontends from the log and delivers everything in log order", async () => {
    server = await startServer({ partitions: 1 });
    const sub = await server.connect({ clientId: "mixed-sub" });
    await sub.subscribeAsync("mixed/1", { qos: 1 });
    const got = collect(sub);
    const pub = await server.connect({ clientId: "mixed-pub" });
    const expected: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 1) {
        // A record produced over HTTP/Kafka on `mqtt` with key K reaches MQTT topic K (default reverse rule).
        await server.broker.produce({
          topic: "mqtt",
          partition: 0,
          acks: -1,
          records: [{ key: enc("mixed/1"), value: enc(`h${i}`) }],
        });
        expected.push(`h${i}`);
      } else {
        await pub.publishAsync("mixed/1", `q${i}`, { qos: 1 });
        expected.push(`q${i}`);
      }
    }
    await until(() => got.length === expected.length, 5000, "every delivery");
    expect(got.map((m) => m.payload)).toEqual(expected);
  });
});

describe("framer", () => {
  it("cuts any split of a byte stream into the same packets", () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const varint = (n: number) => {
      const out: number[] = [];
      do {
        let b = n % 128;
        n = Math.floor(n / 128);
        if (n > 0) b |= 0x80;
        out.push(b);
      } while (n > 0);
      return out;
    };
    for (let round = 0; round < 60; round++) {
      const packets: number[][] = [];
      for (let k = 0; k < 30; k++) {
        const len = [0, 1, 5, 127, 128, 300, 16384, 20000][rnd(8)]!;
        packets.push([0x30, ...varint(len), ...Array.from({ length: len }, () => rnd(256))]);
      }
      const stream = new Uint8Array(packets.flat());
      const framer = new Framer(1 << 20);
      const out: number[][] = [];
      for (let pos = 0; pos < stream.length; ) {
        const n = 1 + rnd(rnd(2) === 0 ? 6 : 40_000);
        const r = framer.push(stream.slice(pos, pos + n));
        expect(r.error).toBeNull();
        for (const p of r.packets) out.push([...p]);
        pos += n;
      }
      expect(out).toEqual(packets);
    }
  });
});

describe("write queue", () => {
  it("keeps byte order across runs of adjacent packets, copies and short writes", async () => {
    const written: number[] = [];
    let room = 7;
    const socket = {
      write(data: Uint8Array, offset: number, length: number): number {
        const n = Math.min(length, room);
        for (let i = 0; i < n; i++) written.push(data[offset + i]!);
        return n;
      },
    };
    let drained = 0;
    const q = new WriteQueue(socket, () => drained++, 64);
    const chunk = new Uint8Array(200).map((_, i) => i);
    const expected: number[] = [];
    const add = (b: Uint8Array) => {
      q.enqueue(b);
      expected.push(...b);
    };
    // Adjacent views of one chunk (a run), a separate packet, small acks, then adjacent views again.
    add(chunk.subarray(0, 40));
    add(chunk.subarray(40, 90));
    add(new Uint8Array(30).fill(0xee));
    q.enqueueAck(0x40, 0x0102); // a plain PUBACK, written in place
    expected.push(0x40, 2, 1, 2);
    add(new Uint8Array([0x50, 2, 0, 9]));
    add(chunk.subarray(90, 150));
    add(chunk.subarray(150, 200));
    expect(q.pending).toBe(expected.length);
    await Promise.resolve();
    while (written.length < expected.length) {
      room = 1 + (written.length % 23);
      q.flush();
    }
    expect(written).toEqual(expected);
    expect(q.pending).toBe(0);
    expect(drained).toBe(1); // it went over the high-water mark once, and drained
    room = 1000;
    const alone = chunk.subarray(10, 60);
    q.enqueue(alone);
    q.enqueue(chunk.subarray(60, 70));
    q.flush();
    expect(written.slice(expected.length)).toEqual([...chunk.subarray(10, 70)]);
    q.release();
  });
});
