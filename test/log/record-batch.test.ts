import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { EddyError } from "../../src/errors.ts";
import {
  BATCH_HEADER_SIZE,
  batchSizeAt,
  checkBatch,
  Compression,
  ControlRecordType,
  controlRecordType,
  decodeBatch,
  decodeRecords,
  encodeBatch,
  encodeEndTxnMarker,
  isControl,
  isLogAppendTime,
  isTransactional,
  iterateBatches,
  readBatchHeader,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  utf8Length,
} from "../../src/log/record-batch.ts";
import type { RecordInput, StoredRecord } from "../../src/log/types.ts";
import { crc32c } from "../../src/util/crc32c.ts";
import { CLIENT_BATCHES } from "./client-batches.ts";
import { recordsArb } from "./record-batch-arbitraries.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
const hex = (s: string) =>
  Uint8Array.from(
    s
      .replace(/\s+/g, "")
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16)),
  );

function expectCorrupt(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EddyError);
    expect((err as EddyError).code).toBe("CORRUPT_RECORD");
    return;
  }
  throw new Error("expected CORRUPT_RECORD");
}

/** What a decoded record must look like, given its input. */
function expected(input: RecordInput, offset: number, now: number): StoredRecord {
  return {
    offset,
    timestamp: input.timestamp ?? now,
    key: input.key ?? null,
    value: input.value,
    headers: (input.headers ?? []).map((h) => ({ key: h.key.toWellFormed(), value: h.value })),
  };
}

