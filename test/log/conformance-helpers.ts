/**
 * Shared helpers of the PartitionLog conformance suite (see conformance.ts).
 * Everything here goes through the interface in src/log/types.ts and the
 * RecordBatch codec; nothing knows which implementation is under test.
 */
import { expect } from "bun:test";
import { type EddyError, type ErrorCode, isEddyError } from "../../src/errors.ts";
import { decodeRecords, type EncodeOptions, encodeBatch } from "../../src/log/record-batch.ts";
import {
  DEFAULT_LOG_CONFIG,
  Durability,
  type LogConfig,
  type LogStore,
  type PartitionLog,
  type RecordHeader,
  type StoredRecord,
} from "../../src/log/types.ts";
import type { ManualClock } from "../../src/util/clock.ts";

export type MakeStore = (clock: ManualClock) => Promise<{
  store: LogStore;
  reopen?: () => Promise<LogStore>;
  cleanup: () => Promise<void>;
}>;

/** A record for `Harness.batch`: a bare string is a value with no key at the clock's time. */
export type Rec =
  | string
  | { key?: string | null; value: string | null; ts?: number; headers?: RecordHeader[] };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array | null): string | null => (b === null ? null : decoder.decode(b));

/** Test defaults: small, write-through (no fsync wait), everything else as in production. */
export function testConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return { ...DEFAULT_LOG_CONFIG, durability: Durability.WRITE, ...overrides };
}

export class Harness {
  store: LogStore;
  private reopenStore: (() => Promise<LogStore>) | undefined;
  private closed = false;

  constructor(
    readonly clock: ManualClock,
    made: Awaited<ReturnType<MakeStore>>,
    readonly cleanup: () => Promise<void>,
  ) {
    this.store = made.store;
    this.reopenStore = made.reopen;
  }

  get persistent(): boolean {
    return this.reopenStore !== undefined;
  }

  open(topic = "events", partition = 0, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
    return this.store.open(topic, partition, testConfig(config));
  }

  /**
   * Close the log and open it again. For a persistent store the whole store is
   * closed and reopened (a restart); for an in-memory store only the log is
   * closed and reopened through the same store.
   */
  async reopen(log: PartitionLog, config?: LogConfig): Promise<PartitionLog> {
    const cfg = config ?? log.config();
    const { topic, partition } = log;
    await log.close();
    if (this.reopenStore) {
      await this.store.close();
      this.store = await this.reopenStore();
    }
    return this.store.open(topic, partition, cfg);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.close();
    await this.cleanup();
  }

  /** Encode one RecordBatch v2. Timestamps default to the clock's now. */
  batch(records: Rec[], opts: EncodeOptions = {}): Uint8Array {
    const now = this.clock.now();
    return encodeBatch(
      records.map((r) =>
        typeof r === "string"
          ? { value: bytes(r), timestamp: now }
          : {
              key: r.key === undefined || r.key === null ? null : bytes(r.key),
              value: r.value === null ? null : bytes(r.value),
              timestamp: r.ts ?? now,
              headers: r.headers ?? [],
            },
      ),
      { now, ...opts },
    );
  }

  /** Append one batch per entry; returns the AppendInfo of each. */
  async appendAll(log: PartitionLog, batches: Rec[][]) {
    const infos = [];
    for (const b of batches) infos.push(await log.append(this.batch(b)));
    return infos;
  }
}

/** Read every record from `from` (default: log start) to the log end, decoded. */
export async function readAll(log: PartitionLog, from?: number): Promise<StoredRecord[]> {
  const start = from ?? log.offsets().logStartOffset;
  const end = log.offsets().logEndOffset;
  const out: StoredRecord[] = [];
  let offset = start;
  while (offset < end) {
    const r = await log.read(offset, 1 << 20);
    if (r.batchCount === 0) break;
    expect(r.nextOffset).toBeGreaterThan(offset);
    out.push(...decodeRecords(r.bytes, offset));
    offset = r.nextOffset;
  }
  return out;
}

/** [offset, key, value] triples, easy to compare. */
export async function readTriples(
  log: PartitionLog,
  from?: number,
): Promise<Array<[number, string | null, string | null]>> {
  return (await readAll(log, from)).map((r) => [r.offset, text(r.key), text(r.value)]);
}

export async function values(log: PartitionLog, from?: number): Promise<Array<string | null>> {
  return (await readAll(log, from)).map((r) => text(r.value));
}

/** Expect `fn` to throw (or reject with) an EddyError with `code`. */
export async function expectCode(fn: () => unknown, code: ErrorCode): Promise<EddyError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`expected EddyError ${code}, but nothing was thrown`);
  expect(isEddyError(caught)).toBe(true);
  expect((caught as EddyError).code).toBe(code);
  return caught as EddyError;
}

/** Everything observable about a log's shape, to check that a failed call changed nothing. */
export function shape(log: PartitionLog) {
  const o = log.offsets();
  return {
    logStartOffset: o.logStartOffset,
    logEndOffset: o.logEndOffset,
    sizeBytes: log.sizeBytes(),
    segmentCount: log.segmentCount(),
  };
}
