/**
 * A bounded map whose entries expire in insertion order (every entry lives
 * the same time), for the message layer's deduplication cache.
 *
 * Why not a plain Map evicting with `keys().next()`: in JavaScriptCore a
 * deleted Map entry stays a tombstone until the table is rehashed, and
 * iteration from the start walks over every tombstone, so evicting the
 * oldest entry on each insert turned O(n) and was the top of the publish
 * profile. Here a ring of keys remembers the order and the Map only looks up.
 */
export class ExpiringMap<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number; seq: number }>();
  private keys: string[] = [];
  private seqs: number[] = [];
  private nextSeq = 0;
  private head = 0;
  private count = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Insert (keys are expected to be new); the oldest entry goes when full. */
  set(key: string, value: V, expiresAt: number): void {
    const seq = this.nextSeq++;
    this.map.set(key, { value, expiresAt, seq });
    if (this.count === this.keys.length) this.grow();
    const slot = (this.head + this.count) % this.keys.length;
    this.keys[slot] = key;
    this.seqs[slot] = seq;
    this.count++;
    while (this.count > this.maxEntries) this.shift();
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  /** Drop entries that expired at or before `now`. */
  sweep(now: number): void {
    while (this.count > 0) {
      const e = this.map.get(this.keys[this.head]!);
      if (e && e.seq === this.seqs[this.head] && e.expiresAt > now) return;
      this.shift();
    }
  }

  clear(): void {
    this.map.clear();
    this.keys = [];
    this.seqs = [];
    this.head = 0;
    this.count = 0;
  }

  private shift(): void {
    const key = this.keys[this.head]!;
    const seq = this.seqs[this.head]!;
    this.keys[this.head] = "";
    this.head = (this.head + 1) % this.keys.length;
    this.count--;
    // A key deleted and set again is in the ring twice; only its newest slot owns the entry.
    if (this.map.get(key)?.seq === seq) this.map.delete(key);
  }

  private grow(): void {
    const size = Math.max(16, this.keys.length * 2);
    const keys = new Array<string>(size);
    const seqs = new Array<number>(size);
    for (let i = 0; i < this.count; i++) {
      keys[i] = this.keys[(this.head + i) % this.keys.length]!;
      seqs[i] = this.seqs[(this.head + i) % this.keys.length]!;
    }
    this.keys = keys;
    this.seqs = seqs;
    this.head = 0;
  }
}
