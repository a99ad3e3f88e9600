/**
 * Catch-up for one observer behind the shared cursor of a partition (a
 * `?offset=N` replay, or an observer that was skipped while the cursor moved
 * on): it reads the log from the observer's position and delivers in order
 * until the position reaches the shared cursor, from where the live fan-out
 * takes over. It waits while the observer is saturated instead of dropping:
 * the log is its buffer. At most one catch-up runs per (observer, partition).
 */
import { isEddyError } from "../../src/broker/index.ts";
import type { ObserveManager, Observer } from "./observe.ts";

export async function catchUp(m: ObserveManager, ob: Observer, partition: number): Promise<void> {
  if (ob.catchingUp.has(partition) || ob.removed) return;
  ob.catchingUp.add(partition);
  try {
    for (;;) {
      if (ob.removed || m.closed) return;
      const cursor = m.cursors.get(`${ob.topic}#${partition}`);
      const pos = ob.pos[partition] ?? 0;
      if (!cursor || pos >= cursor.next) return; // the live fan-out serves it from here
      if (m.saturated(ob)) {
        await m.settled(ob);
        continue;
      }
      let res: Awaited<ReturnType<ObserveManager["o"]["broker"]["readRecords"]>>;
      try {
        res = await m.o.broker.readRecords({ topic: ob.topic, partition, offset: pos, maxRecords: 100 });
      } catch (err) {
        if (isEddyError(err) && err.code === "OFFSET_OUT_OF_RANGE") {
          ob.pos[partition] = m.o.broker.partitionState(ob.topic, partition).logStartOffset;
          if ((ob.pos[partition] ?? 0) <= pos) return;
          continue;
        }
        throw err;
      }
      if (res.nextOffset <= pos) return;
      let next = res.nextOffset;
      for (const r of res.records) {
        if (r.offset < pos) continue;
        if (m.saturated(ob)) {
          next = r.offset;
          break;
        }
        const prepared = m.prepare(partition, r);
        if (m.wants(ob, prepared)) m.deliver(ob, prepared, true);
      }
      ob.pos[partition] = next;
    }
  } catch (err) {
    m.o.logger.warn("coap: observer catch-up failed", {
      topic: ob.topic,
      partition,
      error: (err as Error).message,
    });
  } finally {
    ob.catchingUp.delete(partition);
  }
}
