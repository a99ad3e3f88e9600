/**
 * Property: whatever happens to the tail of the active segment after a crash
 * (cut at any byte, or any byte flipped), the recovered log is exactly the
 * prefix of whole batches before the damage, and appends continue after it.
 */
import { afterAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import fc from "fast-check";
import { encodeBatch, iterateBatches } from "../../src/log/record-batch.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { config, dump, makeStore, segmentFiles, tempDir } from "./log-test-helpers.ts";

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let run = 0;

const batchesArb = fc.array(
  fc.array(fc.string({ minLength: 0, maxLength: 60 }), { minLength: 1, maxLength: 5 }),
  { minLength: 1, maxLength: 25 },
);
const damageArb = fc.oneof(
  fc.record({ kind: fc.constant("cut" as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
);

describe("recovery property", () => {
  it("recovers exactly a valid prefix after a cut or a flipped byte in the tail", async () => {
    await fc.assert(
      fc.asyncProperty(
        batchesArb,
        damageArb,
        fc.integer({ min: 300, max: 3000 }),
        async (batches, damage, segmentBytes) => {
          const dir = `${root}/${run++}`;
          const clock = new ManualClock();
          const cfg = config({ segmentBytes });
          let store = makeStore(dir, clock);
          let log = await store.open("p", 0, cfg);
          const expected: Array<[number, string]> = [];
          const enc = new TextEncoder();
          for (const values of batches) {
            const info = await log.append(
              encodeBatch(
                values.map((v) => ({ value: enc.encode(v), timestamp: 5 })),
                { now: 5 },
              ),
            );
            for (const [i, v] of values.entries()) expected.push([info.baseOffset + i, v]);
          }
          store.abandon();

          const pdir = `${dir}/p-0`;
          const file = `${pdir}/${segmentFiles(pdir).at(-1)}`;
          const data = fs.readFileSync(file);
          const starts = [...iterateBatches(data)].map((b) => ({ pos: b.pos, base: b.header.baseOffset }));
          const segBase = starts[0]?.base ?? 0;
          let firstBad: number; // base offset of the first batch that must be gone
          if (data.length === 0) {
            firstBad = expected.length;
          } else if (damage.kind === "cut") {
            const at = Math.floor(damage.at * data.length);
            fs.truncateSync(file, at);
            const broken = starts.find((s, i) => at < (starts[i + 1]?.pos ?? data.length) && at >= s.pos);
            firstBad =
              broken && at > broken.pos
                ? broken.base
                : (starts.find((s) => s.pos >= at)?.base ?? expected.length);
          } else {
            const at = Math.min(data.length - 1, Math.floor(damage.at * data.length));
            const victim = [...starts].reverse().find((s) => s.pos <= at)!;
            const rel = at - victim.pos;
            data[at] = data[at]! ^ damage.mask;
            fs.writeFileSync(file, data);
            // partitionLeaderEpoch (bytes 12-15) is not covered by the CRC and carries no record data
            firstBad = rel >= 12 && rel < 16 ? expected.length : victim.base;
          }
          expect(segBase).toBeLessThanOrEqual(firstBad);

          store = makeStore(dir, clock);
          log = await store.open("p", 0, cfg);
          const want = expected.filter(([o]) => o < firstBad);
          expect(log.offsets().logEndOffset).toBe(want.length);
          expect(await dump(log)).toEqual(want);
          const next = await log.append(
            encodeBatch([{ value: enc.encode("after"), timestamp: 6 }], { now: 6 }),
          );
          expect(next.baseOffset).toBe(want.length);
          await store.close();
          store = makeStore(dir, clock);
          log = await store.open("p", 0, cfg);
          expect(await dump(log)).toEqual([...want, [want.length, "after"]]);
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 150 },
    );
  });
});
