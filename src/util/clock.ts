/** An injectable clock: the core never reads Date.now() or timers directly. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** A monotonic reading in milliseconds, for durations. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A clock for tests: time moves only when told. */
export class ManualClock implements Clock {
  private t: number;
  private m = 0;
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return this.m;
  }
  advance(ms: number): void {
    this.t += ms;
    this.m += ms;
  }
  set(ms: number): void {
    this.m += Math.max(0, ms - this.t);
    this.t = ms;
  }
}
