/** Throughput and latency bookkeeping shared by `eddy perf produce` and `eddy perf consume`. */
import { fixed } from "../format.ts";

export class LatencyStats {
  private samples: number[] = [];
  private weights: number[] = [];
  private total = 0;
  private weightSum = 0;
  max = 0;

  /** One observation of `ms` that counts for `weight` records. */
  add(ms: number, weight = 1): void {
    this.samples.push(ms);
    this.weights.push(weight);
    this.total += ms * weight;
    this.weightSum += weight;
    if (ms > this.max) this.max = ms;
  }

  get count(): number {
    return this.weightSum;
  }

  avg(): number {
    return this.weightSum === 0 ? 0 : this.total / this.weightSum;
  }

  /** Weighted percentiles (p in 0..100). */
  percentiles(ps: readonly number[]): number[] {
    if (this.weightSum === 0) return ps.map(() => 0);
    const order = this.samples.map((_, i) => i).sort((a, b) => this.samples[a]! - this.samples[b]!);
    return ps.map((p) => {
      const target = (p / 100) * this.weightSum;
      let acc = 0;
      for (const i of order) {
        acc += this.weights[i]!;
        if (acc >= target) return this.samples[i]!;
      }
      return this.samples[order[order.length - 1]!]!;
    });
  }
}

export interface Summary {
  records: number;
  bytes: number;
  elapsedMs: number;
  latency: LatencyStats;
}

/** "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ... " (Kafka's shape). */
export function summaryLine(verb: string, s: Summary): string {
  const secs = Math.max(s.elapsedMs, 1) / 1000;
  const [p50, p95, p99, p999] = s.latency.percentiles([50, 95, 99, 99.9]);
  return (
    `${s.records} records ${verb}, ${fixed(s.records / secs, 1)} records/sec ` +
    `(${fixed(s.bytes / secs / (1024 * 1024))} MB/sec), ${fixed(s.latency.avg())} ms avg latency, ` +
    `${fixed(s.latency.max)} ms max latency, ${fixed(p50 ?? 0)} ms 50th, ${fixed(p95 ?? 0)} ms 95th, ` +
    `${fixed(p99 ?? 0)} ms 99th, ${fixed(p999 ?? 0)} ms 99.9th.\n`
  );
}

/** The running numbers shown on the progress bar / periodic lines. */
export function progressText(s: Summary): string {
  const secs = Math.max(s.elapsedMs, 1) / 1000;
  return (
    `${fixed(s.records / secs, 1)} rec/s, ${fixed(s.bytes / secs / (1024 * 1024))} MB/s, ` +
    `${fixed(s.latency.avg())} ms avg latency, ${fixed(s.latency.max)} ms max`
  );
}
