import { describe, expect, it } from "bun:test";
import { ErrorCode, isEddyError } from "../../src/errors.ts";
import {
  buildOffsetMap,
  compactBatch,
  compactBatches,
  type CompactOptions,
  offsetMapKey,
} from "../../src/log/compaction.ts";
import {
  BatchField,
  checkBatch,
  Compression,
  compressionOf,
  decodeBatch,
  encodeBatch,
  encodeEndTxnMarker,
  isLogAppendTime,
  readBatchHeader,
  setAttributes,
} from "../../src/log/record-batch.ts";
import type { RecordInput } from "../../src/log/types.ts";

const T0 = 1_700_000_000_000;
const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string): Uint8Array => enc.encode(s);

type R = [key: string | null, value: string | null, ts?: number];

function recs(rs: R[]): RecordInput[] {
  return rs.map(([k, v, ts]) => ({
    key: k === null ? null : b(k),
    value: v === null ? null : b(v),
    timestamp: ts ?? T0,
    headers: [{ key: "h", value: b(`hdr-${v}`) }],
  }));
}

function batch(baseOffset: number, rs: R[], opts: Parameters<typeof encodeBatch>[1] = {}): Uint8Array {
  return encodeBatch(recs(rs), { baseOffset, now: T0, ...opts });
}

/** [offset, key, value, timestamp] of each record. */
function contents(buf: Uint8Array) {
  return decodeBatch(buf).records.map((r) => [
    r.offset,
    r.key === null ? null : dec.decode(r.key),
    r.value === null ? null : dec.decode(r.value),
    r.timestamp,
  ]);
}

const opts: CompactOptions = { now: T0 + 1000, deleteRetentionMs: 60_000 };

describe("offsetMapKey", () => {
  it("is injective over bytes", () => {
    const keys = [
      new Uint8Array([]),
      new Uint8Array([0]),
      new Uint8Array([0, 0]),
      b("é"),
      new Uint8Array([0xe9]),
    ];
    keys.push(new Uint8Array([0xc3, 0xa9, 0xff, 0x80]), new Uint8Array([0xc3, 0xa9, 0xff, 0x81]));
    const strings = new Set(keys.map(offsetMapKey));
    expect(strings.size).toBe(keys.length);
    expect(offsetMapKey(b("k1"))).toBe("k1");
    const big = new Uint8Array(70_000).fill(7);
    expect(offsetMapKey(big.subarray(10, 20))).toBe("\x07".repeat(10));
  });
});

describe("buildOffsetMap", () => {
  it("maps each key to its latest offset, ignoring null keys", () => {
    const map = buildOffsetMap([
      batch(0, [
        ["a", "1"],
        ["b", "2"],
        [null, "3"],
      ]),
      batch(3, [
        ["a", "4"],
        ["c", null],
      ]),
    ]);
    expect([...map.entries()].sort()).toEqual([
      ["a", 3],
      ["b", 1],
      ["c", 4],
    ]);
  });

  it("walks concatenated batches, compressed ones, and honours endOffset and into", () => {
    const one = batch(0, [["a", "1"]]);
    const two = batch(
      1,
      [
        ["a", "2"],
        ["b", "3"],
      ],
      { compression: Compression.GZIP },
    );
    const joined = new Uint8Array(one.length + two.length);
    joined.set(one);
    joined.set(two, one.length);
    expect(Object.fromEntries(buildOffsetMap([joined]))).toEqual({ a: 1, b: 2 });
    expect(Object.fromEntries(buildOffsetMap([joined], { endOffset: 2 }))).toEqual({ a: 1 });
    const map = buildOffsetMap([one]);
    const same = buildOffsetMap([batch(5, [["z", "1"]])], { into: map });
    expect(same).toBe(map);
    expect(Object.fromEntries(map)).toEqual({ a: 0, z: 5 });
  });

  it("ignores control and transactional batches", () => {
    const marker = encodeEndTxnMarker({
      commit: true,
      producerId: 1,
      producerEpoch: 0,
      coordinatorEpoch: 0,
      timestamp: T0,
      baseOffset: 9,
    });
    const txn = batch(5, [["a", "x"]], {
      transactional: true,
      producerId: 1,
      producerEpoch: 0,
      baseSequence: 0,
    });
    const map = buildOffsetMap([batch(0, [["a", "1"]]), txn, marker]);
    expect(Object.fromEntries(map)).toEqual({ a: 0 });
  });
});

