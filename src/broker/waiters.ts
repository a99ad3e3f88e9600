/**
 * Long-poll waiters keyed by partition ("topic\0partition"). A fetch that has
 * not yet got minBytes registers on every partition it reads; the broker
 * wakes them when a high watermark advances, a topic is deleted, or the
 * broker closes.
 */

export type WaitOutcome = "data" | "timeout" | "aborted";

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class PartitionWaiters {
  private readonly byKey = new Map<string, Set<() => void>>();

  /** Wait until any of `keys` is notified, `timeoutMs` passes, or `signal` aborts. */
  wait(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (signal?.aborted) return Promise.resolve("aborted");
    if (timeoutMs <= 0) return Promise.resolve("timeout");
    return new Promise<WaitOutcome>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (outcome: WaitOutcome): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        for (const key of keys) {
          const set = this.byKey.get(key);
          if (!set) continue;
          set.delete(onData);
          if (set.size === 0) this.byKey.delete(key);
        }
        resolve(outcome);
      };
      const onData = (): void => finish("data");
      const onAbort = (): void => finish("aborted");
      for (const key of keys) {
        let set = this.byKey.get(key);
        if (!set) {
          set = new Set();
          this.byKey.set(key, set);
        }
        set.add(onData);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      timer = setTimeout(() => finish("timeout"), timeoutMs);
    });
  }

  notify(key: string): void {
    const set = this.byKey.get(key);
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Wake every waiter on a topic (deleted) or everything (close). */
  notifyAll(topic?: string): void {
    const prefix = topic === undefined ? "" : `${topic}\u0000`;
    for (const key of [...this.byKey.keys()]) if (key.startsWith(prefix)) this.notify(key);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }
}
