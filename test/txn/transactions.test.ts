/** Transactions on the broker API: markers, LSO, read_committed, fencing, timeouts, offsets. */
import { afterEach, describe, expect, it } from "bun:test";
import {
  type Broker,
  decodeBatch,
  ErrorCode,
  iterateBatches,
  readBatchHeader,
} from "../../src/broker/index.ts";
import type { ManualClock } from "../../src/util/clock.ts";
import {
  codeOf,
  committedValues,
  enc,
  initProducer,
  memoryBroker,
  type ProducerRef,
  producerBatch,
  readValues,
} from "./helpers.ts";

let broker: Broker | undefined;
let clock: ManualClock;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

async function setup(partitions = 1): Promise<Broker> {
  ({ broker, clock } = await memoryBroker({ transactions: { checkIntervalMs: 0 } }));
  await broker.createTopic({ name: "t", partitions });
  return broker;
}

async function begin(b: Broker, id: string, p: ProducerRef, partitions = [0]) {
  const r = await b.addPartitionsToTxn({
    transactionalId: id,
    ...p,
    partitions: partitions.map((partition) => ({ topic: "t", partition })),
  });
  expect(r.partitions.every((x) => x.error === null)).toBe(true);
}

async function sendTxn(b: Broker, p: ProducerRef, values: string[], seq: number, partition = 0) {
  return b.appendBatch({
    topic: "t",
    partition,
    batch: producerBatch(values, { ...p, seq, transactional: true }),
    acks: -1,
  });
}

/** Control record types of every marker batch in a partition, in order. */
async function markers(b: Broker, partition = 0): Promise<number[]> {
  const f = await b.fetch({ partitions: [{ topic: "t", partition, offset: 0 }] });
  const out: number[] = [];
  for (const { header, pos } of iterateBatches(f.partitions[0]!.records)) {
    if ((header.attributes & 0x20) === 0) continue;
    const key = decodeBatch(f.partitions[0]!.records, pos).records[0]!.key!;
    out.push((key[2]! << 8) | key[3]!);
  }
  return out;
}

