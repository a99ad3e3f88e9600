import { afterEach, describe, expect, it } from "bun:test";
import { Code, ContentFormat, MessageType, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import { stringOption, uintOption } from "../../bridges/coap/codec/options.ts";
import { PublishBatcher } from "../../bridges/coap/publish-batcher.ts";
import type { BrokerApi, ProduceRequest, ProduceResult } from "../../src/broker/index.ts";
import { EddyError } from "../../src/broker/index.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => new TextDecoder().decode(b ?? new Uint8Array(0));

/** A broker whose produce calls wait until the test releases them. */
function fakeBroker() {
  const calls: Array<{ req: ProduceRequest; release(err?: Error): void }> = [];
  const broker = {
    produce(req: ProduceRequest): Promise<ProduceResult> {
      return new Promise((resolve, reject) => {
        calls.push({
          req,
          release: (err) => (err ? reject(err) : resolve({ topic: req.topic, partitions: [], records: [] })),
        });
      });
    },
  } as unknown as BrokerApi;
  return { broker, calls };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe("PublishBatcher", () => {
  it("coalesces a turn's publishes into one produce, in order, and settles each only when it is acked", async () => {
    const { broker, calls } = fakeBroker();
    const b = new PublishBatcher({ broker });
    const settled: number[] = [];
    const ps = [0, 1, 2, 3].map((i) => b.publish("t", { value: text(`v${i}`) }).then(() => settled.push(i)));
    await turn();
    expect(calls.length).toBe(1);
    expect(calls[0]!.req.records.map((r) => str(r.value as Uint8Array))).toEqual(["v0", "v1", "v2", "v3"]);
    expect(calls[0]!.req.acks).toBe(-1);
    await turn();
    expect(settled).toEqual([]); // not durable yet
    calls[0]!.release();
    await Promise.all(ps);
    expect(settled).toEqual([0, 1, 2, 3]);
  });

  it("keeps one batch in flight until the topic is known, then pipelines; splits at maxBatchRecords", async () => {
    const { broker, calls } = fakeBroker();
    const b = new PublishBatcher({ broker, maxBatchRecords: 2 });
    const first = [
      b.publish("t", { value: text("a") }),
      b.publish("t", { value: text("b") }),
      b.publish("t", { value: text("c") }),
    ];
    await turn();
    expect(calls.length).toBe(1); // topic not known yet: one at a time
    calls[0]!.release();
    await first[0];
    for (let i = 0; i < 5 && calls.length < 2; i++) await turn();
    expect(calls.length).toBe(2);
    expect(calls[1]!.req.records.map((r) => str(r.value as Uint8Array))).toEqual(["c"]);
    const more = [
      b.publish("t", { value: text("d") }),
      b.publish("t", { value: text("e") }),
      b.publish("t", { value: text("f") }),
    ];
    for (let i = 0; i < 5 && calls.length < 4; i++) await turn();
    expect(calls.length).toBe(4); // known now: both batches go without waiting for "c"
    expect(calls.slice(2).map((c) => c.req.records.map((r) => str(r.value as Uint8Array)))).toEqual([
      ["d", "e"],
      ["f"],
    ]);
    for (const c of calls.slice(1)) c.release();
    await Promise.all([...first, ...more]);
  });

  it("a failed batch is retried one publish at a time, so only the bad record's request fails", async () => {
    const { broker, calls } = fakeBroker();
    const b = new PublishBatcher({ broker });
    const results = ["ok1", "bad", "ok2"].map((v) =>
      b.publish("t", { value: text(v) }).then(
        () => "ok",
        (e: EddyError) => e.code,
      ),
    );
    await turn();
    calls[0]!.release(new EddyError("RECORD_TOO_LARGE", "too large"));
    for (let i = 1; i <= 3; i++) {
      while (calls.length <= i) await turn();
      const v = str(calls[i]!.req.records[0]!.value as Uint8Array);
      calls[i]!.release(v === "bad" ? new EddyError("RECORD_TOO_LARGE", "too large") : undefined);
    }
    expect(await Promise.all(results)).toEqual(["ok", "RECORD_TOO_LARGE", "ok"]);
  });
});

describe("CoAP publishes over UDP are batched", () => {
  let h: CoapHarness | undefined;
  let c: TestClient | undefined;
  afterEach(async () => {
    c?.close();
    await h?.close();
  });

  it("a burst of NON and CON publishes from one source is stored in order with fewer produce calls", async () => {
    h = await createCoapHarness({ rateLimit: false });
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "burst", partitions: 1 });
    let produces = 0;
    const real = h.broker.produce.bind(h.broker);
    h.broker.produce = (req) => {
      produces++;
      return real(req);
    };
    const n = 200;
    const waits: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      const token = Uint8Array.of(0x42, i);
      const same = (t: Uint8Array) => t.length === 2 && t[0] === 0x42 && t[1] === i;
      waits.push(c.waitFor((m) => m.code !== Code.EMPTY && same(m.token), 5000));
      c.sendRaw(
        encodeMessage({
          type: i % 2 === 0 ? MessageType.NON : MessageType.CON,
          code: Code.POST,
          messageId: 2000 + i,
          token,
          options: [
            ...["ps", "data", "burst"].map((s) => stringOption(OptionNumber.URI_PATH, s)),
            uintOption(OptionNumber.CONTENT_FORMAT, ContentFormat.TEXT_PLAIN),
          ],
          payload: text(String(i)),
        }),
      );
    }
    const answers = (await Promise.all(waits)) as Array<{ code: number }>;
    expect(answers.every((a) => a.code === Code.CHANGED || a.code === Code.CREATED)).toBe(true);
    const read = await h.broker.readRecords({ topic: "burst", partition: 0, offset: 0, maxRecords: 1000 });
    expect(read.records.map((r) => str(r.value))).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(produces).toBeLessThan(n / 2);
  });
});
