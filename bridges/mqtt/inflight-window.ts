/**
 * The adaptive outbound in-flight window of one session (QoS 1/2 PUBLISHes
 * sent and not yet acknowledged), for clients that leave the limit to us: an
 * MQTT 3.1.1 client, or a v5 client whose Receive Maximum is absent or 65535.
 * A v5 client that announces a smaller Receive Maximum gets exactly that (capped
 * by `max`): the client's own limit is the hard cap [MQTT-3.3.4-9], see session.ts.
 *
 * Latency-based AIMD, evaluated once per round (as many acknowledgements as
 * the window holds):
 * - the round's mean acknowledgement time (PUBLISH sent → PUBACK / PUBREC) is
 *   compared with the baseline, the lowest round mean seen in the last
 *   `baselineMs` (four buckets, so it forgets a path that got slower, but
 *   remembers the client's own latency across many grow/halve cycles: a
 *   per-round minimum would creep up with the queueing it should detect):
 *   up to 2 × baseline + `slackMs`, the client keeps up; above it, more in
 *   flight only queues in front of the client;
 * - keeping up and window-limited during the round (deliveries waited for
 *   room): grow by an eighth (at least `step`), up to `max`;
 * - lagging: halve, down to `min`.
 * Rounds in which the window was never full leave it unchanged (an idle or
 * slow-producing stream says nothing about the client).
 */
import type { Clock } from "../../src/util/clock.ts";

const BUCKETS = 4;

export interface InflightWindowOptions {
  clock: Clock;
  /** Upper bound (`maxInflight`). */
  max: number;
  /** Starting size. Default min(100, max). */
  initial?: number;
  /** Lower bound. Default min(16, max). */
  min?: number;
  /** Smallest growth per round. Default 4. */
  step?: number;
  /** Acknowledgement-time tolerance on top of 2 × baseline (ms). Default 5. */
  slackMs?: number;
  /** How long the baseline (lowest round mean) is remembered (ms). Default 10000. */
  baselineMs?: number;
}

export class InflightWindow {
  /** The current window. */
  size: number;
  private readonly min: number;
  private readonly max: number;
  private readonly initial: number;
  private readonly step: number;
  private readonly slackMs: number;
  private readonly bucketMs: number;
  /** Lowest round mean per baseline bucket (oldest first), and when the newest bucket began. */
  private readonly buckets: number[] = [];
  private bucketStart = 0;
  private acks = 0;
  private rttSum = 0;
  private limited = false;

  constructor(private readonly opts: InflightWindowOptions) {
    this.max = Math.max(1, opts.max);
    this.initial = Math.min(opts.initial ?? 100, this.max);
    this.min = Math.min(opts.min ?? 16, this.initial);
    this.step = opts.step ?? 4;
    this.slackMs = opts.slackMs ?? 5;
    this.bucketMs = (opts.baselineMs ?? 10_000) / BUCKETS;
    this.size = this.initial;
  }

  /** A send time for an acknowledgement to be measured against. */
  now(): number {
    return this.opts.clock.monotonic();
  }

  /** A delivery found the window full: this round is window-limited. */
  full(): void {
    this.limited = true;
  }

  /** An acknowledgement (PUBACK, PUBREC) of a PUBLISH sent at `sentAt` (from now()). */
  acked(sentAt: number): void {
    this.rttSum += Math.max(0, this.opts.clock.monotonic() - sentAt);
    if (++this.acks < this.size) return;
    const mean = this.rttSum / this.acks;
    const baseline = this.baseline(mean);
    if (mean > 2 * baseline + this.slackMs) {
      this.size = Math.max(this.min, Math.floor(this.size / 2));
    } else if (this.limited) {
      this.size = Math.min(this.max, this.size + Math.max(this.step, this.size >> 3));
    }
    this.acks = 0;
    this.rttSum = 0;
    this.limited = false;
  }

  /** Record a round mean; the lowest one remembered (this one included). */
  private baseline(mean: number): number {
    const now = this.opts.clock.monotonic();
    const last = this.buckets.length - 1;
    if (last < 0 || now - this.bucketStart >= this.bucketMs) {
      this.buckets.push(mean);
      this.bucketStart = now;
      if (this.buckets.length > BUCKETS) this.buckets.shift();
    } else if (mean < this.buckets[last]!) this.buckets[last] = mean;
    let low = mean;
    for (const m of this.buckets) if (m < low) low = m;
    return low;
  }

  /** A new connection (another network path): start over. */
  reset(): void {
    this.size = this.initial;
    this.buckets.length = 0;
    this.acks = 0;
    this.rttSum = 0;
    this.limited = false;
  }
}
