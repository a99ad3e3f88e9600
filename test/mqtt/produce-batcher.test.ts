/**
 * The produce batcher: pipelined appends (the next round is appended while the
 * previous one waits for durability), records in submission order, every
 * message settled only once the high watermark passed its record
 * [MQTT-4.3.2-2][MQTT-4.3.3-2] — against a fake broker whose high watermark the
 * test moves — and batches it encodes itself that decode to exactly the
 * records the broker's own encoder builds from message.ts's headers.
 */
import { describe, expect, it } from "bun:test";
import type { MqttMessage } from "../../bridges/mqtt/message.ts";
import { messageToRecord } from "../../bridges/mqtt/message.ts";
import { ProduceBatcher } from "../../bridges/mqtt/produce-batcher.ts";
import { encodeItems } from "../../bridges/mqtt/record-encoder.ts";
import {
  type AppendBatchRequest,
  type BrokerApi,
  decodeBatch,
  encodeBatch,
  ErrorCode,
  isEddyError,
  type RecordInput,
} from "../../src/broker/index.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { kafkaPartition } from "../../src/util/murmur2.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => new TextDecoder().decode(b ?? new Uint8Array());
const rec = (v: string): RecordInput => ({ key: null, value: enc(v) });

function message(topic: string, payload: string, extra: Partial<MqttMessage> = {}): MqttMessage {
  return {
    topic,
    payload: enc(payload),
    qos: 1,
    retain: false,
    clientId: "dev-1",
    timestamp: 1_700_000_000_123,
    userProperties: [],
    ...extra,
  };
}