describe("record batch: fixed vectors", () => {
  it("decodes a batch written by kafkajs and stored by a Kafka broker (gzip, LogAppendTime)", () => {
    // kafkajs src/protocol/recordBatch/fixtures/v0_recordbatch.json: the broker
    // stamped LogAppendTime and recomputed the CRC-32C.
    const batch = Uint8Array.from([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 113, 0, 0, 0, 0, 2, 228, 195, 36, 165, 0, 9, 0, 0, 0, 0, 0, 0, 1, 115,
      237, 245, 255, 167, 0, 0, 1, 115, 237, 245, 255, 201, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 1, 31, 139, 8, 0, 0, 0, 0, 0, 0, 19, 11, 99, 96, 96, 224, 202, 78, 173, 212, 53, 112,
      40, 75, 204, 41, 77, 213, 53, 208, 53, 50, 48, 50, 208, 53, 176, 208, 53, 52, 9, 49, 52, 183, 50, 52,
      182, 50, 176, 208, 51, 179, 48, 138, 98, 0, 0, 181, 227, 241, 167, 44, 0, 0, 0,
    ]);
    const check = checkBatch(batch);
    expect(check.ok).toBe(true);
    const { header, records } = decodeBatch(batch);
    expect(header).toEqual({
      baseOffset: 0,
      batchLength: 113,
      partitionLeaderEpoch: 0,
      magic: 2,
      crc: 0xe4c324a5,
      attributes: 9,
      lastOffsetDelta: 0,
      baseTimestamp: 1597425188775,
      maxTimestamp: 1597425188809,
      producerId: -1,
      producerEpoch: 0,
      baseSequence: 0,
      recordCount: 1,
    });
    expect(isLogAppendTime(header.attributes)).toBe(true);
    expect(records).toHaveLength(1);
    const r = records[0]!;
    expect(r.offset).toBe(0);
    expect(r.timestamp).toBe(1597425188809); // LogAppendTime: the batch's maxTimestamp
    expect(text(r.key)).toBe("key-0");
    expect(text(r.value)).toBe("value-0-2020-08-14T17:13:08.682Z");
    expect(r.headers).toEqual([]);
  });

  it("decodes batches written by librdkafka and the Java client, with every codec", () => {
    const cases = [
      ["gzip", Compression.GZIP, 1643105170535],
      ["lz4", Compression.LZ4, 1643649156900],
      ["snappy", Compression.SNAPPY, 1643735486034], // raw snappy (librdkafka)
      ["zstd", Compression.ZSTD, 1643889882029],
      ["snappyJava", Compression.SNAPPY, 1645092371121], // xerial framing (Java)
    ] as const;
    for (const [name, codec, ts] of cases) {
      const batch = hex(CLIENT_BATCHES[name]);
      expect(checkBatch(batch).ok).toBe(true);
      const { header, records } = decodeBatch(batch);
      expect(header.attributes & 7).toBe(codec);
      expect(header).toMatchObject({
        producerId: -1,
        producerEpoch: -1,
        baseSequence: -1,
        baseTimestamp: ts,
      });
      const values = name === "snappyJava" ? ["hello kafka", "some value"] : ["hello kafka"];
      expect(records.map((r) => text(r.value))).toEqual(values);
      for (const [i, r] of records.entries()) {
        expect(r.offset).toBe(i);
        expect(r.timestamp).toBe(ts);
        expect(text(r.key)).toBe("x".repeat(100));
        expect(r.headers.map((h) => [h.key, text(h.value)])).toEqual([["foo", "bar"]]);
      }
    }
  });

  it("re-encodes librdkafka's uncompressed batches byte for byte", () => {
    const none = hex(CLIENT_BATCHES.none);
    const decoded = decodeBatch(none).records;
    expect(decoded).toHaveLength(1);
    expect(decoded[0]!.key).toEqual(new Uint8Array(0)); // empty, not null
    expect(decoded[0]!.timestamp).toBe(1641388919);
    const again = encodeBatch(
      decoded.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
      { partitionLeaderEpoch: 0 },
    );
    expect(Buffer.from(again).toString("hex")).toBe(CLIENT_BATCHES.none);

    const nullKey = hex(CLIENT_BATCHES.nullKey);
    const [r] = decodeBatch(nullKey).records;
    expect(r!.key).toBeNull();
    expect(r!.headers.map((h) => h.key)).toEqual(["content-type", "iox-namespace"]);
    expect(text(r!.headers[0]!.value)).toBe(
      'application/x-protobuf; schema="influxdata.iox.write_buffer.v1.WriteBufferPayload"',
    );
    const again2 = encodeBatch(
      [{ key: null, value: r!.value, headers: r!.headers, timestamp: r!.timestamp }],
      {
        partitionLeaderEpoch: 0,
      },
    );
    expect(Buffer.from(again2).toString("hex")).toBe(CLIENT_BATCHES.nullKey);
  });

  it("encodes every field at the offset the protocol docs give", () => {
    const batch = encodeBatch(
      [{ key: utf8("k"), value: utf8("v"), timestamp: 1000, headers: [{ key: "h", value: utf8("x") }] }],
      { baseOffset: 5, producerId: 7, producerEpoch: 3, baseSequence: 9, partitionLeaderEpoch: 2 },
    );
    // record body: attrs 00 | tsDelta 00 | offsetDelta 00 | key len 02 'k' | value len 02 'v'
    // | 1 header (02) | key len 02 'h' | value len 02 'x'  = 12 bytes → length varint 18
    const records = hex("18 00 00 00 02 6b 02 76 02 02 68 02 78");
    const head = hex(`
      0000000000000005  0000003e  00000002  02  00000000
      0000  00000000  00000000000003e8  00000000000003e8
      0000000000000007  0003  00000009  00000001`);
    expect(batch.length).toBe(BATCH_HEADER_SIZE + records.length);
    expect(batch.length - 12).toBe(0x3e);
    const crc = crc32c(batch, 21);
    head.set([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255], 17);
    expect(Buffer.from(batch.subarray(0, 61)).toString("hex")).toBe(Buffer.from(head).toString("hex"));
    expect(Buffer.from(batch.subarray(61)).toString("hex")).toBe(Buffer.from(records).toString("hex"));
  });

  it("writes null key/value as length -1 and negative timestamp deltas as zigzag", () => {
    const batch = encodeBatch([
      { value: null, timestamp: 1000 },
      { value: utf8("a"), timestamp: 999 },
    ]);
    // record 0: 00 | 00 | 00 | 01 (null key) | 01 (null value) | 00 → 6 bytes (0c)
    // record 1: 00 | 01 (delta -1) | 02 (offsetDelta 1) | 01 | 02 'a' | 00 → 7 bytes (0e)
    expect(Buffer.from(batch.subarray(61)).toString("hex")).toBe("0c000000010100" + "0e000102010261" + "00");
    const h = readBatchHeader(batch);
    expect(h.baseTimestamp).toBe(1000);
    expect(h.maxTimestamp).toBe(1000);
    expect(h.lastOffsetDelta).toBe(1);
    expect(decodeBatch(batch).records.map((r) => r.timestamp)).toEqual([1000, 999]);
  });
});