describe("transactions", () => {
  it("commits: records stay invisible to read_committed until the COMMIT marker", async () => {
    const b = await setup(2);
    const p = await initProducer(b, "tx-commit");
    await begin(b, "tx-commit", p, [0, 1]);
    await sendTxn(b, p, ["a", "b"], 0, 0);
    await sendTxn(b, p, ["c"], 0, 1);
    expect(b.partitionState("t", 0)).toMatchObject({ highWatermark: 2, lastStableOffset: 0 });
    expect(await committedValues(b, "t", 0)).toEqual([]);
    expect(await readValues(b, "t", 0)).toEqual(["a", "b"]);

    expect(await b.endTxn({ transactionalId: "tx-commit", ...p, commit: true })).toEqual({ error: null });
    expect(b.partitionState("t", 0)).toMatchObject({ highWatermark: 3, lastStableOffset: 3 });
    expect(b.partitionState("t", 1)).toMatchObject({ highWatermark: 2, lastStableOffset: 2 });
    expect(await committedValues(b, "t", 0)).toEqual(["a", "b"]);
    expect(await committedValues(b, "t", 1)).toEqual(["c"]);
    expect(await markers(b, 0)).toEqual([1]);
    expect(await markers(b, 1)).toEqual([1]);
    // Retrying the same EndTxn is fine; the opposite decision is not.
    expect((await b.endTxn({ transactionalId: "tx-commit", ...p, commit: true })).error).toBeNull();
    expect((await b.endTxn({ transactionalId: "tx-commit", ...p, commit: false })).error).toBe(
      ErrorCode.INVALID_TXN_STATE,
    );
  });

  it("aborts: read_committed hides the records and fetch reports the aborted transaction", async () => {
    const b = await setup();
    await b.produce({ topic: "t", partition: 0, records: [{ value: enc("plain") }] });
    const p = await initProducer(b, "tx-abort");
    await begin(b, "tx-abort", p);
    await sendTxn(b, p, ["x", "y"], 0);
    expect((await b.endTxn({ transactionalId: "tx-abort", ...p, commit: false })).error).toBeNull();
    await b.produce({ topic: "t", partition: 0, records: [{ value: enc("after") }] });

    expect(await readValues(b, "t", 0)).toEqual(["plain", "x", "y", "after"]);
    expect(await committedValues(b, "t", 0)).toEqual(["plain", "after"]);
    expect(await markers(b)).toEqual([0]);
    const committed = await b.fetch({
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
      isolation: "read_committed",
    });
    expect(committed.partitions[0]!.abortedTransactions).toEqual([
      { producerId: p.producerId, firstOffset: 1 },
    ]);
    const uncommitted = await b.fetch({ partitions: [{ topic: "t", partition: 0, offset: 0 }] });
    expect(uncommitted.partitions[0]!.abortedTransactions).toEqual([]);
    // A fetch starting after the aborted range does not report it.
    const later = await b.fetch({
      partitions: [{ topic: "t", partition: 0, offset: 4 }],
      isolation: "read_committed",
    });
    expect(later.partitions[0]!.abortedTransactions).toEqual([]);
  });

  it("holds the last stable offset at the oldest open transaction", async () => {
    const b = await setup();
    await b.produce({ topic: "t", partition: 0, records: [{ value: enc("before") }] });
    const p = await initProducer(b, "tx-open");
    await begin(b, "tx-open", p);
    await sendTxn(b, p, ["open"], 0);
    await b.produce({ topic: "t", partition: 0, records: [{ value: enc("later") }] });
    expect(b.partitionState("t", 0)).toMatchObject({ highWatermark: 3, lastStableOffset: 1 });
    expect(await committedValues(b, "t", 0)).toEqual(["before"]);
    const f = await b.fetch({
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
      isolation: "read_committed",
    });
    const offsets = [...iterateBatches(f.partitions[0]!.records)].map((x) => x.header.baseOffset);
    expect(offsets).toEqual([0]);
    expect(f.partitions[0]!.lastStableOffset).toBe(1);
    await b.endTxn({ transactionalId: "tx-open", ...p, commit: true });
    expect(b.partitionState("t", 0).lastStableOffset).toBe(4);
    expect(await committedValues(b, "t", 0)).toEqual(["before", "open", "later"]);
  });

  it("wakes a read_committed long-poll when the transaction commits", async () => {
    const b = await setup();
    const p = await initProducer(b, "tx-wake");
    await begin(b, "tx-wake", p);
    await sendTxn(b, p, ["w"], 0);
    const polling = b.readRecords({
      topic: "t",
      partition: 0,
      offset: 0,
      maxWaitMs: 60_000,
      isolation: "read_committed",
    });
    await b.endTxn({ transactionalId: "tx-wake", ...p, commit: true });
    const { records } = await polling;
    expect(records.map((r) => new TextDecoder().decode(r.value!))).toEqual(["w"]);
  });

  it("fences the older producer when InitProducerId is called again, aborting its transaction", async () => {
    const b = await setup();
    const old = await initProducer(b, "tx-fence");
    await begin(b, "tx-fence", old);
    await sendTxn(b, old, ["zombie"], 0);
    const fresh = await initProducer(b, "tx-fence");
    expect(fresh.producerId).toBe(old.producerId);
    expect(fresh.producerEpoch).toBe(old.producerEpoch + 1);
    expect(await committedValues(b, "t", 0)).toEqual([]);
    expect(b.partitionState("t", 0).lastStableOffset).toBe(b.partitionState("t", 0).highWatermark);

    expect(await codeOf(sendTxn(b, old, ["more"], 1))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect((await b.endTxn({ transactionalId: "tx-fence", ...old, commit: true })).error).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
    const added = await b.addPartitionsToTxn({
      transactionalId: "tx-fence",
      ...old,
      partitions: [{ topic: "t", partition: 0 }],
    });
    expect(added.partitions[0]!.error).toBe(ErrorCode.PRODUCER_FENCED);
    // KIP-360 style re-init naming a stale epoch is fenced too.
    const stale = await b.initProducerId({
      transactionalId: "tx-fence",
      transactionTimeoutMs: 60_000,
      ...old,
    });
    expect(stale.error).toBe(ErrorCode.PRODUCER_FENCED);

    await begin(b, "tx-fence", fresh);
    await sendTxn(b, fresh, ["real"], 0);
    await b.endTxn({ transactionalId: "tx-fence", ...fresh, commit: true });
    expect(await committedValues(b, "t", 0)).toEqual(["real"]);
  });

  it("aborts a transaction after transaction.timeout.ms and fences its producer", async () => {
    const b = await setup();
    const p = await initProducer(b, "tx-slow", 1000);
    await begin(b, "tx-slow", p);
    await sendTxn(b, p, ["late"], 0);
    clock.advance(999);
    expect(await b.runTransactionTimeouts()).toBe(0);
    clock.advance(2);
    expect(await b.runTransactionTimeouts()).toBe(1);
    expect(b.describeTransactions()[0]).toMatchObject({ state: "CompleteAbort", producerEpoch: 1 });
    expect(b.partitionState("t", 0).lastStableOffset).toBe(2);
    expect(await committedValues(b, "t", 0)).toEqual([]);
    expect((await b.endTxn({ transactionalId: "tx-slow", ...p, commit: true })).error).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
  });

  it("runs the timeout check in the background every checkIntervalMs", async () => {
    ({ broker, clock } = await memoryBroker({ transactions: { checkIntervalMs: 5 } }));
    const b = broker;
    await b.createTopic({ name: "t" });
    const p = await initProducer(b, "tx-bg", 1000);
    await begin(b, "tx-bg", p);
    await sendTxn(b, p, ["bg"], 0);
    clock.advance(5000);
    for (let i = 0; i < 400 && b.describeTransactions()[0]!.state !== "CompleteAbort"; i++)
      await Bun.sleep(5);
    expect(b.describeTransactions()[0]!.state).toBe("CompleteAbort");
    expect(b.partitionState("t", 0).lastStableOffset).toBe(2);
  });

  it("commits TxnOffsetCommit offsets only with the transaction", async () => {
    const b = await setup();
    const p = await initProducer(b, "tx-offsets");
    const ref = { transactionalId: "tx-offsets", ...p };
    expect((await b.addOffsetsToTxn({ ...ref, groupId: "g" })).error).toBeNull();
    const r = await b.txnOffsetCommit({
      ...ref,
      groupId: "g",
      offsets: [{ topic: "t", partition: 0, offset: 7 }],
    });
    expect(r.partitions).toEqual([{ topic: "t", partition: 0, error: null }]);
    expect(await b.fetchOffsets("g")).toEqual([]);
    await b.endTxn({ ...ref, commit: true });
    expect((await b.fetchOffsets("g")).map((o) => o.offset)).toEqual([7]);

    await b.addOffsetsToTxn({ ...ref, groupId: "g" });
    await b.txnOffsetCommit({ ...ref, groupId: "g", offsets: [{ topic: "t", partition: 0, offset: 9 }] });
    await b.endTxn({ ...ref, commit: false });
    expect((await b.fetchOffsets("g")).map((o) => o.offset)).toEqual([7]);
    // Without AddOffsetsToTxn first: refused.
    const refused = await b.txnOffsetCommit({
      ...ref,
      groupId: "other",
      offsets: [{ topic: "t", partition: 0, offset: 1 }],
    });
    expect(refused.partitions[0]!.error).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it("reports bad requests with the right codes", async () => {
    const b = await setup();
    expect((await b.initProducerId({ transactionalId: "x", transactionTimeoutMs: 16 * 60_000 })).error).toBe(
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
    );
    const p = await initProducer(b, "tx-bad");
    expect((await b.endTxn({ transactionalId: "tx-bad", ...p, commit: true })).error).toBe(
      ErrorCode.INVALID_TXN_STATE,
    );
    expect((await b.endTxn({ transactionalId: "nope", ...p, commit: true })).error).toBe(
      ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    );
    const added = await b.addPartitionsToTxn({
      transactionalId: "tx-bad",
      ...p,
      partitions: [
        { topic: "t", partition: 0 },
        { topic: "missing", partition: 0 },
      ],
    });
    expect(added.partitions.map((x) => x.error)).toEqual([
      ErrorCode.OPERATION_NOT_ATTEMPTED,
      ErrorCode.TOPIC_NOT_FOUND,
    ]);
    // Not added (the request above added nothing): a transactional batch is refused.
    expect(await codeOf(sendTxn(b, p, ["stray"], 0))).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(b.partitionState("t", 0).logEndOffset).toBe(0);
    const header = readBatchHeader(producerBatch(["z"], { ...p, seq: 0, transactional: true }));
    expect(header.producerId).toBe(p.producerId);
  });
});
