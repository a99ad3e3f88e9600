/**
 * Topic `expiration-date` enforcement (draft-ietf-core-coap-pubsub-21 §2.2.1):
 * once the wall clock passes a topic's expiration-date (epoch seconds) the topic
 * is removed as by a DELETE on its topic resource — a stream topic is deleted
 * with its records, a mapped topic's properties are forgotten (its records stay
 * in the shared stream topic) — and its observers get a final 4.04.
 *
 * A periodic sweep (`intervalMs`, default 1 s) does it in the background; the
 * router also asks `expired(name)` before serving a topic or its data, so no
 * request is served from an expired topic between two sweeps.
 */
import type { Logger } from "../../../src/observability/logger.ts";
import type { Clock } from "../../../src/util/clock.ts";
import type { CancelTimer, Timers } from "../../../src/util/timers.ts";
import type { TopicPropsStore } from "./topic-props-store.ts";

export interface TopicExpiryOptions {
  props: TopicPropsStore;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  /** Remove the topic and end its observations (topics.ts removeTopic). */
  remove(name: string, reason: string): Promise<void>;
  intervalMs?: number;
}

export const EXPIRED_REASON = "the topic expired (expiration-date passed)";

export class TopicExpiry {
  private cancelTimer: CancelTimer | undefined;
  private closed = false;
  private running: Promise<number> | undefined;
  private busy = false;
  /** Topics removed for expiry so far. */
  removed = 0;

  constructor(private readonly o: TopicExpiryOptions) {}

  start(): void {
    this.schedule();
  }

  /** Has this topic (stream topic or mapped topic name) expired? */
  expired(name: string): boolean {
    const at = this.o.props.get(name).expirationDate;
    return at !== undefined && at * 1000 <= this.o.clock.now();
  }

  /** Remove one expired topic now (a request arrived for it). */
  async expire(name: string): Promise<void> {
    if (!this.expired(name)) return;
    await this.o.remove(name, EXPIRED_REASON);
    this.removed++;
  }

  /** Remove every expired topic; resolves with how many went. */
  sweep(): Promise<number> {
    if (this.running) return this.running;
    const run = this.sweepOnce();
    // Only a sweep still awaiting something is joined (one that found nothing ended already).
    if (this.busy) this.running = run;
    return run;
  }

  private async sweepOnce(): Promise<number> {
    this.busy = true;
    let n = 0;
    try {
      for (const name of this.o.props.names()) {
        if (this.closed || !this.expired(name)) continue;
        try {
          await this.expire(name);
          n++;
        } catch (err) {
          this.o.logger.warn("coap: removing an expired topic failed; retrying at the next sweep", {
            topic: name,
            error: (err as Error).message,
          });
        }
      }
    } finally {
      this.busy = false;
      this.running = undefined;
    }
    return n;
  }

  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private schedule(): void {
    if (this.closed) return;
    this.cancelTimer = this.o.timers.schedule(this.o.intervalMs ?? 1000, () => {
      this.schedule(); // a sweep still running when the next is due is joined, not doubled
      void this.sweep();
    });
  }
}
