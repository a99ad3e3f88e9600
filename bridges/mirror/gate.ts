/**
 * The send gate of one link: at most `maxInFlight` produce requests at a
 * time, and (when capped) a token bucket of `bytesPerSec`. Waiting senders
 * are served highest priority first, then in arrival order, so after an
 * outage alarms drain before telemetry whenever the link is the bottleneck.
 *
 * The bucket holds at most 100 ms of tokens (starting full), so no window
 * much longer than that sees more than the cap, and it may go into debt by
 * one request (a request larger than the bucket still goes out); later
 * requests wait until the debt is paid, so the long-run rate stays at the cap.
 */
import type { Clock } from "../../src/util/clock.ts";

interface Waiter {
  priority: number;
  seq: number;
  bytes: number;
  resolve: (release: () => void) => void;
  reject: (err: unknown) => void;
}

export class SendGate {
  private inFlight = 0;
  private tokens: number;
  private readonly burst: number;
  private last: number;
  private seq = 0;
  private readonly waiters: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closedError: unknown = null;

  constructor(private readonly o: { maxInFlight: number; bytesPerSec: number; clock: Clock }) {
    this.burst = o.bytesPerSec / 10;
    this.tokens = this.burst;
    this.last = o.clock.monotonic();
  }

  /** Wait for a slot (and `bytes` of budget); call the returned function when the send is done. */
  acquire(priority: number, bytes: number): Promise<() => void> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waiters.push({ priority, seq: this.seq++, bytes, resolve, reject });
      this.waiters.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      this.pump();
    });
  }

  /** Reject every waiter and all later acquires with `err`. */
  close(err: unknown): void {
    this.closedError = err;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private pump(): void {
    while (this.waiters.length > 0 && this.inFlight < this.o.maxInFlight) {
      if (this.o.bytesPerSec > 0) {
        this.refill();
        if (this.tokens <= 0) {
          this.wake(Math.ceil((-this.tokens + 1) / (this.o.bytesPerSec / 1000)));
          return;
        }
      }
      const w = this.waiters.shift()!;
      if (this.o.bytesPerSec > 0) this.tokens -= w.bytes;
      this.inFlight++;
      let released = false;
      w.resolve(() => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.pump();
      });
    }
  }

  private refill(): void {
    const now = this.o.clock.monotonic();
    const cap = this.o.bytesPerSec;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * cap) / 1000);
    this.last = now;
  }

  private wake(ms: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(1, ms),
    );
  }
}
