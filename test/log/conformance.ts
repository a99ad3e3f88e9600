/**
 * ONE conformance suite for PartitionLog / LogStore implementations (the file
 * log and its in-memory twin must both pass it; aedes-persistence `abstract.js`
 * style). It relies only on src/log/types.ts and the RecordBatch codec.
 *
 * Usage (in a *.test.ts file):
 *   runLogConformance("memory", async (clock) => ({ store: createMemoryLogStore({ clock }), cleanup: async () => {} }));
 * `reopen` is given only by persistent stores; the suite then also closes the
 * whole store and reopens it to check that data, log start offset, offsets,
 * segments and compaction results survive a restart. Without it, "reopen"
 * closes the log and opens it again through the same store.
 *
 * The semantics pinned down here (where types.ts leaves room), all as in Kafka:
 * - Roll: before an append, the non-empty active segment is rolled if
 *   size + batch > segmentBytes, or if batch.maxTimestamp - (first batch's
 *   maxTimestamp) > segmentMs. A fresh log has one empty segment.
 * - append: the whole buffer must be exactly one valid batch; trailing bytes,
 *   short input, bad length or CRC -> CORRUPT_RECORD; magic != 2 ->
 *   UNSUPPORTED_FORMAT; size > maxMessageBytes -> BATCH_TOO_LARGE. The log
 *   keeps its own copy of the bytes.
 * - read(offset): OFFSET_OUT_OF_RANGE if offset < logStart or > logEnd;
 *   offset == logEnd -> empty. Starts at the first batch whose lastOffset >=
 *   offset, continues across segments, adds whole batches while the total
 *   stays <= maxBytes (the first one always, unless minOneBatch is false),
 *   and stops before the first batch whose lastOffset >= maxOffset.
 * - offsetForTimestamp: lowest offset >= logStart whose record timestamp >= ts
 *   (LogAppendTime batches: the batch's maxTimestamp). maxTimestamp: the
 *   largest visible record timestamp and the first offset carrying it.
 * - deleteRecordsBefore(o): o > logEnd -> OFFSET_OUT_OF_RANGE; never moves
 *   back; sealed segments wholly below the new start are deleted at once.
 * - truncateTo(o): o >= logEnd: nothing. logStart < o < logEnd: removes every
 *   batch with lastOffset >= o (o is normally a batch boundary; a batch cut in
 *   the middle goes whole), deletes segments whose baseOffset > o (the one
 *   holding o becomes the active segment, possibly empty), logEnd = o.
 *   o <= logStart: the log becomes one empty segment, logStart = logEnd = o.
 * - applyRetention(now): sealed segments only, oldest first, stopping at the
 *   first one kept. Time (policy includes delete, retentionMs >= 0): delete if
 *   now - newest timestamp > retentionMs and the segment holds no offset >=
 *   the retention floor. Bytes (retentionBytes >= 0, ignores the floor):
 *   delete the oldest while size - segment.size >= retentionBytes (Kafka's
 *   rule: never drops below retentionBytes). Always: sealed segments wholly
 *   below logStart. logStart becomes at least the first remaining base offset.
 * - compact(now): policy includes compact; only sealed segments; the offset
 *   map is built from sealed segments only (a record superseded only by one in
 *   the active segment stays); offsets, logStart and logEnd are unchanged;
 *   sizeBytes drops by bytesBefore - bytesAfter (the bytes of the sealed
 *   segments before and after; equal when the policy has no compact); the
 *   segment count survives a reopen. A policy without delete still removes
 *   sealed segments below logStart in applyRetention.
 * - assignOffsets=false with baseOffset < logEnd: an EddyError, log unchanged
 *   (the code is not pinned; both logs use INVALID_REQUEST). A baseOffset past
 *   the log end is a gap (a compacted leader's batches, replicated), accepted;
 *   the batch is stored as it is (test/log/follower-append.test.ts).
 * - The memory log also rejects recordCount < 1 or lastOffsetDelta <
 *   recordCount - 1 with CORRUPT_RECORD (not pinned here).
 */
import { afterEach, beforeEach, describe } from "bun:test";
import { ManualClock } from "../../src/util/clock.ts";
import { appendTests } from "./conformance-append.ts";
import { Harness, type MakeStore } from "./conformance-helpers.ts";
import { maintenanceTests } from "./conformance-maintenance.ts";
import { readTests } from "./conformance-read.ts";
import { compactionTests, storeTests } from "./conformance-store.ts";

export type { MakeStore } from "./conformance-helpers.ts";

export function runLogConformance(name: string, makeStore: MakeStore): void {
  describe(`PartitionLog conformance: ${name}`, () => {
    let harness: Harness | undefined;
    const h = (): Harness => {
      if (!harness) throw new Error("harness not set up");
      return harness;
    };
    beforeEach(async () => {
      const clock = new ManualClock();
      const made = await makeStore(clock);
      harness = new Harness(clock, made, made.cleanup);
    });
    afterEach(async () => {
      await harness?.close();
      harness = undefined;
    });

    appendTests(h);
    readTests(h);
    maintenanceTests(h);
    compactionTests(h);
    storeTests(h);
  });
}
