/**
 * The node's in-memory view of its Raft log: a snapshot boundary
 * (`snapshotIndex`, `snapshotTerm`) followed by contiguous entries. The
 * metadata log is small and compacted by snapshots, so it lives in memory;
 * the driver mirrors every change into `RaftStorage`.
 */
import type { LogEntry } from "./types.ts";

export class RaftLog {
  snapshotIndex: number;
  snapshotTerm: number;
  private entries: LogEntry[];

  constructor(snapshotIndex = 0, snapshotTerm = 0, entries: readonly LogEntry[] = []) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.entries = [...entries];
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    const last = this.entries[this.entries.length - 1];
    return last ? last.term : this.snapshotTerm;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  /** Term at `index`, or undefined when compacted away (below the snapshot) or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1]!.term;
  }

  entry(index: number): LogEntry | undefined {
    if (index <= this.snapshotIndex) return undefined;
    return this.entries[index - this.snapshotIndex - 1];
  }

  /** Entries in [from, to] (inclusive), clamped to what is held. */
  slice(from: number, to: number): LogEntry[] {
    const lo = Math.max(from, this.firstIndex()) - this.snapshotIndex - 1;
    const hi = Math.min(to, this.lastIndex()) - this.snapshotIndex;
    return lo < hi ? this.entries.slice(lo, hi) : [];
  }

  /** Append entries that follow the last index. */
  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1)
        throw new Error(`raft log gap: ${e.index} after ${this.lastIndex()}`);
      this.entries.push(e);
    }
  }

  /** Remove every entry at `index` and above. */
  truncateFrom(index: number): void {
    if (index <= this.snapshotIndex)
      throw new Error(`raft log: cannot truncate into the snapshot (${index})`);
    this.entries.length = Math.max(0, index - this.snapshotIndex - 1);
  }

  /** Drop entries up to `index` (covered by a snapshot); keeps later ones. */
  compact(index: number, term: number): void {
    if (index <= this.snapshotIndex) return;
    if (index >= this.lastIndex()) this.entries = [];
    else this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** Replace everything with a snapshot boundary. */
  reset(index: number, term: number): void {
    this.entries = [];
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** Raft's election restriction: is (lastTerm, lastIndex) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** The first index holding `term`, scanning back from `from` (for fast backtracking). */
  firstIndexOfTerm(term: number, from: number): number {
    let i = Math.min(from, this.lastIndex());
    while (i > this.snapshotIndex + 1 && this.term(i - 1) === term) i--;
    return i;
  }

  /** The last index whose term is `term`, or 0 if the log holds none. */
  lastIndexOfTerm(term: number): number {
    for (let i = this.lastIndex(); i > this.snapshotIndex; i--) {
      const t = this.term(i)!;
      if (t === term) return i;
      if (t < term) return 0;
    }
    return this.snapshotTerm === term ? this.snapshotIndex : 0;
  }
}