describe("record batch: header helpers", () => {
  const batch = () =>
    encodeBatch(
      [
        { key: utf8("a"), value: utf8("1"), timestamp: 10 },
        { key: null, value: utf8("2"), timestamp: 30 },
        { value: utf8("3") },
      ],
      { baseOffset: 100, now: 20 },
    );

  it("reports sizes and defaults", () => {
    const b = batch();
    expect(batchSizeAt(b)).toBe(b.length);
    const h = readBatchHeader(b);
    expect(h).toMatchObject({
      baseOffset: 100,
      magic: 2,
      attributes: 0,
      lastOffsetDelta: 2,
      baseTimestamp: 10,
      maxTimestamp: 30,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 3,
      partitionLeaderEpoch: -1,
    });
    expect(decodeBatch(b).records.map((r) => [r.offset, r.timestamp])).toEqual([
      [100, 10],
      [101, 30],
      [102, 20],
    ]);
  });

  it("setBaseOffset and setPartitionLeaderEpoch keep the CRC valid (they are outside it)", () => {
    const b = batch();
    setBaseOffset(b, 0, 2 ** 40 + 3);
    setPartitionLeaderEpoch(b, 0, 17);
    const check = checkBatch(b);
    expect(check.ok).toBe(true);
    expect(readBatchHeader(b).partitionLeaderEpoch).toBe(17);
    expect(decodeBatch(b).records.map((r) => r.offset)).toEqual([2 ** 40 + 3, 2 ** 40 + 4, 2 ** 40 + 5]);
  });

  it("setLogAppendTime marks the batch, stamps every record and recomputes the CRC", () => {
    const b = batch();
    const before = readBatchHeader(b).crc;
    setLogAppendTime(b, 0, 5000);
    const h = readBatchHeader(b);
    expect(h.crc).not.toBe(before);
    expect(checkBatch(b).ok).toBe(true);
    expect(isLogAppendTime(h.attributes)).toBe(true);
    expect(h.maxTimestamp).toBe(5000);
    expect(decodeBatch(b).records.map((r) => r.timestamp)).toEqual([5000, 5000, 5000]);
  });

  it("works at a non-zero position inside a larger buffer", () => {
    const b = batch();
    const buf = new Uint8Array(b.length + 10);
    buf.set(b, 7);
    setBaseOffset(buf, 7, 1);
    setLogAppendTime(buf, 7, 9);
    expect(checkBatch(buf, 7, 7 + b.length).ok).toBe(true);
    expect(decodeBatch(buf, 7).records[2]).toMatchObject({ offset: 3, timestamp: 9 });
  });

  it("encodes the attribute bits", () => {
    const b = encodeBatch([{ value: utf8("x"), timestamp: 1 }], {
      transactional: true,
      producerId: 1,
      producerEpoch: 0,
      baseSequence: 0,
      compression: Compression.GZIP,
      logAppendTime: true,
      now: 77,
    });
    const h = readBatchHeader(b);
    expect(h.attributes).toBe(0x10 | 0x08 | 0x01);
    expect(isTransactional(h.attributes)).toBe(true);
    expect(isControl(h.attributes)).toBe(false);
    expect(h.maxTimestamp).toBe(77);
  });

  it("rejects an empty batch", () => {
    expect(() => encodeBatch([])).toThrow(EddyError);
  });
});

