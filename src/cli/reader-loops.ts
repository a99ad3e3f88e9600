/**
 * Merge several read loops (one per partition, or one per connection) into
 * one stream of batches with hand-off backpressure: a loop's `emit` resolves
 * only when the consumer asks for the batch after it, so a loop never reads
 * ahead of what was printed (and committed). The first failing loop stops
 * the others and its error is thrown from the iterator.
 */
import type { ReadBatch } from "./backend.ts";

export type ReadLoop = (emit: (batch: ReadBatch) => Promise<void>, signal: AbortSignal) => Promise<void>;

export async function* mergeLoops(loops: readonly ReadLoop[], outer: AbortSignal): AsyncGenerator<ReadBatch> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (outer.aborted) stop.abort();
  outer.addEventListener("abort", onAbort, { once: true });
  const queue: Array<{ batch: ReadBatch; taken: () => void }> = [];
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  let running = loops.length;
  let failure: { err: unknown } | null = null;
  const emit = (batch: ReadBatch) =>
    new Promise<void>((resolve) => {
      if (stop.signal.aborted) return resolve();
      queue.push({ batch, taken: resolve });
      notify();
    });
  for (const loop of loops) {
    loop(emit, stop.signal)
      .catch((err: unknown) => {
        if (!stop.signal.aborted && failure === null) failure = { err };
        stop.abort();
      })
      .finally(() => {
        running--;
        notify();
      });
  }
  stop.signal.addEventListener(
    "abort",
    () => {
      for (const q of queue.splice(0)) q.taken();
      notify();
    },
    { once: true },
  );
  let previous: (() => void) | null = null;
  try {
    while (true) {
      previous?.();
      previous = null;
      if (failure !== null) throw (failure as { err: unknown }).err;
      const next = stop.signal.aborted ? undefined : queue.shift();
      if (next) {
        previous = next.taken;
        yield next.batch;
        continue;
      }
      if (running === 0) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (failure !== null) throw (failure as { err: unknown }).err;
  } finally {
    previous?.();
    stop.abort();
    for (const q of queue.splice(0)) q.taken();
    outer.removeEventListener("abort", onAbort);
  }
}
