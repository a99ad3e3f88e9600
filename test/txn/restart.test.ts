/**
 * Producer and transaction state survive a broker restart on the file store:
 * from the snapshot, from a stale snapshot plus log replay, from the log
 * alone; decided transactions are completed and hanging ones aborted on start.
 */
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Broker, createBroker, ErrorCode } from "../../src/broker/index.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";
import {
  codeOf,
  committedValues,
  initProducer,
  type ProducerRef,
  producerBatch,
  readValues,
} from "./helpers.ts";

let dir: string;
let broker: Broker | undefined;
const clock = new ManualClock();

async function open(): Promise<Broker> {
  broker = await createBroker({
    logStore: createFileLogStore({ dataDir: path.join(dir, "data"), clock, logger: silentLogger }),
    metadata: openMetadataStore({ path: path.join(dir, "eddy.db") }),
    clock,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    transactions: { checkIntervalMs: 0 },
  });
  return broker;
}

async function restart(between?: (db: Database) => void): Promise<Broker> {
  await broker?.close();
  broker = undefined;
  if (between) {
    const db = new Database(path.join(dir, "eddy.db"));
    try {
      between(db);
    } finally {
      db.close();
    }
  }
  return open();
}

function send(b: Broker, p: ProducerRef, values: string[], seq: number, transactional = false) {
  return b.appendBatch({
    topic: "t",
    partition: 0,
    batch: producerBatch(values, { ...p, seq, transactional }),
    acks: -1,
  });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-txn-"));
});
afterEach(async () => {
  await broker?.close();
  broker = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("producer state across restarts", () => {
  it("still recognises duplicates after a clean restart, and never reuses a producer id", async () => {
    let b = await open();
    await b.createTopic({ name: "t" });
    const p = await initProducer(b);
    await send(b, p, ["a"], 0);
    await send(b, p, ["b", "c"], 1);
    b = await restart();
    expect(await send(b, p, ["b", "c"], 1)).toMatchObject({ baseOffset: 1, lastOffset: 2, duplicate: true });
    expect(await codeOf(send(b, p, ["z"], 9))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
    expect((await initProducer(b)).producerId).toBeGreaterThan(p.producerId);
    expect(await readValues(b, "t", 0)).toEqual(["a", "b", "c"]);
  });

  it("rebuilds the state from the log when the snapshot is missing or stale", async () => {
    let b = await open();
    await b.createTopic({ name: "t" });
    const p = await initProducer(b);
    await send(b, p, ["a"], 0);
    b = await restart();
    let stale: unknown;
    b = await restart((db) => {
      stale = db.query("SELECT * FROM producer_state").get();
    });
    await send(b, p, ["b"], 1);
    await send(b, p, ["c"], 2);
    // Crash-like: the newest snapshot is lost; the one at offset 1 comes back.
    b = await restart((db) => {
      const s = stale as Record<string, unknown>;
      db.run("UPDATE producer_state SET snapshot_offset = ?, producers = ?, aborted = ?", [
        s.snapshot_offset as number,
        s.producers as string,
        s.aborted as string,
      ]);
    });
    expect(await send(b, p, ["b"], 1)).toMatchObject({ baseOffset: 1, duplicate: true });
    expect(await send(b, p, ["c"], 2)).toMatchObject({ baseOffset: 2, duplicate: true });
    // No snapshot at all: replay the whole log.
    b = await restart((db) => db.run("DELETE FROM producer_state"));
    expect(await send(b, p, ["a"], 0)).toMatchObject({ baseOffset: 0, duplicate: true });
    expect(await send(b, p, ["d"], 3)).toMatchObject({ baseOffset: 3 });
    // A snapshot past the log end (lost tail) is ignored.
    b = await restart((db) => db.run("UPDATE producer_state SET snapshot_offset = 99, producers = '[]'"));
    expect(await send(b, p, ["d"], 3)).toMatchObject({ baseOffset: 3, duplicate: true });
  });

  it("keeps open transactions, the LSO and the aborted index across a restart", async () => {
    let b = await open();
    await b.createTopic({ name: "t" });
    const aborter = await initProducer(b, "tx-a");
    await b.addPartitionsToTxn({
      transactionalId: "tx-a",
      ...aborter,
      partitions: [{ topic: "t", partition: 0 }],
    });
    await send(b, aborter, ["gone"], 0, true);
    await b.endTxn({ transactionalId: "tx-a", ...aborter, commit: false });
    const p = await initProducer(b, "tx-b");
    await b.addPartitionsToTxn({ transactionalId: "tx-b", ...p, partitions: [{ topic: "t", partition: 0 }] });
    await send(b, p, ["kept"], 0, true);
    expect(b.partitionState("t", 0).lastStableOffset).toBe(2);

    b = await restart((db) => db.run("DELETE FROM producer_state"));
    expect(b.partitionState("t", 0)).toMatchObject({ lastStableOffset: 2, highWatermark: 3 });
    const f = await b.fetch({
      partitions: [{ topic: "t", partition: 0, offset: 0 }],
      isolation: "read_committed",
    });
    expect(f.partitions[0]!.abortedTransactions).toEqual([
      { producerId: aborter.producerId, firstOffset: 0 },
    ]);
    expect((await b.endTxn({ transactionalId: "tx-b", ...p, commit: true })).error).toBeNull();
    expect(await committedValues(b, "t", 0)).toEqual(["kept"]);
  });

  it("completes a transaction whose commit was decided before the crash", async () => {
    let b = await open();
    await b.createTopic({ name: "t" });
    const p = await initProducer(b, "tx-c");
    await b.addPartitionsToTxn({ transactionalId: "tx-c", ...p, partitions: [{ topic: "t", partition: 0 }] });
    await b.addOffsetsToTxn({ transactionalId: "tx-c", ...p, groupId: "g" });
    await b.txnOffsetCommit({
      transactionalId: "tx-c",
      ...p,
      groupId: "g",
      offsets: [{ topic: "t", partition: 0, offset: 1 }],
    });
    await send(b, p, ["decided"], 0, true);
    b = await restart((db) => db.run("UPDATE transactions SET state = 'PrepareCommit'"));
    expect(b.describeTransactions()[0]!.state).toBe("CompleteCommit");
    expect(await committedValues(b, "t", 0)).toEqual(["decided"]);
    expect(b.partitionState("t", 0).lastStableOffset).toBe(2);
    expect((await b.fetchOffsets("g")).map((o) => o.offset)).toEqual([1]);
  });

  it("aborts a transaction left open on a partition without a coordinator record", async () => {
    let b = await open();
    await b.createTopic({ name: "t" });
    const p = await initProducer(b, "tx-h");
    await b.addPartitionsToTxn({ transactionalId: "tx-h", ...p, partitions: [{ topic: "t", partition: 0 }] });
    await send(b, p, ["hanging"], 0, true);
    b = await restart((db) => db.run("DELETE FROM transactions"));
    expect(b.partitionState("t", 0).lastStableOffset).toBe(2);
    expect(await committedValues(b, "t", 0)).toEqual([]);
  });
});
