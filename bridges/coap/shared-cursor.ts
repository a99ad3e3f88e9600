/**
 * The shared read cursor of an observed (topic, partition): woken by
 * broker.onAppend, it reads the newly visible records once and hands each
 * range [from, to) to ObserveManager.fanOutRange. One read runs at a time
 * per cursor; a wake-up during a read makes it read again.
 *
 * A read is sized so one fan-out pass sends about FANOUT_DATAGRAMS
 * notifications, and the cursor yields to the event loop between passes,
 * so the ACKs of CON notifications are processed while a backlog goes out
 * (otherwise every observer would look saturated until the backlog is gone).
 */
import { isEddyError } from "../../src/broker/index.ts";
import type { ObserveManager } from "./observe.ts";

const FANOUT_DATAGRAMS = 16_384;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function readSharedCursor(m: ObserveManager, topic: string, partition: number): Promise<void> {
  const ckey = `${topic}#${partition}`;
  let cursor = m.cursors.get(ckey);
  if (!cursor) {
    // A partition added after the registrations: everything on it is new.
    cursor = { next: 0, reading: false, again: false };
    m.cursors.set(ckey, cursor);
  }
  if (cursor.reading) {
    cursor.again = true;
    return;
  }
  cursor.reading = true;
  try {
    do {
      cursor.again = false;
      for (;;) {
        while ((m.o.backlog?.() ?? 0) > FANOUT_DATAGRAMS && !m.closed) await turn();
        if (m.closed || !m.byTopic.has(topic) || m.cursors.get(ckey) !== cursor) return;
        let res: Awaited<ReturnType<ObserveManager["o"]["broker"]["readRecords"]>>;
        try {
          const observers = m.countFor(topic);
          const maxRecords = Math.max(
            1,
            Math.min(500, Math.floor(FANOUT_DATAGRAMS / Math.max(1, observers))),
          );
          res = await m.o.broker.readRecords({
            topic,
            partition,
            offset: cursor.next,
            maxRecords,
            isolation: "read_committed", // never an open or aborted transaction's records
          });
        } catch (err) {
          if (isEddyError(err) && err.code === "OFFSET_OUT_OF_RANGE") {
            cursor.next = m.o.broker.partitionState(topic, partition).logStartOffset;
            continue;
          }
          throw err;
        }
        if (m.cursors.get(ckey) !== cursor) return;
        const from = cursor.next;
        if (res.nextOffset <= from) break;
        cursor.next = res.nextOffset;
        m.fanOutRange(topic, partition, from, res.nextOffset, res.records);
        if (res.nextOffset >= res.highWatermark) break;
        await turn();
      }
    } while (cursor.again);
  } catch (err) {
    m.o.logger.warn("coap: observe read failed", { topic, partition, error: (err as Error).message });
  } finally {
    cursor.reading = false;
  }
}
