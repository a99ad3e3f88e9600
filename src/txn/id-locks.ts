/**
 * Per-transactional-id serialisation for the transaction coordinator:
 * operations on one id run one after another (a failed one does not block
 * the next); different ids run in parallel.
 */
export class IdLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Run `fn` after every earlier operation on `id` has settled. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(id, tail);
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return run;
  }

  /** Wait until the operations queued so far have settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}
