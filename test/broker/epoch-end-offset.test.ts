/** endOffsetForEpoch: Kafka's LeaderEpochFileCache.endOffsetFor semantics (OffsetForLeaderEpoch, KIP-101/279). */
import { describe, expect, it } from "bun:test";
import { endOffsetForEpoch } from "../../src/broker/epochs.ts";

// Epoch 1 from offset 0, epoch 3 from 40, epoch 4 from 90; the log ends at 120.
const CACHE = [
  { epoch: 1, startOffset: 0 },
  { epoch: 3, startOffset: 40 },
  { epoch: 4, startOffset: 90 },
];
const end = (epoch: number) => endOffsetForEpoch(CACHE, epoch, 120);

describe("endOffsetForEpoch", () => {
  it("answers the latest epoch with the log end offset", () => {
    expect(end(4)).toEqual({ leaderEpoch: 4, endOffset: 120 });
  });

  it("answers an older epoch with the next epoch's start offset", () => {
    expect(end(1)).toEqual({ leaderEpoch: 1, endOffset: 40 });
    expect(end(3)).toEqual({ leaderEpoch: 3, endOffset: 90 });
  });

  it("answers an epoch this replica never had with the largest epoch below it", () => {
    expect(end(2)).toEqual({ leaderEpoch: 1, endOffset: 40 });
  });

  it("answers an epoch older than every cached one with itself and the first start offset", () => {
    expect(end(0)).toEqual({ leaderEpoch: 0, endOffset: 0 });
  });

  it("gives -1/-1 for a newer epoch, for -1, and with an empty cache", () => {
    expect(end(5)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    expect(end(-1)).toEqual({ leaderEpoch: -1, endOffset: -1 });
    expect(endOffsetForEpoch([], 0, 10)).toEqual({ leaderEpoch: -1, endOffset: -1 });
  });
});
