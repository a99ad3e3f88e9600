/**
 * The produce batcher: pipelined appends (the next batch is appended while the
 * previous one waits for durability), records in submission order, and every
 * submit resolved only once the high watermark passed its record
 * [MQTT-4.3.2-2][MQTT-4.3.3-2] — against a fake broker whose high watermark the test moves.
 */
import { describe, expect, it } from "bun:test";
import { ProduceBatcher } from "../../bridges/mqtt/produce-batcher.ts";
import {
  type BrokerApi,
  ErrorCode,
  isEddyError,
  type ProduceRequest,
  type RecordInput,
} from "../../src/broker/index.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const rec = (v: string): RecordInput => ({ key: null, value: enc(v) });

/** A one-partition log: appends move the log end at once, the high watermark only when told. */
function fakeBroker() {
  const produced: ProduceRequest[] = [];
  const values: string[] = [];
  let leo = 0;
  let hw = 0;
  const waiters: Array<{ offset: number; resolve: (ok: boolean) => void }> = [];
  let failNext = false;
  const broker = {
    async produce(req: ProduceRequest) {
      if (failNext) {
        failNext = false;
        throw new Error("disk full");
      }
      produced.push(req);
      for (const r of req.records) values.push(new TextDecoder().decode(r.value ?? new Uint8Array()));
      leo += req.records.length;
      return { topic: req.topic, partitions: [{ partition: 0 }], records: [] };
    },
    partitionState: () => ({ logEndOffset: leo, highWatermark: hw }),
    waitForData(_t: string, _p: number, offset: number, timeoutMs: number) {
      return new Promise<boolean>((resolve) => {
        if (hw > offset) return resolve(true);
        waiters.push({ offset, resolve });
        if (timeoutMs < 1000) setTimeout(() => resolve(false), timeoutMs);
      });
    },
  } as unknown as BrokerApi;
  return {
    broker,
    produced,
    values,
    get leo() {
      return leo;
    },
    failNext() {
      failNext = true;
    },
    commit(to: number) {
      hw = to;
      for (const w of waiters.splice(0)) {
        if (hw > w.offset) w.resolve(true);
        else waiters.push(w);
      }
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("ProduceBatcher", () => {
  it("appends later batches while earlier ones wait for durability, resolving each only once durable", async () => {
    const f = fakeBroker();
    const b = new ProduceBatcher(f.broker, 30_000);
    const done: string[] = [];
    const first = ["a", "b"].map((v) => b.submit("t", rec(v)).then(() => done.push(v)));
    await tick();
    expect(f.leo).toBe(2);
    const second = ["c"].map((v) => b.submit("t", rec(v)).then(() => done.push(v)));
    await tick();
    // The second batch is appended although the first is not durable yet (pipelining).
    expect(f.leo).toBe(3);
    expect(f.values).toEqual(["a", "b", "c"]);
    expect(f.produced.every((r) => r.acks === 0)).toBe(true);
    expect(done).toEqual([]);
    f.commit(2);
    await Promise.all(first);
    await tick();
    expect(done).toEqual(["a", "b"]);
    f.commit(3);
    await Promise.all(second);
    expect(done).toEqual(["a", "b", "c"]);
  });

  it("batches settle in order even when a later batch becomes durable first", async () => {
    const f = fakeBroker();
    const b = new ProduceBatcher(f.broker, 30_000);
    const done: string[] = [];
    const p1 = b.submit("t", rec("x")).then(() => done.push("x"));
    await tick();
    const p2 = b.submit("t", rec("y")).then(() => done.push("y"));
    await tick();
    f.commit(2); // both durable at once
    await Promise.all([p1, p2]);
    expect(done).toEqual(["x", "y"]);
  });

  it("rejects a batch the broker refuses, and times out when durability does not come", async () => {
    const f = fakeBroker();
    const b = new ProduceBatcher(f.broker, 30_000);
    f.failNext();
    await expect(b.submit("t", rec("lost"))).rejects.toThrow("disk full");
    const ok = b.submit("t", rec("kept"));
    await tick();
    f.commit(1);
    await ok;
    const slow = new ProduceBatcher(f.broker, 50);
    const err = await slow.submit("t", rec("never")).catch((e: unknown) => e);
    expect(isEddyError(err) && err.code === ErrorCode.TIMEOUT).toBe(true);
  });
});
