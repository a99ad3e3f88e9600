/**
 * The group-commit loop shared by all logs of a store.
 *
 * - fsync-policy logs with unflushed data get a round at once (a
 *   microtask: the appends of the running task join it). Up to
 *   MAX_ROUNDS rounds run at once: data written while one fdatasync runs
 *   starts its own at once instead of waiting for it (an fdatasync covers
 *   everything written before it began, so the later one may well finish
 *   first); past that, appends share the round that starts when one
 *   completes (no event-loop turn in between).
 * - write-policy logs are flushed in the background every `flushIntervalMs`
 *   (like Kafka's flush.ms), memory-policy logs every `lazyFlushMs`; either
 *   earlier once `flushBytes` wait.
 * - Every `checkpointIntervalMs` each log writes its index entries and its
 *   recovery-point checkpoint, bounding the scan after a crash.
 *
 * fdatasync runs on the thread pool (LogIo.fdatasync), so appends go on.
 */
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { LogIo } from "./io.ts";
import type { Segment } from "./segment.ts";
import { Durability, type LogObserver } from "./types.ts";

export interface FlushWork {
  /** Offsets below this are durable once the segments are synced. */
  target: number;
  segments: Segment[];
  bytes: number;
  /** The log's truncation generation when the work began. */
  generation: number;
}

/** What the committer needs from a log. */
export interface Flushable {
  durability(): Durability;
  /** Bytes written since the last flush began. */
  unflushedBytes(): number;
  /** Snapshot the unsynced segments (null: nothing to do). */
  beginFlush(): FlushWork | null;
  endFlush(work: FlushWork, err: unknown): void;
  /** Persist indexes and the recovery-point checkpoint. */
  checkpoint(): void;
}

export interface GroupCommitOptions {
  clock: Clock;
  logger: Logger;
  io: LogIo;
  observer?: LogObserver | undefined;
  /** Background flush period of write-policy logs (ms). Default 5. */
  flushIntervalMs?: number;
  /** Background flush period of memory-policy logs (ms). Default 1000. */
  lazyFlushMs?: number;
  /** Flush early once this many bytes wait. Default 1 MiB. */
  flushBytes?: number;
  /** Recovery-point checkpoint period (ms). Default 5000. */
  checkpointIntervalMs?: number;
}

/** One log's part of a round: its flush work, the end of its previous work, and this one's. */
interface RoundWork {
  log: Flushable;
  work: FlushWork;
  prev: Promise<unknown> | undefined;
  end: (err: unknown) => void;
  ended: Promise<unknown>;
}

const noop = (): void => {};

/** fdatasync rounds in flight at once. */
const MAX_ROUNDS = 2;

export class GroupCommitter {
  private readonly logs = new Set<Flushable>();
  private readonly dirty = new Set<Flushable>();
  /** Per log, the end of its latest flush work in flight (resolves with its error or null). */
  private readonly ending = new Map<Flushable, Promise<unknown>>();
  /** Logs whose last fsync failed: retried by the timer, not at once. */
  private readonly retrying = new Set<Flushable>();
  private readonly lastFlush = new Map<Flushable, number>();
  /** Rounds in flight. */
  private readonly inFlight = new Set<Promise<void>>();
  private again = false;
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private checkpointTimer: ReturnType<typeof setInterval> | null = null;
  private readonly flushIntervalMs: number;
  private readonly lazyFlushMs: number;
  private readonly flushBytes: number;
  private closed = false;