describe("compactBatch", () => {
  it("returns the same batch when nothing goes, null when everything goes", () => {
    const a = batch(0, [
      ["a", "1"],
      ["b", "2"],
    ]);
    const map = buildOffsetMap([a]);
    expect(compactBatch(a, map, opts)).toBe(a);
    map.set("a", 10);
    map.set("b", 11);
    expect(compactBatch(a, map, opts)).toBeNull();
  });

  it("keeps the latest per key with original offsets, header fields and a valid CRC", () => {
    const src = batch(
      100,
      [
        ["a", "1", T0 + 1],
        ["b", "2", T0 + 9],
        [null, "3", T0 + 2],
        ["a", "4", T0 + 3],
        ["c", "5", T0 + 4],
      ],
      { producerId: 77, producerEpoch: 3, baseSequence: 40, partitionLeaderEpoch: 5 },
    );
    const map = buildOffsetMap([src, batch(200, [["b", "later"]])]);
    const out = compactBatch(src, map, opts);
    expect(out).not.toBeNull();
    const check = checkBatch(out!, 0, out!.length);
    expect(check.ok).toBe(true);
    expect(out!.length).toBe(readBatchHeader(out!).batchLength + 12);
    const before = readBatchHeader(src);
    const after = readBatchHeader(out!);
    expect(after).toMatchObject({
      baseOffset: 100,
      lastOffsetDelta: 4,
      baseTimestamp: before.baseTimestamp,
      maxTimestamp: T0 + 4,
      producerId: 77,
      producerEpoch: 3,
      baseSequence: 40,
      partitionLeaderEpoch: 5,
      attributes: before.attributes,
      recordCount: 3,
    });
    expect(contents(out!)).toEqual([
      [102, null, "3", T0 + 2],
      [103, "a", "4", T0 + 3],
      [104, "c", "5", T0 + 4],
    ]);
    expect(decodeBatch(out!).records.map((r) => dec.decode(r.headers[0]!.value!))).toEqual([
      "hdr-3",
      "hdr-4",
      "hdr-5",
    ]);
  });

  for (const [name, codec] of [
    ["gzip", Compression.GZIP],
    ["snappy", Compression.SNAPPY],
    ["lz4", Compression.LZ4],
    ["zstd", Compression.ZSTD],
  ] as const) {
    it(`keeps ${name} compression`, () => {
      const rs: R[] = [];
      for (let i = 0; i < 50; i++) rs.push([`k${i % 5}`, `value-${i}`.repeat(3)]);
      const src = batch(0, rs, { compression: codec });
      const out = compactBatch(src, buildOffsetMap([src]), opts)!;
      expect(checkBatch(out).ok).toBe(true);
      expect(compressionOf(readBatchHeader(out).attributes)).toBe(codec);
      expect(contents(out).map((r) => r[0])).toEqual([45, 46, 47, 48, 49]);
      expect(readBatchHeader(out).lastOffsetDelta).toBe(49);
    });
  }

  it("keeps a batch in a codec it cannot decompress", () => {
    const src = batch(0, [
      ["a", "1"],
      ["a", "2"],
    ]);
    setAttributes(src, 0, 6);
    const map = new Map([["a", 1]]);
    expect(compactBatch(src, map, opts)).toBe(src);
    expect(buildOffsetMap([src]).size).toBe(0);
  });

  it("keeps tombstones until deleteRetentionMs, drops superseded ones at once", () => {
    const src = batch(0, [
      ["a", null, T0],
      ["b", "1", T0],
      ["b", null, T0],
      ["c", null, T0],
    ]);
    const map = new Map([
      ["a", 5],
      ["b", 2],
    ]);
    const fresh = { now: T0 + 60_000, deleteRetentionMs: 60_000 };
    expect(contents(compactBatch(src, map, fresh)!).map((r) => r[0])).toEqual([2, 3]);
    const old = { now: T0 + 60_001, deleteRetentionMs: 60_000 };
    expect(contents(compactBatch(src, map, old)!).map((r) => r[0])).toEqual([3]);
    map.set("c", 3);
    expect(compactBatch(src, map, old)).toBeNull();
  });

  it("keeps a tombstone beyond the map's range (an older value may still be kept)", () => {
    const src = batch(10, [["a", null, T0]]);
    const map = new Map([["a", 4]]);
    expect(compactBatch(src, map, { now: T0 + 1e9, deleteRetentionMs: 0 })).toBe(src);
  });

  it("keeps records newer than minCompactionLagMs", () => {
    const src = batch(0, [
      ["a", "1", T0],
      ["a", "2", T0 + 500],
      ["a", "3", T0 + 900],
    ]);
    const map = buildOffsetMap([src]);
    const lag = { now: T0 + 1000, deleteRetentionMs: 0, minCompactionLagMs: 600 };
    expect(contents(compactBatch(src, map, lag)!).map((r) => r[0])).toEqual([1, 2]);
    expect(compactBatch(src, map, { ...lag, minCompactionLagMs: 1001 })).toBe(src);
  });

  it("uses the LogAppendTime and keeps it as maxTimestamp", () => {
    const src = batch(
      0,
      [
        ["a", "1", T0 - 1e9],
        ["a", null, T0 - 1e9],
        ["b", "2", T0 - 1e9],
      ],
      { logAppendTime: true, now: T0 },
    );
    const map = buildOffsetMap([src]);
    const out = compactBatch(src, map, { now: T0 + 10, deleteRetentionMs: 100 })!;
    expect(isLogAppendTime(readBatchHeader(out).attributes)).toBe(true);
    expect(readBatchHeader(out).maxTimestamp).toBe(T0);
    expect(contents(out).map((r) => [r[0], r[3]])).toEqual([
      [1, T0],
      [2, T0],
    ]);
    const later = compactBatch(src, map, { now: T0 + 101, deleteRetentionMs: 100 })!;
    expect(contents(later).map((r) => r[0])).toEqual([2]);
  });

  it("leaves control and transactional batches alone", () => {
    const marker = encodeEndTxnMarker({
      commit: false,
      producerId: 1,
      producerEpoch: 0,
      coordinatorEpoch: 2,
      timestamp: T0,
    });
    const txn = batch(
      0,
      [
        ["a", "1"],
        ["a", "2"],
      ],
      { transactional: true, producerId: 1, producerEpoch: 0, baseSequence: 0 },
    );
    const map = new Map([["a", 99]]);
    const far = { now: T0 + 1e12, deleteRetentionMs: 0 };
    expect(compactBatch(marker, map, far)).toBe(marker);
    expect(compactBatch(txn, map, far)).toBe(txn);
  });

  it("throws CORRUPT_RECORD on malformed records", () => {
    const src = batch(0, [
      ["a", "1"],
      ["a", "2"],
    ]);
    const broken = src.slice();
    new DataView(broken.buffer).setInt32(BatchField.RECORD_COUNT, 5);
    let err: unknown;
    try {
      compactBatch(broken, new Map([["a", 1]]), opts);
    } catch (e) {
      err = e;
    }
    expect(isEddyError(err) && err.code).toBe(ErrorCode.CORRUPT_RECORD);
  });
});

