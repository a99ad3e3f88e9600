/**
 * Injectable timers for the CoAP message layer: the system twin wraps
 * setTimeout; the manual twin fires only when a test advances its ManualClock.
 */
import type { ManualClock } from "../../src/util/clock.ts";

export interface TimerHandle {
  readonly id: number;
}

export interface Timers {
  set(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

export function systemTimers(): Timers {
  const live = new Map<number, ReturnType<typeof setTimeout>>();
  let next = 1;
  return {
    set(fn, ms) {
      const id = next++;
      const t = setTimeout(() => {
        live.delete(id);
        fn();
      }, ms);
      (t as { unref?: () => void }).unref?.();
      live.set(id, t);
      return { id };
    },
    clear(handle) {
      const t = live.get(handle.id);
      if (t !== undefined) clearTimeout(t);
      live.delete(handle.id);
    },
  };
}

/** Timers driven by a ManualClock: `advance(ms)` moves the clock and fires due timers in order. */
export class ManualTimers implements Timers {
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  constructor(private readonly clock: ManualClock) {}

  set(fn: () => void, ms: number): TimerHandle {
    const id = this.next++;
    this.due.set(id, { at: this.clock.monotonic() + Math.max(0, ms), fn });
    return { id };
  }

  clear(handle: TimerHandle): void {
    this.due.delete(handle.id);
  }

  get pending(): number {
    return this.due.size;
  }

  advance(ms: number): void {
    const end = this.clock.monotonic() + ms;
    for (;;) {
      let firstId = -1;
      let first: { at: number; fn: () => void } | undefined;
      for (const [id, t] of this.due) {
        if (t.at <= end && (first === undefined || t.at < first.at)) {
          first = t;
          firstId = id;
        }
      }
      if (first === undefined) break;
      this.due.delete(firstId);
      this.clock.advance(first.at - this.clock.monotonic());
      first.fn();
    }
    this.clock.advance(end - this.clock.monotonic());
  }
}
