/**
 * The mirror's part of /health: "degraded" while a link is down, or while its
 * lag keeps growing (the uplink is slower than the edge writes, or stalled
 * without an error). Lag is sampled every `sampleMs` (src/main.ts calls
 * `sample` on a timer, and `check` samples too when one is due); the link is
 * "falling behind" when the last `growingSamples` samples each rose above the
 * one before.
 */
import type { Clock } from "../util/clock.ts";

export interface MirrorLinkHealthInput {
  name: string;
  state: string;
  lagRecords: number;
  lastError: { message: string } | null;
}

export interface MirrorHealthOptions {
  clock: Clock;
  read: () => readonly MirrorLinkHealthInput[];
  /** Minimum time between two lag samples. Default 5 s. */
  sampleMs?: number;
  /** Rising samples in a row that make a link "falling behind". Default 6 (30 s at the default rate). */
  growingSamples?: number;
}

export interface MirrorHealth {
  /** Take a lag sample if one is due. */
  sample(): void;
  /** ok: every link up and none falling behind; detail names the links that are not. */
  check(): { ok: boolean; detail?: string };
}

export function createMirrorHealth(opts: MirrorHealthOptions): MirrorHealth {
  const sampleMs = opts.sampleMs ?? 5000;
  const needed = opts.growingSamples ?? 6;
  let lastSampleAt = Number.NEGATIVE_INFINITY;
  /** Per link: recent lag samples, oldest first (at most needed + 1). */
  const history = new Map<string, number[]>();

  const sample = (): void => {
    const now = opts.clock.monotonic();
    if (now - lastSampleAt < sampleMs) return;
    lastSampleAt = now;
    const names = new Set<string>();
    for (const link of opts.read()) {
      names.add(link.name);
      const h = history.get(link.name) ?? [];
      h.push(link.lagRecords);
      if (h.length > needed + 1) h.shift();
      history.set(link.name, h);
    }
    for (const name of history.keys()) if (!names.has(name)) history.delete(name);
  };

  const growing = (name: string): boolean => {
    const h = history.get(name) ?? [];
    if (h.length < needed + 1) return false;
    for (let i = 1; i < h.length; i++) if (h[i]! <= h[i - 1]!) return false;
    return true;
  };

  return {
    sample,
    check() {
      sample();
      const problems: string[] = [];
      for (const link of opts.read()) {
        if (link.state === "down") {
          problems.push(`link ${link.name} is down${link.lastError ? `: ${link.lastError.message}` : ""}`);
        } else if (growing(link.name)) {
          problems.push(`link ${link.name} is falling behind (${link.lagRecords} records owed and rising)`);
        }
      }
      return problems.length === 0 ? { ok: true } : { ok: false, detail: problems.join("; ") };
    },
  };
}
