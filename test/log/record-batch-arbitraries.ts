/** fast-check generators shared by the record-batch and compression tests. */
import fc from "fast-check";
import type { RecordInput } from "../../src/log/types.ts";

export const bytesOrNull = (maxLength: number) => fc.option(fc.uint8Array({ maxLength }), { nil: null });

export const headerArb = fc.record({
  key: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 })),
  value: bytesOrNull(40),
});

export const recordArb: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: bytesOrNull(40),
    value: fc.oneof(
      { arbitrary: bytesOrNull(300), weight: 20 },
      { arbitrary: fc.uint8Array({ minLength: 20_000, maxLength: 70_000 }), weight: 1 },
    ),
    headers: fc.array(headerArb, { maxLength: 4 }),
    timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  },
  { requiredKeys: ["value"] },
);

export const recordsArb = fc.array(recordArb, { minLength: 1, maxLength: 25 });
