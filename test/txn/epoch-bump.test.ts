/** KIP-360 epoch bump of an idempotent (non-transactional) producer on the broker API. */
import { afterEach, describe, expect, it } from "bun:test";
import { type Broker, ErrorCode } from "../../src/broker/index.ts";
import { codeOf, initProducer, memoryBroker, producerBatch, readValues } from "./helpers.ts";

let broker: Broker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function setup(): Promise<Broker> {
  ({ broker } = await memoryBroker());
  await broker.createTopic({ name: "t", partitions: 2 });
  return broker;
}

const bump = (b: Broker, p: { producerId: number; producerEpoch: number }) =>
  b.initProducerId({ transactionalId: null, transactionTimeoutMs: 60_000, ...p });

describe("idempotent producer epoch bump (KIP-360)", () => {
  it("keeps the id, bumps the epoch, restarts sequences at 0 and rejects the old epoch everywhere", async () => {
    const b = await setup();
    const p = await initProducer(b);
    await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["a", "b"], { ...p, seq: 0 }) });
    await b.appendBatch({ topic: "t", partition: 1, batch: producerBatch(["x"], { ...p, seq: 0 }) });
    const r = await bump(b, p);
    expect(r).toMatchObject({ error: null, producerId: p.producerId, producerEpoch: p.producerEpoch + 1 });
    const next = { producerId: r.producerId, producerEpoch: r.producerEpoch };
    // A late batch of the old epoch, even on a partition the new epoch has not written to yet.
    for (const partition of [0, 1]) {
      const late = producerBatch(["late"], { ...p, seq: partition === 0 ? 2 : 1 });
      expect(await codeOf(b.appendBatch({ topic: "t", partition, batch: late }))).toBe(
        ErrorCode.INVALID_PRODUCER_EPOCH,
      );
    }
    // The new epoch must start at sequence 0.
    expect(
      await codeOf(
        b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["c"], { ...next, seq: 2 }) }),
      ),
    ).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
    await b.appendBatch({ topic: "t", partition: 0, batch: producerBatch(["c"], { ...next, seq: 0 }) });
    await b.appendBatch({ topic: "t", partition: 1, batch: producerBatch(["y"], { ...next, seq: 0 }) });
    expect(await readValues(b, "t", 0)).toEqual(["a", "b", "c"]);
    expect(await readValues(b, "t", 1)).toEqual(["x", "y"]);
  });

  it("fences a second re-initialisation with the stale pair, and concurrent ones", async () => {
    const b = await setup();
    const p = await initProducer(b);
    const [r1, r2] = await Promise.all([bump(b, p), bump(b, p)]);
    const results = [r1, r2].sort((x, y) => (x.error === null ? -1 : 1) - (y.error === null ? -1 : 1));
    expect(results[0]).toMatchObject({ error: null, producerId: p.producerId, producerEpoch: 1 });
    expect(results[1]).toMatchObject({ error: ErrorCode.PRODUCER_FENCED, producerId: -1 });
    expect((await bump(b, p)).error).toBe(ErrorCode.PRODUCER_FENCED);
    // The current pair bumps again.
    expect(await bump(b, { producerId: p.producerId, producerEpoch: 1 })).toMatchObject({
      error: null,
      producerEpoch: 2,
    });
  });

  it("rolls over to a new id at the last epoch, refuses half pairs and transactional ids", async () => {
    const b = await setup();
    const p = await initProducer(b);
    const rolled = await bump(b, { producerId: p.producerId, producerEpoch: 32766 });
    expect(rolled.error).toBeNull();
    expect(rolled.producerId).not.toBe(p.producerId);
    expect(rolled.producerEpoch).toBe(0);
    expect((await bump(b, { producerId: p.producerId, producerEpoch: -1 })).error).toBe(
      ErrorCode.INVALID_REQUEST,
    );
    const tx = await initProducer(b, "tx-a");
    expect((await bump(b, tx)).error).toBe(ErrorCode.INVALID_REQUEST);
    // Without an id: a fresh producer as before.
    const fresh = await bump(b, { producerId: -1, producerEpoch: -1 });
    expect(fresh).toMatchObject({ error: null, producerEpoch: 0 });
    expect(fresh.producerId).not.toBe(p.producerId);
  });
});

describe("idempotent producer id 0", () => {
  it("is never handed out, so (0, 0) (@platformatic/kafka's 'none') is a fresh producer", async () => {
    const b = await setup();
    const ids = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const r = await bump(b, { producerId: 0, producerEpoch: 0 });
      expect(r).toMatchObject({ error: null, producerEpoch: 0 });
      ids.add(r.producerId);
    }
    expect(ids.has(0)).toBe(false);
    expect(ids.size).toBe(3);
  });
});
