/**
 * OffsetForLeaderEpoch (v0-4), ListOffsets v0 (old-style offsets),
 * DescribeProducers, DescribeTransactions and ListTransactions over raw
 * frames against the in-process listener, decoded with the generated
 * decoders; the log line for a refused API key; Metadata by topic id before
 * v12 (found by the binary fuzz test: it used to close the connection).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { encodeBatch } from "../../src/broker/index.ts";
import {
  ApiVersions,
  DescribeProducers,
  Metadata,
  DescribeTransactions,
  ListOffsets,
  ListTransactions,
  OffsetForLeaderEpoch,
  Produce,
} from "../../src/kafka/generated/index.ts";
import type { ListOffsetsRequest } from "../../src/kafka/generated/list-offsets-request.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { type KafkaHarness, createKafkaHarness, type RawClient } from "./server-harness.ts";
import { batchOf, metadataBody, produceBody } from "./server-requests.ts";

const logLines: Array<Record<string, unknown>> = [];
let h: KafkaHarness;
let c: RawClient;
const te = new TextEncoder();

beforeAll(async () => {
  h = await createKafkaHarness({
    logger: createLogger({ level: "warn", write: (line) => logLines.push(JSON.parse(line)) }),
  });
  c = await h.connect();
  await h.broker.createTopic({ name: "t", partitions: 2 });
  for (let i = 0; i < 3; i++) {
    const res = await c.request(Produce, 9, produceBody("t", batchOf([`a${i}`, `b${i}`])));
    expect(res.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
  }
});
afterAll(async () => {
  await h.close();
});

function epochRequest(
  topic: string,
  partitions: Array<{ partition: number; leaderEpoch: number; currentLeaderEpoch?: number }>,
) {
  return {
    replicaId: -1,
    topics: [
      {
        topic,
        partitions: partitions.map((p) => ({ currentLeaderEpoch: -1, ...p })),
      },
    ],
  };
}

describe("OffsetForLeaderEpoch", () => {
  it("answers the current epoch with the log end offset at every version", async () => {
    for (let v = 0; v <= 4; v++) {
      const res = await c.request(
        OffsetForLeaderEpoch,
        v,
        epochRequest("t", [
          { partition: 0, leaderEpoch: 0 },
          { partition: 1, leaderEpoch: 0 },
        ]),
      );
      expect(res.topics[0]!.partitions).toEqual([
        { errorCode: 0, partition: 0, leaderEpoch: v >= 1 ? 0 : -1, endOffset: 6 },
        { errorCode: 0, partition: 1, leaderEpoch: v >= 1 ? 0 : -1, endOffset: 0 },
      ]);
    }
  });

  it("gives -1/-1 for an epoch newer than any known, and fences by current_leader_epoch", async () => {
    const res = await c.request(
      OffsetForLeaderEpoch,
      4,
      epochRequest("t", [
        { partition: 0, leaderEpoch: 7 },
        { partition: 0, leaderEpoch: 0, currentLeaderEpoch: 3 },
        { partition: 0, leaderEpoch: 0, currentLeaderEpoch: 0 },
        { partition: 5, leaderEpoch: 0 },
      ]),
    );
    expect(res.topics[0]!.partitions.map((p) => [p.errorCode, p.leaderEpoch, p.endOffset])).toEqual([
      [0, -1, -1],
      [75, -1, -1], // UNKNOWN_LEADER_EPOCH: the client knows a newer leader than we are
      [0, 0, 6],
      [3, -1, -1], // UNKNOWN_TOPIC_OR_PARTITION
    ]);
    const unknown = await c.request(
      OffsetForLeaderEpoch,
      3,
      epochRequest("nope", [{ partition: 0, leaderEpoch: 0 }]),
    );
    expect(unknown.topics[0]!.partitions[0]!.errorCode).toBe(3);
  });
});

describe("ListOffsets v0", () => {
  const request = (timestamp: number, maxNumOffsets: number, partitionIndex = 0): ListOffsetsRequest => ({
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 0,
    topics: [
      {
        name: "t",
        partitions: [{ partitionIndex, currentLeaderEpoch: -1, timestamp, maxNumOffsets }],
      },
    ],
  });
  const offsets = async (timestamp: number, maxNumOffsets: number, partitionIndex = 0) => {
    const res = await c.request(ListOffsets, 0, request(timestamp, maxNumOffsets, partitionIndex));
    const p = res.topics[0]!.partitions[0]!;
    expect(p.errorCode).toBe(0);
    return p.oldStyleOffsets;
  };

  it("is advertised from v0", async () => {
    const res = await c.request(ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" });
    expect(res.apiKeys.find((k) => k.apiKey === ListOffsets.apiKey)).toMatchObject({
      minVersion: 0,
      maxVersion: 7,
    });
    for (const api of [OffsetForLeaderEpoch, DescribeProducers, DescribeTransactions, ListTransactions]) {
      expect(res.apiKeys.find((k) => k.apiKey === api.apiKey)).toMatchObject({
        minVersion: 0,
        maxVersion: api.maxVersion,
      });
    }
  });

  it("answers latest and earliest as old-style offset arrays capped by max_num_offsets", async () => {
    expect(await offsets(-1, 10)).toEqual([6, 0]);
    expect(await offsets(-1, 1)).toEqual([6]);
    expect(await offsets(-2, 10)).toEqual([0]);
    expect(await offsets(-1, 10, 1)).toEqual([0]); // an empty partition: start = end
    expect(await offsets(0, 1)).toEqual([0]); // every record is newer than t = 0
    expect(await offsets(Date.now() + 3_600_000, 1)).toEqual([6]); // none that new: the end
    const bad = await c.request(ListOffsets, 0, request(-7, 1));
    expect(bad.topics[0]!.partitions[0]!.errorCode).toBe(42);
  });
});

describe("DescribeProducers, DescribeTransactions, ListTransactions", () => {
  it("show idempotent and transactional producers and the coordinator's transactions", async () => {
    await h.broker.createTopic({ name: "tx", partitions: 1 });
    const idem = await h.broker.initProducerId({ transactionalId: null, transactionTimeoutMs: 60_000 });
    const batch = (
      values: string[],
      producer: { producerId: number; producerEpoch: number },
      seq: number,
      transactional = false,
    ) =>
      encodeBatch(
        values.map((v) => ({ key: null, value: te.encode(v) })),
        { now: Date.now(), ...producer, baseSequence: seq, transactional },
      );
    const first = await c.request(Produce, 9, produceBody("tx", batch(["i0", "i1", "i2"], idem, 0)));
    expect(first.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);

    const txn = await h.broker.initProducerId({ transactionalId: "tx-1", transactionTimeoutMs: 30_000 });
    expect(txn.error).toBeNull();
    const added = await h.broker.addPartitionsToTxn({
      transactionalId: "tx-1",
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      partitions: [{ topic: "tx", partition: 0 }],
    });
    expect(added.partitions.every((p) => p.error === null)).toBe(true);
    const inTxn = await c.request(Produce, 9, {
      ...produceBody("tx", batch(["t0", "t1"], txn, 0, true)),
      transactionalId: "tx-1",
    });
    expect(inTxn.responses[0]!.partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 3 });
    await h.broker.initProducerId({ transactionalId: "tx-idle", transactionTimeoutMs: 30_000 });

    const producers = await c.request(DescribeProducers, 0, {
      topics: [
        { name: "tx", partitionIndexes: [0] },
        { name: "missing", partitionIndexes: [0] },
      ],
    });
    const active = producers.topics[0]!.partitions[0]!;
    expect(active.errorCode).toBe(0);
    expect(active.activeProducers.sort((a, b) => a.producerId - b.producerId)).toEqual(
      [
        {
          producerId: idem.producerId,
          producerEpoch: idem.producerEpoch,
          lastSequence: 2,
          lastTimestamp: expect.any(Number),
          coordinatorEpoch: -1,
          currentTxnStartOffset: -1,
        },
        {
          producerId: txn.producerId,
          producerEpoch: txn.producerEpoch,
          lastSequence: 1,
          lastTimestamp: expect.any(Number),
          coordinatorEpoch: -1,
          currentTxnStartOffset: 3,
        },
      ].sort((a, b) => a.producerId - b.producerId),
    );
    expect(producers.topics[1]!.partitions[0]!.errorCode).toBe(3);
    expect(producers.topics[1]!.partitions[0]!.errorMessage).toContain("missing");

    const described = await c.request(DescribeTransactions, 0, {
      transactionalIds: ["tx-1", "tx-idle", "nope"],
    });
    const [ongoing, idle, nope] = described.transactionStates;
    expect(ongoing).toMatchObject({
      errorCode: 0,
      transactionalId: "tx-1",
      transactionState: "Ongoing",
      transactionTimeoutMs: 30_000,
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      topics: [{ topic: "tx", partitions: [0] }],
    });
    expect(ongoing!.transactionStartTimeMs).toBeGreaterThan(0);
    expect(idle).toMatchObject({
      errorCode: 0,
      transactionState: "Empty",
      transactionStartTimeMs: -1,
      topics: [],
    });
    expect(nope).toMatchObject({ errorCode: 105, transactionalId: "nope" }); // TRANSACTIONAL_ID_NOT_FOUND

    const list = async (
      v: number,
      filters: { states?: string[]; producerIds?: number[]; durationMs?: number },
    ) => {
      const res = await c.request(ListTransactions, v, {
        stateFilters: filters.states ?? [],
        producerIdFilters: filters.producerIds ?? [],
        durationFilter: filters.durationMs ?? -1,
      });
      expect(res.errorCode).toBe(0);
      return {
        ids: res.transactionStates.map((t) => `${t.transactionalId}:${t.transactionState}`).sort(),
        unknown: res.unknownStateFilters,
      };
    };
    expect(await list(0, {})).toEqual({ ids: ["tx-1:Ongoing", "tx-idle:Empty"], unknown: [] });
    expect(await list(0, { states: ["Ongoing", "Bogus"] })).toEqual({
      ids: ["tx-1:Ongoing"],
      unknown: ["Bogus"],
    });
    expect(await list(1, { producerIds: [txn.producerId] })).toEqual({ ids: ["tx-1:Ongoing"], unknown: [] });
    expect(await list(1, { states: ["Ongoing"], durationMs: 3_600_000 })).toEqual({ ids: [], unknown: [] });
    expect(await list(1, { states: ["Ongoing"], durationMs: 0 })).toEqual({
      ids: ["tx-1:Ongoing"],
      unknown: [],
    });

    // Committed: the transaction leaves Ongoing and the producer's open transaction ends.
    const ended = await h.broker.endTxn({
      transactionalId: "tx-1",
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      commit: true,
    });
    expect(ended.error).toBeNull();
    expect(await list(1, { states: ["Ongoing"] })).toEqual({ ids: [], unknown: [] });
    const after = await c.request(DescribeProducers, 0, { topics: [{ name: "tx", partitionIndexes: [0] }] });
    const tp = after.topics[0]!.partitions[0]!.activeProducers.find((p) => p.producerId === txn.producerId);
    expect(tp?.currentTxnStartOffset).toBe(-1);
  });
});

describe("refused API keys", () => {
  it("close the connection with a log line naming the key and version", async () => {
    for (const [apiKey, apiVersion, name] of [
      [57, 1, "UpdateFeatures"],
      [1234, 3, "unknown to Kafka"],
    ] as const) {
      const raw = await h.connect();
      const frame = new Uint8Array(4 + 11); // header v2 (no tagged fields) for the flexible UpdateFeatures v1
      const view = new DataView(frame.buffer);
      view.setInt32(0, 11);
      view.setInt16(4, apiKey);
      view.setInt16(6, apiVersion);
      view.setInt32(8, 99);
      view.setInt16(12, -1); // null client id
      await raw.writeRaw(frame);
      expect(await raw.waitClosed()).toBe(true);
      const line = logLines.find((l) => l.apiKey === apiKey);
      expect(line).toMatchObject({ level: "warn", apiKey, apiVersion });
      expect(String(line?.msg)).toContain("unsupported API key");
      expect(String(line?.error)).toContain(`API key ${apiKey} (${name}) v${apiVersion}`);
    }
  });
});

describe("Metadata by topic id", () => {
  it("is INVALID_REQUEST per topic before v12 and looked up from v12", async () => {
    const id = (await c.request(Metadata, 12, { ...metadataBody(["t"], false) })).topics[0]!.topicId;
    const byId = (v: number) =>
      c.request(Metadata, v, {
        ...metadataBody(null, false),
        topics: [
          { topicId: id, name: null },
          { topicId: "AAAAAAAAAAAAAAAAAAAAAQ", name: null },
        ],
      });
    for (const v of [10, 11]) {
      expect((await byId(v)).topics.map((t) => [t.errorCode, t.name])).toEqual([
        [42, ""],
        [42, ""],
      ]);
    }
    expect((await byId(12)).topics.map((t) => [t.errorCode, t.name])).toEqual([
      [0, "t"],
      [100, null], // UNKNOWN_TOPIC_ID
    ]);
  });
});
