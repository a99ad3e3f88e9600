/** Decoding a Fetch partition for the downlink: offsets, control batches, aborted transactions. */
import { describe, expect, it } from "bun:test";
import { decodePartition, type FetchResponsePartitionLike } from "../../bridges/mirror/remote-fetch.ts";

const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;

function batch(o: { first: number; count: number; pid?: bigint; attributes?: number; ts?: number }) {
  return {
    firstOffset: BigInt(o.first),
    lastOffsetDelta: o.count - 1,
    attributes: o.attributes ?? 0,
    producerId: o.pid ?? -1n,
    firstTimestamp: BigInt(o.ts ?? 1000),
    records: Array.from({ length: o.count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: BigInt(i),
      key: null,
      value: Buffer.from(`r${o.first + i}`),
      headers: [] as Array<[Buffer | null, Buffer | null]>,
    })),
  };
}

function partition(
  records: FetchResponsePartitionLike["records"],
  aborted: FetchResponsePartitionLike["abortedTransactions"] = null,
): FetchResponsePartitionLike {
  return {
    partitionIndex: 0,
    errorCode: 0,
    logStartOffset: 0n,
    highWatermark: 100n,
    abortedTransactions: aborted,
    records,
  };
}

const values = (p: ReturnType<typeof decodePartition>) => p.records.map((r) => r.value?.toString());

describe("downlink fetch decoding", () => {
  it("skips records before the fetch offset, keeps offsets and timestamps", () => {
    const p = decodePartition(
      "t",
      3,
      partition([batch({ first: 0, count: 5, ts: 50 }), batch({ first: 5, count: 2 })]),
    );
    expect(values(p)).toEqual(["r3", "r4", "r5", "r6"]);
    expect(p.records.map((r) => [r.offset, r.timestamp])).toEqual([
      [3, 53],
      [4, 54],
      [5, 1000],
      [6, 1001],
    ]);
    expect(p.nextOffset).toBe(7);
  });

  it("moves past control batches (transaction markers) without delivering them", () => {
    const p = decodePartition(
      "t",
      0,
      partition([
        batch({ first: 0, count: 2, pid: 7n, attributes: IS_TRANSACTIONAL }),
        batch({ first: 2, count: 1, pid: 7n, attributes: IS_TRANSACTIONAL | IS_CONTROL }),
      ]),
    );
    expect(values(p)).toEqual(["r0", "r1"]);
    expect(p.nextOffset).toBe(3);
    const onlyMarker = decodePartition(
      "t",
      2,
      partition([batch({ first: 2, count: 1, pid: 7n, attributes: IS_CONTROL })]),
    );
    expect(onlyMarker.records).toEqual([]);
    expect(onlyMarker.nextOffset).toBe(3);
  });

  it("drops an aborted transaction's batches even when its marker is beyond this response", () => {
    const p = decodePartition(
      "t",
      0,
      partition(
        [
          batch({ first: 0, count: 2 }),
          batch({ first: 2, count: 2, pid: 9n, attributes: IS_TRANSACTIONAL }),
          batch({ first: 4, count: 1 }),
        ],
        [{ producerId: 9n, firstOffset: 2n }],
      ),
    );
    expect(values(p)).toEqual(["r0", "r1", "r4"]);
    expect(p.nextOffset).toBe(5);
  });

  it("keeps a producer's committed transaction between two aborted ones", () => {
    const txn = (first: number, count: number) =>
      batch({ first, count, pid: 9n, attributes: IS_TRANSACTIONAL });
    const marker = (first: number) =>
      batch({ first, count: 1, pid: 9n, attributes: IS_TRANSACTIONAL | IS_CONTROL });
    const p = decodePartition(
      "t",
      0,
      partition(
        [txn(0, 2), marker(2), txn(3, 2), marker(5), txn(6, 2), marker(8), batch({ first: 9, count: 1 })],
        [
          { producerId: 9n, firstOffset: 6n },
          { producerId: 9n, firstOffset: 0n },
        ],
      ),
    );
    expect(values(p)).toEqual(["r3", "r4", "r9"]);
    expect(p.nextOffset).toBe(10);
  });
});
