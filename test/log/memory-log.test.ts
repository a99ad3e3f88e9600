import { describe, expect, it } from "bun:test";
import { ErrorCode, isEddyError } from "../../src/errors.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { encodeBatch } from "../../src/log/record-batch.ts";
import { DEFAULT_LOG_CONFIG } from "../../src/log/types.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { runLogConformance } from "./conformance.ts";

runLogConformance("memory", async (clock) => ({
  store: createMemoryLogStore({ clock }),
  cleanup: async () => {},
}));

const batch = (v: string) => encodeBatch([{ value: new TextEncoder().encode(v) }], { now: 1 });

async function codeOf(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return isEddyError(err) ? err.code : "not an EddyError";
  }
  return undefined;
}

describe("memory log store", () => {
  it("reports appends to the observer", async () => {
    const seen: Array<[string, number, number, number]> = [];
    const store = createMemoryLogStore({
      clock: new ManualClock(),
      observer: { onAppend: (t, p, records, bytes) => seen.push([t, p, records, bytes]) },
    });
    const log = await store.open("t", 2, DEFAULT_LOG_CONFIG);
    const b = batch("x");
    await log.append(b);
    expect(seen).toEqual([["t", 2, 1, b.length]]);
    await store.close();
  });

  it("returns the open log for a second open, and refuses appends after close", async () => {
    const store = createMemoryLogStore({ clock: new ManualClock() });
    const log = await store.open("t", 0, DEFAULT_LOG_CONFIG);
    expect(await store.open("t", 0, DEFAULT_LOG_CONFIG)).toBe(log);
    await log.append(batch("a"));
    await log.close();
    expect(await codeOf(() => log.append(batch("b")))).toBe(ErrorCode.STORAGE_ERROR);
    const again = await store.open("t", 0, DEFAULT_LOG_CONFIG);
    expect(again).not.toBe(log);
    expect(again.offsets().logEndOffset).toBe(1);
    await store.close();
    expect(await codeOf(() => store.open("t", 0, DEFAULT_LOG_CONFIG))).toBe(ErrorCode.SHUTTING_DOWN);
    expect(await codeOf(() => again.append(batch("c")))).toBe(ErrorCode.STORAGE_ERROR);
  });

  it("rejects invalid topic-partitions", async () => {
    const store = createMemoryLogStore({ clock: new ManualClock() });
    expect(await codeOf(() => store.open("", 0, DEFAULT_LOG_CONFIG))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(() => store.open("t", -1, DEFAULT_LOG_CONFIG))).toBe(ErrorCode.INVALID_REQUEST);
    expect(await codeOf(() => store.open("t", 1.5, DEFAULT_LOG_CONFIG))).toBe(ErrorCode.INVALID_REQUEST);
    await store.close();
  });

  it("hands out reads that callers cannot use to change the log", async () => {
    const store = createMemoryLogStore({ clock: new ManualClock() });
    const log = await store.open("t", 0, DEFAULT_LOG_CONFIG);
    await log.append(batch("a"));
    const first = await log.read(0, 1000);
    first.bytes.fill(0);
    const second = await log.read(0, 1000);
    expect(second.bytes.some((x) => x !== 0)).toBe(true);
    await store.close();
  });
});
