/**
 * Server-side throughput history for GET /v1/stats/history (the console's
 * overview chart, which then survives page reloads): a fixed-size ring of
 * per-interval rates computed from the broker's cumulative traffic counters.
 * `start()` samples on a timer (unref'd, stopped by the shutdown signal);
 * tests call `sample()` themselves with a manual clock.
 */
import type { Clock } from "../util/clock.ts";

/** The broker's cumulative counters (BrokerApi.stats()). */
export interface TrafficCounters {
  appendedRecords: number;
  appendedBytes: number;
  fetchedBytes: number;
}

/** Rates over the interval that ended at `time`. */
export interface ThroughputSample {
  /** End of the interval (ms since the epoch). */
  time: number;
  recordsInPerSec: number;
  bytesInPerSec: number;
  bytesOutPerSec: number;
}

export interface StatsHistoryOptions {
  read: () => TrafficCounters;
  clock: Clock;
  /** Samples kept (oldest dropped first). Default 300: five minutes at one per second. */
  capacity?: number;
}

export const DEFAULT_HISTORY_CAPACITY = 300;
export const DEFAULT_HISTORY_INTERVAL_MS = 1000;

export class StatsHistory {
  readonly capacity: number;
  private readonly read: () => TrafficCounters;
  private readonly clock: Clock;
  private readonly ring: Array<ThroughputSample | undefined>;
  /** Index of the next write. */
  private head = 0;
  private size = 0;
  private previous: { at: number; monotonic: number; counters: TrafficCounters } | null = null;
  private interval = DEFAULT_HISTORY_INTERVAL_MS;

  constructor(opts: StatsHistoryOptions) {
    this.read = opts.read;
    this.clock = opts.clock;
    this.capacity = Math.max(1, Math.floor(opts.capacity ?? DEFAULT_HISTORY_CAPACITY));
    this.ring = new Array(this.capacity);
  }

  /** The sampling period announced to readers (ms). */
  get intervalMs(): number {
    return this.interval;
  }

  /** Read the counters now; from the second call on, store the rates since the last call. */
  sample(): void {
    const counters = { ...this.read() };
    const monotonic = this.clock.monotonic();
    const at = this.clock.now();
    const prev = this.previous;
    this.previous = { at, monotonic, counters };
    if (!prev) return;
    const secs = (monotonic - prev.monotonic) / 1000;
    if (secs <= 0) return;
    const rate = (k: keyof TrafficCounters): number => Math.max(0, (counters[k] - prev.counters[k]) / secs);
    this.ring[this.head] = {
      time: at,
      recordsInPerSec: rate("appendedRecords"),
      bytesInPerSec: rate("appendedBytes"),
      bytesOutPerSec: rate("fetchedBytes"),
    };
    this.head = (this.head + 1) % this.capacity;
    this.size = Math.min(this.capacity, this.size + 1);
  }

  /** The kept samples, oldest first. */
  samples(): ThroughputSample[] {
    const out: ThroughputSample[] = [];
    const first = (this.head - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) {
      const s = this.ring[(first + i) % this.capacity];
      if (s) out.push(s);
    }
    return out;
  }

  /** Sample every `intervalMs` until `signal` aborts; the timer never keeps the process alive. */
  start(opts: { intervalMs?: number; signal: AbortSignal }): void {
    if (opts.signal.aborted) return;
    this.interval = opts.intervalMs ?? DEFAULT_HISTORY_INTERVAL_MS;
    const tick = (): void => {
      try {
        this.sample();
      } catch {
        // A broker that cannot report (closing): no sample this time.
      }
    };
    tick();
    const timer = setInterval(tick, this.interval);
    timer.unref?.();
    opts.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }
}