describe("compactBatches", () => {
  it("counts removed records and bytes", () => {
    const b1 = batch(0, [
      ["a", "1"],
      ["b", "1"],
    ]);
    const b2 = batch(2, [["a", "2"]]);
    const b3 = batch(3, [
      ["b", "2"],
      ["c", "1"],
    ]);
    const map = buildOffsetMap([b1, b2, b3]);
    const res = compactBatches([b1, b2, b3], map, opts);
    expect(res.removedRecords).toBe(2);
    expect(res.batches.length).toBe(2);
    expect(res.batches[0]).toBe(b2);
    expect(res.batches[1]).toBe(b3);
    expect(res.bytesBefore).toBe(b1.length + b2.length + b3.length);
    expect(res.bytesAfter).toBe(b2.length + b3.length);
  });

  it("matches a model on random data: exactly the latest record per key survives", () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 30; round++) {
      const batches: Uint8Array[] = [];
      const all: Array<[number, string | null, string | null]> = [];
      let offset = 0;
      const nBatches = 1 + rand(6);
      for (let i = 0; i < nBatches; i++) {
        const rs: R[] = [];
        const n = 1 + rand(8);
        for (let j = 0; j < n; j++) {
          const key = rand(10) === 0 ? null : `key-${rand(6)}`;
          const value = rand(5) === 0 ? null : `v${offset + j}`;
          rs.push([key, value, T0 + offset + j]);
          all.push([offset + j, key, value]);
        }
        const codec = [Compression.NONE, Compression.GZIP, Compression.ZSTD][rand(3)]!;
        batches.push(batch(offset, rs, { compression: codec }));
        offset += n;
      }
      const latest = new Map<string, number>();
      for (const [o, k] of all) if (k !== null) latest.set(k, o);
      const expected = all.filter(([o, k]) => k === null || latest.get(k) === o);
      const res = compactBatches(batches, buildOffsetMap(batches), { now: T0 + 1e6, deleteRetentionMs: 1e9 });
      const got = res.batches.flatMap((x) => contents(x).map((r) => [r[0], r[1], r[2]]));
      expect(got).toEqual(expected);
      expect(res.removedRecords).toBe(all.length - expected.length);
      for (const x of res.batches) expect(checkBatch(x).ok).toBe(true);
    }
  });
});
