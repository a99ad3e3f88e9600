/**
 * Injectable timers (the group coordinator, the CoAP message layer), so state
 * machines run on a manual clock in tests: `systemTimers` uses setTimeout
 * (unref'd: these timers never keep the process alive); `ManualTimers` fires
 * due callbacks when the test advances its ManualClock.
 */
import type { ManualClock } from "./clock.ts";

/** Cancel a scheduled callback (idempotent). */
export type CancelTimer = () => void;

export interface Timers {
  /** Run `fn` once after `ms` milliseconds. */
  schedule(ms: number, fn: () => void): CancelTimer;
}

export const systemTimers: Timers = {
  schedule(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    (t as { unref?: () => void }).unref?.();
    return () => clearTimeout(t);
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Timers driven by a ManualClock: `advance(ms)` moves the clock and fires what fell due, in time order. */
export class ManualTimers implements Timers {
  private pending: Pending[] = [];
  private seq = 0;

  constructor(readonly clock: ManualClock) {}

  schedule(ms: number, fn: () => void): CancelTimer {
    const entry: Pending = { at: this.clock.monotonic() + Math.max(0, ms), seq: this.seq++, fn };
    this.pending.push(entry);
    return () => {
      this.pending = this.pending.filter((p) => p !== entry);
    };
  }

  /** Number of scheduled callbacks. */
  get size(): number {
    return this.pending.length;
  }

  /** Advance the clock by `ms`, firing every callback due on the way (including ones they schedule). */
  advance(ms: number): void {
    const target = this.clock.monotonic() + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.clock.advance(next.at - this.clock.monotonic());
      next.fn();
    }
    this.clock.advance(target - this.clock.monotonic());
  }

  private nextDue(limit: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) {
      if (p.at > limit) continue;
      if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    return best;
  }
}
