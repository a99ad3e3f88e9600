/** Shared fixtures for the broker tests: a broker on the memory log store and ":memory:" metadata. */
import {
  type Broker,
  type BrokerOptions,
  createBroker,
  EddyError,
  type ErrorCode,
} from "../../src/broker/index.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import type { LogStore } from "../../src/log/types.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { ManualClock } from "../../src/util/clock.ts";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

export interface TestBroker {
  broker: Broker;
  clock: ManualClock;
  logStore: LogStore;
}

export async function memoryBroker(
  opts: Partial<Omit<BrokerOptions, "clock">> & {
    clock?: ManualClock;
    wrapStore?: (s: LogStore) => LogStore;
  } = {},
): Promise<TestBroker> {
  const clock = opts.clock ?? new ManualClock();
  const inner = opts.logStore ?? createMemoryLogStore({ clock });
  const logStore = opts.wrapStore ? opts.wrapStore(inner) : inner;
  const broker = await createBroker({
    housekeepingIntervalMs: 0,
    ...opts,
    logStore,
    metadata: opts.metadata ?? openMetadataStore({ path: ":memory:" }),
    clock,
  });
  return { broker, clock, logStore };
}

/** Await `work` and return the EddyError code it threw (fails if it did not throw an EddyError). */
export async function codeOf(work: Promise<unknown> | (() => unknown)): Promise<ErrorCode> {
  try {
    await (typeof work === "function" ? work() : work);
  } catch (err) {
    if (err instanceof EddyError) return err.code;
    throw err;
  }
  throw new Error("expected an EddyError, but the call succeeded");
}

export async function produceValues(broker: Broker, topic: string, partition: number, values: string[]) {
  return broker.produce({ topic, partition, records: values.map((v) => ({ value: enc(v) })) });
}

export async function readValues(
  broker: Broker,
  topic: string,
  partition: number,
  offset = 0,
): Promise<string[]> {
  const { records } = await broker.readRecords({ topic, partition, offset, maxRecords: 10_000 });
  return records.map((r) => dec(r.value) ?? "<null>");
}
