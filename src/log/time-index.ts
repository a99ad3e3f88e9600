/**
 * Time index of one segment: 12-byte entries timestamp int64 BE |
 * relativeOffset uint32 BE. An entry (T, O) says: the largest timestamp in
 * the segment up to the batch at base offset O is T, so every batch before O
 * has timestamps <= T. Timestamps strictly increase.
 */
import { grow, IndexFile, readIndexFile } from "./index-file.ts";

const ENTRY = 12;

export class TimeIndex extends IndexFile {
  private ts = new Float64Array(32);
  private rel = new Uint32Array(32);

  constructor(
    path: string,
    readonly baseOffset: number,
  ) {
    super(path, ENTRY);
  }

  /** Load, keeping the longest sane prefix (increasing, offsets below `nextOffset`). False: rebuild. */
  load(nextOffset: number): boolean {
    const data = readIndexFile(this.path, ENTRY);
    if (!data) return false;
    const n = data.length / ENTRY;
    this.ts = new Float64Array(Math.max(32, n));
    this.rel = new Uint32Array(Math.max(32, n));
    let good = 0;
    let prevTs = Number.NEGATIVE_INFINITY;
    let prevRel = -1;
    const maxRel = nextOffset - this.baseOffset;
    for (let i = 0; i < n; i++) {
      const t = Number(data.readBigInt64BE(i * ENTRY));
      const r = data.readUInt32BE(i * ENTRY + 8);
      if (t <= prevTs || r < prevRel || r >= maxRel) break;
      this.ts[good] = t;
      this.rel[good] = r;
      good++;
      prevTs = t;
      prevRel = r;
    }
    this.count = good;
    this.markLoaded(n);
    return good === n;
  }

  clear(): void {
    this.cut(0);
  }

  lastTimestamp(): number {
    return this.count === 0 ? -1 : this.ts[this.count - 1]!;
  }

  /** Last entry as [timestamp, absolute offset], or null. */
  last(): [number, number] | null {
    if (this.count === 0) return null;
    return [this.ts[this.count - 1]!, this.baseOffset + this.rel[this.count - 1]!];
  }

  /** Append (timestamp, offset) if the timestamp is larger than the last entry's. */
  maybeAppend(timestamp: number, offset: number): void {
    if (this.count > 0 && timestamp <= this.ts[this.count - 1]!) return;
    this.ts = grow(this.ts, this.count + 1, (k) => new Float64Array(k));
    this.rel = grow(this.rel, this.count + 1, (k) => new Uint32Array(k));
    this.ts[this.count] = timestamp;
    this.rel[this.count] = offset - this.baseOffset;
    this.count++;
  }

  /**
   * An offset from which scanning forward finds the first record with
   * timestamp >= `target`: the offset of the last entry whose timestamp is
   * < target (all records before it are older), or the segment's base.
   */
  lookup(target: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid]! < target) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return this.baseOffset + (found < 0 ? 0 : this.rel[found]!);
  }

  /** Drop entries at or above `offset`. */
  truncateToOffset(offset: number): void {
    let n = this.count;
    while (n > 0 && this.baseOffset + this.rel[n - 1]! >= offset) n--;
    this.cut(n);
  }

  protected encode(from: number, to: number): Uint8Array {
    const out = Buffer.allocUnsafe((to - from) * ENTRY);
    for (let i = from; i < to; i++) {
      out.writeBigInt64BE(BigInt(this.ts[i]!), (i - from) * ENTRY);
      out.writeUInt32BE(this.rel[i]!, (i - from) * ENTRY + 8);
    }
    return out;
  }
}
