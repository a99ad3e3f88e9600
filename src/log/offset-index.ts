/**
 * Sparse offset index of one segment (Kafka layout): 8-byte entries
 * relativeOffset uint32 BE | position uint32 BE, where relativeOffset is a
 * batch's base offset minus the segment's base offset and position is where
 * that batch starts in the .log file. One entry per `indexIntervalBytes`.
 */
import { grow, IndexFile, readIndexFile } from "./index-file.ts";

const ENTRY = 8;

export class OffsetIndex extends IndexFile {
  /** [rel0, pos0, rel1, pos1, ...] */
  private e = new Uint32Array(64);

  constructor(
    path: string,
    readonly baseOffset: number,
  ) {
    super(path, ENTRY);
  }

  /**
   * Load the file. Keeps the longest sane prefix (relative offsets and
   * positions strictly increasing, positions below `logSize`); returns false
   * if the file is missing, misshapen or had insane entries (rebuild it).
   */
  load(logSize: number): boolean {
    const data = readIndexFile(this.path, ENTRY);
    if (!data) return false;
    const n = data.length / ENTRY;
    this.e = new Uint32Array(Math.max(64, n * 2));
    let good = 0;
    let prevRel = -1;
    let prevPos = -1;
    for (let i = 0; i < n; i++) {
      const rel = data.readUInt32BE(i * ENTRY);
      const pos = data.readUInt32BE(i * ENTRY + 4);
      if (rel <= prevRel || pos <= prevPos || pos >= logSize) break;
      this.e[2 * good] = rel;
      this.e[2 * good + 1] = pos;
      good++;
      prevRel = rel;
      prevPos = pos;
    }
    this.count = good;
    this.markLoaded(n);
    return good === n;
  }

  clear(): void {
    this.cut(0);
  }

  append(offset: number, position: number): void {
    const rel = offset - this.baseOffset;
    if (this.count > 0 && rel <= this.e[2 * (this.count - 1)]!) return;
    this.e = grow(this.e, 2 * (this.count + 1), (k) => new Uint32Array(k));
    this.e[2 * this.count] = rel;
    this.e[2 * this.count + 1] = position;
    this.count++;
  }

  /** Position of the last indexed batch starting at or before `offset` (0 if none). */
  lookup(offset: number): number {
    const rel = offset - this.baseOffset;
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.e[2 * mid]! <= rel) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.e[2 * found + 1]!;
  }

  /** Last entry as [absolute offset, position], or null. */
  last(): [number, number] | null {
    if (this.count === 0) return null;
    return [this.baseOffset + this.e[2 * (this.count - 1)]!, this.e[2 * (this.count - 1) + 1]!];
  }

  /** Drop entries whose position is >= `position` (the log was cut there). */
  truncateToPosition(position: number): void {
    let n = this.count;
    while (n > 0 && this.e[2 * (n - 1) + 1]! >= position) n--;
    this.cut(n);
  }

  protected encode(from: number, to: number): Uint8Array {
    const out = Buffer.allocUnsafe((to - from) * ENTRY);
    for (let i = from; i < to; i++) {
      out.writeUInt32BE(this.e[2 * i]!, (i - from) * ENTRY);
      out.writeUInt32BE(this.e[2 * i + 1]!, (i - from) * ENTRY + 4);
    }
    return out;
  }
}