describe("record batch: control batches", () => {
  it("encodes a transaction marker that decodeRecords skips", () => {
    const data = encodeBatch([{ value: utf8("in-txn"), timestamp: 1 }], {
      baseOffset: 0,
      transactional: true,
      producerId: 42,
      producerEpoch: 1,
      baseSequence: 0,
    });
    const marker = encodeEndTxnMarker({
      commit: true,
      producerId: 42,
      producerEpoch: 1,
      coordinatorEpoch: 5,
      timestamp: 2,
      baseOffset: 1,
    });
    const h = readBatchHeader(marker);
    expect(isControl(h.attributes)).toBe(true);
    expect(isTransactional(h.attributes)).toBe(true);
    const { records } = decodeBatch(marker);
    expect(controlRecordType(records[0]!.key)).toBe(ControlRecordType.COMMIT);
    expect(Buffer.from(records[0]!.key!).toString("hex")).toBe("00000001");
    expect(Buffer.from(records[0]!.value!).toString("hex")).toBe("000000000005");
    const all = new Uint8Array(data.length + marker.length);
    all.set(data);
    all.set(marker, data.length);
    expect(decodeRecords(all).map((r) => [r.offset, text(r.value)])).toEqual([[0, "in-txn"]]);
    expect(controlRecordType(utf8("ab"))).toBeNull();
  });
});

describe("record batch: corruption", () => {
  const sample = () =>
    encodeBatch(
      [
        { key: utf8("key"), value: utf8("value"), headers: [{ key: "h", value: null }], timestamp: 5 },
        { key: null, value: new Uint8Array(100).fill(7), timestamp: 6 },
      ],
      { baseOffset: 3 },
    );

  it("gives reasons without throwing", () => {
    const b = sample();
    expect(checkBatch(b.subarray(0, 5))).toMatchObject({ ok: false, reason: "short" });
    expect(checkBatch(b, 0, b.length - 1)).toMatchObject({ ok: false, reason: "short" });
    const badMagic = b.slice();
    badMagic[16] = 1;
    expect(checkBatch(badMagic)).toMatchObject({ ok: false, reason: "magic" });
    const badLength = b.slice();
    badLength.set([0, 0, 0, 10], 8);
    expect(checkBatch(badLength)).toMatchObject({ ok: false, reason: "length" });
    const badCrc = b.slice();
    badCrc[b.length - 1]! ^= 1;
    expect(checkBatch(badCrc)).toMatchObject({ ok: false, reason: "crc" });
    expectCorrupt(() => decodeBatch(badCrc));
  });

  it("detects any single flipped byte covered by length, magic or CRC", () => {
    const b = sample();
    for (let i = 8; i < b.length; i++) {
      if (i >= 12 && i < 16) continue; // partitionLeaderEpoch: outside the CRC, as in Kafka
      for (const mask of [0x01, 0x80, 0xff]) {
        const c = b.slice();
        c[i]! ^= mask;
        const check = checkBatch(c);
        expect(check.ok).toBe(false);
        expectCorrupt(() => decodeBatch(c));
      }
    }
  });

  it("detects structurally bad records even when the CRC matches", () => {
    const b = sample();
    // Declare one more record than present, then fix the CRC.
    const more = b.slice();
    more.set([0, 0, 0, 3], 57);
    more.set(u32(crc32c(more, 21)), 17);
    expect(checkBatch(more).ok).toBe(true);
    expectCorrupt(() => decodeBatch(more));
    // Declare one record fewer: bytes are left over.
    const fewer = b.slice();
    fewer.set([0, 0, 0, 1], 57);
    fewer.set(u32(crc32c(fewer, 21)), 17);
    expectCorrupt(() => decodeBatch(fewer));
    // A gzip batch whose compressed bytes are garbage.
    const gz = encodeBatch([{ value: utf8("hello"), timestamp: 1 }], { compression: Compression.GZIP });
    gz.fill(0x55, 61 + 10);
    gz.set(u32(crc32c(gz, 21)), 17);
    expectCorrupt(() => decodeBatch(gz));
  });

  it("reports an unknown codec as UNSUPPORTED_COMPRESSION", () => {
    const b = sample();
    b.set([0, 7], 21);
    b.set(u32(crc32c(b, 21)), 17);
    expect(() => decodeBatch(b)).toThrow(expect.objectContaining({ code: "UNSUPPORTED_COMPRESSION" }));
  });
});

