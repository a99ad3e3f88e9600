/**
 * KIP-360 over raw frames: InitProducerId v4 naming an idempotent producer's
 * id and epoch bumps the epoch; a late Produce of the old epoch then gets
 * INVALID_PRODUCER_EPOCH (47); a stale re-init gets PRODUCER_FENCED (90).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { encodeBatch } from "../../src/broker/index.ts";
import { InitProducerId, Produce } from "../../src/kafka/generated/index.ts";
import { type KafkaHarness, createKafkaHarness, type RawClient } from "./server-harness.ts";
import { produceBody } from "./server-requests.ts";

let h: KafkaHarness;
let c: RawClient;
const te = new TextEncoder();

beforeAll(async () => {
  h = await createKafkaHarness();
  c = await h.connect();
  await h.broker.createTopic({ name: "bump", partitions: 1 });
});
afterAll(async () => {
  await h.close();
});

const batch = (values: string[], p: { producerId: number; producerEpoch: number }, seq: number) =>
  encodeBatch(
    values.map((v) => ({ key: null, value: te.encode(v) })),
    { now: Date.now(), ...p, baseSequence: seq },
  );
const init = (producerId: number, producerEpoch: number) =>
  c.request(InitProducerId, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId,
    producerEpoch,
  });
const produceCode = async (values: string[], p: { producerId: number; producerEpoch: number }, seq: number) =>
  (await c.request(Produce, 9, produceBody("bump", batch(values, p, seq)))).responses[0]!
    .partitionResponses[0]!.errorCode;

describe("InitProducerId v4 epoch bump of an idempotent producer", () => {
  it("bumps the epoch of the same id; the old epoch's late batch gets INVALID_PRODUCER_EPOCH", async () => {
    const first = await init(-1, -1);
    expect(first).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    const old = { producerId: first.producerId, producerEpoch: first.producerEpoch };
    expect(await produceCode(["a"], old, 0)).toBe(0);

    const bumped = await init(old.producerId, old.producerEpoch);
    expect(bumped).toMatchObject({ errorCode: 0, producerId: old.producerId, producerEpoch: 1 });

    expect(await produceCode(["late"], old, 1)).toBe(47);
    expect(await produceCode(["b"], { producerId: bumped.producerId, producerEpoch: 1 }, 0)).toBe(0);
    expect((await init(old.producerId, old.producerEpoch)).errorCode).toBe(90);

    const { records } = await h.broker.readRecords({
      topic: "bump",
      partition: 0,
      offset: 0,
      maxRecords: 10,
    });
    expect(records.map((r) => new TextDecoder().decode(r.value!))).toEqual(["a", "b"]);
  });
});