/** Logs of `partitions` partitions: appends move the log end at once, the high watermark only when told. */
function fakeBroker(partitions = 1) {
  const appended: AppendBatchRequest[] = [];
  const values: string[][] = Array.from({ length: partitions }, () => []);
  const leo = new Array<number>(partitions).fill(0);
  const hw = new Array<number>(partitions).fill(0);
  let failNext = false;
  const broker = {
    async ensureTopic(name: string) {
      return { name, id: "x", partitions, replicationFactor: 1 };
    },
    async describeTopic(name: string) {
      return {
        name,
        partitions: Array.from({ length: partitions }, (_, p) => ({ partition: p })),
        configs: { "max.message.bytes": 1024 * 1024 },
      };
    },
    async appendBatch(req: AppendBatchRequest) {
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      appended.push(req);
      const { records } = decodeBatch(req.batch, 0);
      for (const r of records) values[req.partition]!.push(dec(r.value));
      const base = leo[req.partition]!;
      leo[req.partition] = base + records.length;
      return {
        baseOffset: base,
        lastOffset: base + records.length - 1,
        logAppendTime: -1,
        logStartOffset: 0,
      };
    },
    partitionState: (_t: string, p: number) => ({ logEndOffset: leo[p]!, highWatermark: hw[p]! }),
  } as unknown as BrokerApi;
  return {
    broker,
    appended,
    values,
    leo,
    failNext() {
      failNext = true;
    },
    /** Move the high watermark; the bridge forwards broker.onAppend events as committed(). */
    commit(b: ProduceBatcher, partition: number, to: number) {
      hw[partition] = to;
      b.committed("t", partition, to);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));
const batcher = (broker: BrokerApi, timeoutMs = 30_000) =>
  new ProduceBatcher(broker, { timeoutMs, clock: new ManualClock() });

describe("ProduceBatcher", () => {
  it("appends later rounds while earlier ones wait for durability, settling each only once durable", async () => {
    const f = fakeBroker();
    const b = batcher(f.broker);
    const done: string[] = [];
    const first = ["a", "b"].map((v) => b.submit("t", rec(v)).then(() => done.push(v)));
    await tick();
    expect(f.leo[0]).toBe(2);
    const second = ["c"].map((v) => b.submit("t", rec(v)).then(() => done.push(v)));
    await tick();
    // The second round is appended although the first is not durable yet (pipelining).
    expect(f.leo[0]).toBe(3);
    expect(f.values[0]).toEqual(["a", "b", "c"]);
    expect(f.appended.every((r) => r.acks === 0)).toBe(true);
    expect(done).toEqual([]);
    f.commit(b, 0, 2);
    await Promise.all(first);
    await tick();
    expect(done).toEqual(["a", "b"]);
    f.commit(b, 0, 3);
    await Promise.all(second);
    expect(done).toEqual(["a", "b", "c"]);
  });

  it("rounds settle in order even when a later one becomes durable first", async () => {
    const f = fakeBroker(2);
    const b = batcher(f.broker);
    const done: string[] = [];
    // Keys place "x" and "y" on different partitions; "y" (later) is committed first.
    const keyFor = (p: number) => {
      for (let i = 0; ; i++) if (kafkaPartition(enc(`k${i}`), 2) === p) return enc(`k${i}`);
    };
    const px = b.submit("t", { key: keyFor(0), value: enc("x") }).then(() => done.push("x"));
    await tick();
    const py = b.submit("t", { key: keyFor(1), value: enc("y") }).then(() => done.push("y"));
    await tick();
    f.commit(b, 1, 1);
    await tick();
    expect(done).toEqual([]);
    f.commit(b, 0, 1);
    await Promise.all([px, py]);
    expect(done).toEqual(["x", "y"]);
  });

  it("places records as the broker's produce would: murmur2 of the key, keyless ones together", async () => {
    const f = fakeBroker(4);
    const b = batcher(f.broker);
    const keys = ["sensors/a", "sensors/b", "sensors/c", "sensors/d", "sensors/e"];
    const all = keys.map((k) => {
      const msg = message(k, `v-${k}`);
      return new Promise<void>((resolve, reject) =>
        b.enqueue("t", msg, enc(k), (err) => (err === null ? resolve() : reject(err))),
      );
    });
    await tick();
    for (const k of keys) expect(f.values[kafkaPartition(enc(k), 4)]).toContain(`v-${k}`);
    for (let p = 0; p < 4; p++) f.commit(b, p, f.leo[p]!);
    await Promise.all(all);
  });

  it("rejects the records of a refused append, and times out when durability does not come", async () => {
    const f = fakeBroker();
    const b = batcher(f.broker);
    f.failNext();
    await expect(b.submit("t", rec("lost"))).rejects.toThrow("disk full");
    const ok = b.submit("t", rec("kept"));
    await tick();
    f.commit(b, 0, 1);
    await ok;
    const clock = new ManualClock();
    const slow = new ProduceBatcher(f.broker, { timeoutMs: 50, clock });
    const never = slow.submit("t", rec("never")).catch((e: unknown) => e);
    await tick();
    clock.advance(100);
    const err = await never;
    expect(isEddyError(err) && err.code === ErrorCode.TIMEOUT).toBe(true);
    slow.close();
  });

  it("tells the window what it appended, with base offsets", async () => {
    const f = fakeBroker();
    const seen: Array<{ base: number; topics: string[] }> = [];
    const b = new ProduceBatcher(f.broker, {
      timeoutMs: 30_000,
      clock: new ManualClock(),
      onAppended: (batch) =>
        seen.push({ base: batch.baseOffset, topics: batch.items.map((it) => it.msg?.topic ?? "-") }),
    });
    b.enqueue("t", message("a/1", "1"), null, () => {});
    b.enqueue("t", message("a/2", "2"), null, () => {});
    await tick();
    b.enqueue("t", message("a/3", "3"), null, () => {});
    await tick();
    expect(seen).toEqual([
      { base: 0, topics: ["a/1", "a/2"] },
      { base: 2, topics: ["a/3"] },
    ]);
  });
});

describe("record encoder", () => {
  it("encodes messages byte for byte as encodeBatch does with message.ts's headers", () => {
    const msgs: Array<[MqttMessage, Uint8Array | null]> = [
      [message("sensors/dev1/temp", "21.5"), enc("sensors/dev1/temp")],
      [message("x", "", { qos: 0, retain: true, clientId: null }), null],
      [message("é/ü", "p".repeat(300), { qos: 2, timestamp: 1_700_000_000_000 }), enc("k")],
      [
        message("props", "{}", {
          contentType: "application/json",
          payloadFormatUtf8: true,
          responseTopic: "r/1",
          correlationData: enc("c"),
          messageExpiry: 60,
          userProperties: [
            ["a", "1"],
            ["mqtt.x", "2"],
          ],
        }),
        enc("props"),
      ],
    ];
    const items = msgs.map(([msg, key]) => ({ msg, key, record: null }));
    const ours = encodeItems(items, 0, items.length, 1_700_000_000_999);
    const reference = encodeBatch(
      msgs.map(([msg, key]) => messageToRecord(msg, key)),
      { now: 1_700_000_000_999 },
    );
    expect([...ours]).toEqual([...reference]);
    const { records } = decodeBatch(ours, 0);
    expect(records.map((r) => dec(r.value))).toEqual(["21.5", "", "p".repeat(300), "{}"]);
  });
});