  constructor(private readonly opts: GroupCommitOptions) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 5;
    this.lazyFlushMs = opts.lazyFlushMs ?? 1000;
    this.flushBytes = opts.flushBytes ?? 1024 * 1024;
    const every = opts.checkpointIntervalMs ?? 5000;
    this.checkpointTimer = setInterval(() => this.checkpointAll(), every);
    this.checkpointTimer.unref?.();
  }

  register(log: Flushable): void {
    this.logs.add(log);
  }

  unregister(log: Flushable): void {
    this.logs.delete(log);
    this.dirty.delete(log);
    this.retrying.delete(log);
    this.ending.delete(log);
    this.lastFlush.delete(log);
  }

  /** A log has new unflushed data (or a forced flush). `urgent`: start a round now. */
  notify(log: Flushable, urgent = false): void {
    this.dirty.add(log);
    if (urgent || log.durability() === Durability.FSYNC || log.unflushedBytes() >= this.flushBytes)
      this.kick();
    else this.arm();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.inFlight.size >= MAX_ROUNDS) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.closed) return;
      if (this.inFlight.size >= MAX_ROUNDS) this.again = true;
      else this.startRound(true);
    });
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.inFlight.size >= MAX_ROUNDS) this.again = true;
      else this.startRound(false);
    }, this.flushIntervalMs);
    this.timer.unref?.();
  }

  /** Pick the logs due now: all of them for an urgent round, else by policy and age. */
  private due(all: boolean): Flushable[] {
    const now = this.opts.clock.monotonic();
    const out: Flushable[] = [];
    for (const log of this.dirty) {
      const policy = log.durability();
      const age = now - (this.lastFlush.get(log) ?? Number.NEGATIVE_INFINITY);
      if (
        all ||
        policy === Durability.FSYNC ||
        log.unflushedBytes() >= this.flushBytes ||
        (policy === Durability.WRITE ? age >= this.flushIntervalMs : age >= this.lazyFlushMs)
      ) {
        out.push(log);
      }
    }
    for (const log of out) {
      this.dirty.delete(log);
      this.retrying.delete(log);
    }
    return out;
  }

  private startRound(all: boolean): void {
    const logs = this.due(all);
    if (logs.length === 0) {
      if (this.dirty.size > 0) this.arm();
      return;
    }
    const round: Promise<void> = this.round(logs).finally(() => {
      this.inFlight.delete(round);
      const more = this.again;
      this.again = false;
      // What arrived during the round starts the next one now: durability latency is one fsync, not one plus a turn.
      if ((more || this.hasUrgent()) && !this.closed) this.startRound(true);
      else if (this.dirty.size > 0) this.arm();
    });
    this.inFlight.add(round);
  }

  private hasUrgent(): boolean {
    for (const log of this.dirty) {
      if (log.durability() === Durability.FSYNC && !this.retrying.has(log)) return true;
    }
    return false;
  }

  private async round(logs: Flushable[]): Promise<void> {
    const start = this.opts.clock.monotonic();
    // One entry per log with flush work (usually one log with one segment: no arrays of promises then).
    const works: RoundWork[] = [];
    for (const log of logs) {
      const work = log.beginFlush();
      if (!work) continue;
      // A log's works end in the order they began (another round may hold an earlier one of the same log).
      const w: RoundWork = { log, work, prev: this.ending.get(log), end: noop, ended: null! };
      w.ended = new Promise<unknown>((r) => {
        w.end = r;
      });
      works.push(w);
      this.ending.set(log, w.ended);
    }
    if (works.length === 0) return;
    let bytes = 0;
    for (const w of works) bytes += w.work.bytes;
    const results: unknown[] =
      works.length === 1
        ? [await this.syncWork(works[0]!.work)]
        : await Promise.all(works.map((w) => this.syncWork(w.work)));
    const now = this.opts.clock.monotonic();
    for (let i = 0; i < works.length; i++) {
      const { log, work, prev, end, ended } = works[i]!;
      // After the earlier work of this log; if it failed, this one does not count either (it may not
      // have covered the earlier one's segments).
      const before = prev === undefined ? null : await prev;
      const err = results[i] ?? before ?? null;
      this.lastFlush.set(log, now);
      if (err) this.opts.logger.error("fdatasync failed; acknowledgements wait", { error: err });
      try {
        log.endFlush(work, err);
      } finally {
        end(err);
        if (this.ending.get(log) === ended) this.ending.delete(log);
      }
    }
    this.opts.observer?.onFsync?.(now - start, bytes);
  }

  /** fdatasync the work's segments: null when done, else the error. */
  private async syncWork(work: FlushWork): Promise<unknown> {
    try {
      const segs = work.segments;
      if (segs.length === 1) await this.syncSegment(segs[0]!);
      else await Promise.all(segs.map((s) => this.syncSegment(s)));
      return null;
    } catch (err) {
      return err ?? new Error("fdatasync failed");
    }
  }

  private syncSegment(seg: Segment): Promise<void> {
    if (seg.fd < 0) return Promise.resolve();
    const p = this.opts.io.fdatasync(seg.fd);
    // `syncing` covers every fdatasync of the segment in flight (closing waits for them all); it never rejects.
    const prev = seg.syncing;
    const all: Promise<void> = (prev === null ? p : Promise.allSettled([prev, p])).then(
      () => {
        if (seg.syncing === all) seg.syncing = null;
      },
      () => {
        if (seg.syncing === all) seg.syncing = null;
      },
    );
    seg.syncing = all;
    return p;
  }

  /** Wait for the round in flight (if any). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0 || this.scheduled) {
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else await new Promise<void>((r) => queueMicrotask(r));
    }
  }

  private checkpointAll(): void {
    for (const log of this.logs) {
      try {
        log.checkpoint();
      } catch (err) {
        this.opts.logger.warn("could not write a log checkpoint", { error: err });
      }
    }
  }

  /** Retry a log later (after a failed fsync), not in a tight loop. */
  retryLater(log: Flushable): void {
    this.dirty.add(log);
    this.retrying.add(log);
    this.arm();
  }

  async close(): Promise<void> {
    await this.settle();
    this.stop();
  }

  /** Stop the timers at once (no waiting for a round in flight). */
  stop(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.timer = null;
    this.checkpointTimer = null;
  }
}
