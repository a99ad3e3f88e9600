/**
 * Persistence shared by the offset and time indexes: an in-memory array of
 * fixed-size entries is the source of truth for lookups; the file gets the
 * new entries appended on `persist()` (at roll, checkpoint and close). Index
 * files are rebuildable, so losing unpersisted entries in a crash is fine:
 * recovery rebuilds the indexes of every segment past the recovery point.
 */
import fs from "node:fs";

export abstract class IndexFile {
  /** Entries in memory. */
  count = 0;
  /** Entries known to be in the file. */
  private persisted = 0;
  /** The file holds entries beyond `count` that must be cut off. */
  private needsTruncate = false;
  /** New entries or a truncation since the last fsync. */
  private unsynced = false;

  constructor(
    readonly path: string,
    readonly entrySize: number,
  ) {}

  protected abstract encode(from: number, to: number): Uint8Array;

  /** After loading a file whose entries are all already on disk. */
  protected markLoaded(fileEntries: number): void {
    this.persisted = this.count;
    this.needsTruncate = fileEntries !== this.count;
    this.unsynced = this.needsTruncate;
  }

  /** Drop in-memory entries from index `n` on. */
  protected cut(n: number): void {
    if (n >= this.count) return;
    this.count = n;
    if (this.persisted > n) {
      this.persisted = n;
      this.needsTruncate = true;
    }
  }

  get dirty(): boolean {
    return this.persisted < this.count || this.needsTruncate || this.unsynced;
  }

  /** Write pending entries (and a pending truncation); fsync when asked. */
  persist(sync: boolean): void {
    if (!this.dirty) return;
    const fd = fs.openSync(this.path, fs.existsSync(this.path) ? "r+" : "w+");
    try {
      if (this.needsTruncate) {
        fs.ftruncateSync(fd, this.persisted * this.entrySize);
        this.needsTruncate = false;
      }
      if (this.persisted < this.count) {
        const bytes = this.encode(this.persisted, this.count);
        fs.writeSync(fd, bytes, 0, bytes.length, this.persisted * this.entrySize);
        this.persisted = this.count;
      }
      this.unsynced = true;
      if (sync) {
        fs.fdatasyncSync(fd);
        this.unsynced = false;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Rewrite the whole file from memory (after a rebuild). */
  rewrite(sync: boolean): void {
    this.persisted = 0;
    this.needsTruncate = true;
    this.persist(sync);
  }

  remove(): void {
    fs.rmSync(this.path, { force: true });
  }
}

/** Read a whole index file; null if missing or its size is not a multiple of the entry size. */
export function readIndexFile(path: string, entrySize: number): Buffer | null {
  let data: Buffer;
  try {
    data = fs.readFileSync(path);
  } catch {
    return null;
  }
  return data.length % entrySize === 0 ? data : null;
}

/** Grow a typed array to hold at least `need` elements. */
export function grow<T extends Uint32Array | Float64Array>(arr: T, need: number, make: (n: number) => T): T {
  if (need <= arr.length) return arr;
  const next = make(Math.max(need, arr.length * 2, 64));
  next.set(arr);
  return next;
}