function u32(v: number): number[] {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

const codecs = [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD];

describe("record batch: properties", () => {
  it("encode → decode round-trips random records with every codec", () => {
    fc.assert(
      fc.property(
        recordsArb,
        fc.constantFrom(...codecs),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (records, compression, baseOffset, now) => {
          const withMissing = records.map((r, i) => (i % 3 === 1 ? { ...r, timestamp: undefined } : r));
          const batch = encodeBatch(withMissing, {
            baseOffset,
            now,
            compression,
            producerId: 12,
            producerEpoch: 3,
          });
          const check = checkBatch(batch);
          expect(check.ok).toBe(true);
          const { header, records: out } = decodeBatch(batch);
          expect(header.recordCount).toBe(records.length);
          expect(header.baseOffset + header.lastOffsetDelta).toBe(baseOffset + records.length - 1);
          expect(header.producerId).toBe(12);
          expect(out).toEqual(withMissing.map((r, i) => expected(r, baseOffset + i, now)));
          const ts = out.map((r) => r.timestamp);
          expect(header.maxTimestamp).toBe(Math.max(...ts));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("any truncation is 'short' and throws only CORRUPT_RECORD", () => {
    fc.assert(
      fc.property(
        recordsArb,
        fc.constantFrom(...codecs),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (rs, c, f) => {
          const batch = encodeBatch(rs, { compression: c, now: 1 });
          const cut = Math.floor(f * (batch.length - 1));
          const part = batch.slice(0, cut);
          expect(checkBatch(part)).toMatchObject({ ok: false, reason: "short" });
          expectCorrupt(() => decodeBatch(part));
          expect([...iterateBatches(part)]).toEqual([]);
          expect(decodeRecords(part)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("every flipped byte is detected, and decoding never throws anything but EddyError", () => {
    fc.assert(
      fc.property(
        recordsArb,
        fc.constantFrom(...codecs),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (rs, c, at, mask) => {
          const batch = encodeBatch(rs, { compression: c, now: 1 });
          const i = 16 + (at % (batch.length - 16));
          batch[i]! ^= mask;
          expect(checkBatch(batch).ok).toBe(false);
          expectCorrupt(() => decodeBatch(batch));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("iterateBatches and decodeRecords walk concatenations and ignore a partial tail", () => {
    fc.assert(
      fc.property(
        fc.array(recordsArb, { minLength: 1, maxLength: 5 }),
        fc.nat({ max: 60 }),
        fc.nat(),
        (groups, tailLen, fromPick) => {
          let next = 0;
          const batches = groups.map((rs) => {
            const b = encodeBatch(rs, { baseOffset: next, now: 1 });
            next += rs.length;
            return b;
          });
          const tail = batches[0]!.subarray(0, Math.min(tailLen, batches[0]!.length - 1));
          const total = batches.reduce((n, b) => n + b.length, 0) + tail.length;
          const all = new Uint8Array(total + 3);
          let pos = 3; // start inside the buffer
          const starts: number[] = [];
          for (const b of batches) {
            starts.push(pos);
            all.set(b, pos);
            pos += b.length;
          }
          all.set(tail, pos);
          const seen = [...iterateBatches(all, 3)];
          expect(seen.map((s) => s.pos)).toEqual(starts);
          expect(seen.map((s) => s.size)).toEqual(batches.map((b) => b.length));
          expect(seen.map((s) => s.header.baseOffset)).toEqual(
            starts.map((_, i) => readBatchHeader(batches[i]!).baseOffset),
          );
          const from = fromPick % (next + 1);
          const decoded = decodeRecords(all.subarray(3), from);
          expect(decoded.map((r) => r.offset)).toEqual(
            Array.from({ length: next - from }, (_, i) => from + i),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it("utf8Length agrees with TextEncoder, lone surrogates included", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }),
        fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)) }),
        (a, b) => {
          for (const s of [a, b, a + b]) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
        },
      ),
    );
  });
});
