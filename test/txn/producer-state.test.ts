/** The pure per-partition producer state: sequence wrap-around, aborted index, snapshot round trip. */
import { describe, expect, it } from "bun:test";
import { ErrorCode, EddyError } from "../../src/errors.ts";
import { restoreProducers, serializeProducers } from "../../src/txn/producer-snapshot.ts";
import { addSequence, ProducerStateManager } from "../../src/txn/producer-state.ts";

const INT32_MAX = 2147483647;
const batch = (seq: number, count: number, transactional = false) => ({
  producerId: 7,
  producerEpoch: 0,
  baseSequence: seq,
  lastOffsetDelta: count - 1,
  transactional,
});

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof EddyError ? err.code : "not an EddyError";
  }
}

describe("ProducerStateManager", () => {
  it("wraps sequences past INT32_MAX to 0, as Kafka does", () => {
    expect(addSequence(INT32_MAX, 1)).toBe(0);
    expect(addSequence(INT32_MAX - 1, 3)).toBe(1);
    const s = new ProducerStateManager("t-0");
    s.onData(batch(INT32_MAX - 1, 2), 0, 0);
    expect(s.check(batch(0, 1))).toEqual({ duplicate: false });
    expect(codeOf(() => s.check(batch(1, 1)))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE);
    expect(s.check(batch(INT32_MAX - 1, 2))).toEqual({ duplicate: true, baseOffset: 0, lastOffset: 1 });
  });

  it("tracks open transactions, the first unstable offset and aborted ranges", () => {
    const s = new ProducerStateManager("t-0");
    s.onData(batch(0, 2, true), 10, 0);
    s.onData({ ...batch(0, 1, true), producerId: 8 }, 12, 0);
    expect(s.firstUnstableOffset()).toBe(10);
    expect(codeOf(() => s.check(batch(2, 1)))).toBe(ErrorCode.INVALID_TXN_STATE);
    s.onMarker({ producerId: 7, producerEpoch: 0, commit: false, offset: 13, timestamp: 0 });
    expect(s.firstUnstableOffset()).toBe(12);
    s.onMarker({ producerId: 8, producerEpoch: 0, commit: true, offset: 14, timestamp: 0 });
    expect(s.firstUnstableOffset()).toBeNull();
    expect(s.aborted).toEqual([{ producerId: 7, firstOffset: 10, lastOffset: 13 }]);
    expect(s.abortedBetween(0, 10)).toEqual([]);
    expect(s.abortedBetween(13, 20)).toHaveLength(1);
    expect(s.abortedBetween(14, 20)).toEqual([]);
    expect(s.isAborted(7, 11)).toBe(true);
    expect(s.isAborted(8, 12)).toBe(false);
    s.prune(14, -1);
    expect(s.aborted).toEqual([]);
  });

  it("round-trips through a snapshot and refuses a malformed one", () => {
    const s = new ProducerStateManager("t-0");
    s.onData(batch(0, 3), 0, 5);
    s.onData(batch(3, 1, true), 3, 6);
    const json = serializeProducers(s);
    const r = new ProducerStateManager("t-0");
    restoreProducers(r, json.producers, json.aborted);
    expect(r.producers.get(7)).toEqual(s.producers.get(7)!);
    expect(r.firstUnstableOffset()).toBe(3);
    expect(r.check(batch(0, 3))).toEqual({ duplicate: true, baseOffset: 0, lastOffset: 2 });
    expect(codeOf(() => restoreProducers(r, '[[1,"x",0,0,[]]]', "[]"))).toBe(ErrorCode.STORAGE_ERROR);
    expect(codeOf(() => restoreProducers(r, "[]", "{}"))).toBe(ErrorCode.STORAGE_ERROR);
  });
});

describe("ProducerStateManager.bumpEpoch (KIP-360)", () => {
  it("moves a known producer to the new epoch at sequence 0, survives a snapshot, ignores unknown ids", () => {
    const s = new ProducerStateManager("t-0");
    s.onData(batch(0, 3), 0, 0);
    expect(s.bumpEpoch(7, 1)).toBe(true);
    expect(s.bumpEpoch(7, 1)).toBe(false);
    expect(s.bumpEpoch(8, 1)).toBe(false);
    const restored = new ProducerStateManager("t-0");
    const json = serializeProducers(s);
    restoreProducers(restored, json.producers, json.aborted);
    for (const st of [s, restored]) {
      expect(codeOf(() => st.check(batch(3, 1)))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
      expect(codeOf(() => st.check({ ...batch(1, 1), producerEpoch: 1 }))).toBe(
        ErrorCode.OUT_OF_ORDER_SEQUENCE,
      );
      expect(st.check({ ...batch(0, 1), producerEpoch: 1 })).toEqual({ duplicate: false });
    }
  });
});
