/**
 * A tiny progress reporter for `eddy perf`: a redrawn bar on a TTY, plain
 * periodic lines otherwise (logs, CI, pipes). No dependency, so it behaves
 * the same inside the compiled binary.
 */
import type { CliWritable } from "./io.ts";

export interface ProgressOptions {
  stream: CliWritable;
  total: number;
  /** Text after the bar / the periodic line's content. */
  describe: () => string;
  /** Redraw interval on a TTY (ms). */
  redrawMs?: number;
  /** Interval between plain lines when not a TTY (ms). */
  lineMs?: number;
  now?: () => number;
}

export class Progress {
  private readonly opts: Required<ProgressOptions>;
  private readonly tty: boolean;
  private last = -Infinity;
  private done = 0;
  private drawn = false;

  constructor(opts: ProgressOptions) {
    this.opts = { redrawMs: 100, lineMs: 5000, now: () => performance.now(), ...opts };
    this.tty = opts.stream.isTTY === true;
  }

  update(done: number): void {
    this.done = done;
    const t = this.opts.now();
    const interval = this.tty ? this.opts.redrawMs : this.opts.lineMs;
    if (t - this.last < interval) return;
    if (!this.tty && this.last === -Infinity) {
      // First call only starts the clock for plain lines.
      this.last = t;
      return;
    }
    this.last = t;
    this.draw();
  }

  /** Final redraw (TTY) and end the line. */
  finish(): void {
    if (this.tty) {
      this.draw();
      if (this.drawn) this.opts.stream.write("\n");
    }
  }

  private draw(): void {
    if (!this.tty) {
      this.opts.stream.write(`${this.opts.describe()}\n`);
      return;
    }
    const total = Math.max(1, this.opts.total);
    const frac = Math.min(1, this.done / total);
    const width = 30;
    const filled = Math.round(frac * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const pct = `${Math.floor(frac * 100)}`.padStart(3);
    const text = `[${bar}] ${pct}% ${this.done}/${this.opts.total} ${this.opts.describe()}`;
    const cols = this.opts.stream.columns ?? 120;
    this.opts.stream.write(`\r${text.slice(0, Math.max(20, cols - 1))}\x1b[K`);
    this.drawn = true;
  }
}
