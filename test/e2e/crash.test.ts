/**
 * Crash test on the compiled binary: producers write with acks=all over HTTP
 * while the broker is killed with SIGKILL (no shutdown, no final fsync). After
 * a restart on the same directory every acknowledged record must be there,
 * unchanged and in order, nothing corrupt is served, and new appends continue
 * after the recovered end.
 */
import { describe, expect, it } from "bun:test";
import { api, useBinary } from "../helpers/binary.ts";

const { tmpDir, start } = useBinary();

interface Produced {
  records: Array<{ partition: number; offset: number }>;
}
interface ReadBody {
  records: Array<{ offset: number; key: string; value: { p: number; seq: number } }>;
  nextOffset: number;
  highWatermark: number;
}

async function readPartition(url: string, topic: string, partition: number): Promise<ReadBody["records"]> {
  const out: ReadBody["records"] = [];
  let offset = 0;
  for (;;) {
    const { status, body } = await api<ReadBody>(
      `${url}/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}&maxRecords=1000`,
    );
    expect(status).toBe(200);
    out.push(...body.records);
    if (body.records.length === 0 || body.nextOffset >= body.highWatermark) return out;
    offset = body.nextOffset;
  }
}

describe("crash: SIGKILL under acks=all load", () => {
  it("keeps every acknowledged record and continues after the recovered end", async () => {
    const dataDir = tmpDir();
    const first = await start(dataDir);
    const created = await api(`${first.url}/v1/topics`, {
      method: "POST",
      json: { name: "crash", partitions: 2, configs: { "segment.bytes": 65536 } },
    });
    expect(created.status).toBe(201);

    // Four producers, each its own sequence, acks=all; remember what was acknowledged.
    const acked = new Map<string, { partition: number; offset: number }>();
    let stop = false;
    const producer = async (p: number): Promise<void> => {
      for (let seq = 0; !stop; seq++) {
        const records = Array.from({ length: 20 }, (_, i) => ({
          key: `p${p}-${seq}-${i}`,
          value: { p, seq: seq * 20 + i },
          partition: p % 2,
        }));
        try {
          const res = await api<Produced>(`${first.url}/v1/topics/crash/records`, {
            method: "POST",
            json: { records, acks: "all" },
          });
          if (res.status !== 200) return;
          for (const [i, r] of res.body.records.entries()) acked.set(records[i]!.key, r);
        } catch {
          return; // the broker died mid-request: this batch was never acknowledged
        }
      }
    };
    const running = [0, 1, 2, 3].map(producer);
    while (acked.size < 3000) await Bun.sleep(10);
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    stop = true;
    await Promise.all(running);

    const again = await start(dataDir);
    const stored = new Map<
      string,
      { partition: number; offset: number; value: { p: number; seq: number } }
    >();
    for (const partition of [0, 1]) {
      const records = await readPartition(again.url, "crash", partition);
      // Offsets are dense and increasing; each producer's records are in its own order.
      expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => records[0]!.offset + i));
      const lastSeq = new Map<number, number>();
      for (const r of records) {
        expect(r.value.seq).toBeGreaterThan(lastSeq.get(r.value.p) ?? -1);
        lastSeq.set(r.value.p, r.value.seq);
        stored.set(r.key, { partition, offset: r.offset, value: r.value });
      }
    }
    let missing = 0;
    for (const [key, where] of acked) {
      const found = stored.get(key);
      if (!found || found.partition !== where.partition || found.offset !== where.offset) missing++;
    }
    expect(acked.size).toBeGreaterThanOrEqual(3000);
    expect(missing).toBe(0);

    // Appends continue right after the recovered end.
    const ends = [0, 1].map((p) => [...stored.values()].filter((s) => s.partition === p).length);
    const more = await api<Produced>(`${again.url}/v1/topics/crash/records`, {
      method: "POST",
      json: { records: [{ key: "after", value: { p: 9, seq: 0 }, partition: 0 }], acks: "all" },
    });
    expect(more.status).toBe(200);
    expect(more.body.records[0]!.offset).toBe(ends[0]!);
    again.proc.kill("SIGTERM");
    expect(await again.proc.exited).toBe(0);
  }, 60_000);
});
