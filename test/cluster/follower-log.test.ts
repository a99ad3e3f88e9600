/**
 * Follower logs on 3 in-process nodes (real peer transport): a follower stores
 * the leader's batches as they are, and keeps up with a leader whose log has
 * changed under it while it was away.
 * - LogAppendTime topics: the leader's timestamps (and so its CRCs) are kept.
 * - A compacted leader's log skips offsets: the follower accepts the gaps, and
 *   once it leads it serves the same fetches and list-offsets answers.
 * - A follower whose log ends below the leader's log start (delete-records,
 *   retention) restarts its log at the leader's log start, inside a batch too,
 *   stays a replica in the ISR, and leads correctly afterwards.
 */
import { afterEach, describe, expect, it } from "bun:test";
import path from "node:path";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { decodeRecords, iterateBatches, readBatchHeader } from "../../src/log/record-batch.ts";
import { type CleanupPolicy, DEFAULT_LOG_CONFIG } from "../../src/log/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { dec, enc } from "../broker/helpers.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** Every stored batch of a stopped node's partition, as hex, with the log's offsets. */
async function rawLog(
  c: TestCluster,
  id: number,
  topic: string,
  cleanupPolicy: CleanupPolicy = "delete",
): Promise<{ start: number; end: number; batches: string[] }> {
  const n = c.node(id);
  if (n.alive) throw new Error(`node ${id} is running: shut it down first`);
  const store = createFileLogStore({
    dataDir: path.join(n.dir, "data"),
    clock: systemClock,
    logger: silentLogger,
  });
  try {
    const log = await store.open(topic, 0, { ...DEFAULT_LOG_CONFIG, cleanupPolicy });
    const { logStartOffset: start, logEndOffset: end } = log.offsets();
    const batches: string[] = [];
    let offset = start;
    while (offset < end) {
      const r = await log.read(offset, 1 << 20);
      if (r.batchCount === 0) break;
      for (const { pos, size } of iterateBatches(r.bytes))
        batches.push(Buffer.from(r.bytes.subarray(pos, pos + size)).toString("hex"));
      offset = r.nextOffset;
    }
    return { start, end, batches };
  } finally {
    await store.close();
  }
}

async function inIsr(c: TestCluster, leader: number, topic: string, id: number): Promise<boolean> {
  return (await c.broker(leader).describeTopic(topic)).partitions[0]!.isr.includes(id);
}

/** Wait until `follower` holds the leader's whole log and is back in the ISR. */
async function caughtUp(c: TestCluster, leader: number, follower: number, topic: string): Promise<void> {
  await waitFor(`node ${follower} caught up with ${topic}`, async () => {
    const l = c.broker(leader).partitionState(topic, 0);
    const f = c.broker(follower).partitionState(topic, 0);
    return f.logEndOffset === l.logEndOffset && (await inIsr(c, leader, topic, follower));
  });
}

describe("follower logs", () => {
  it("keeps the leader's LogAppendTime timestamps (same bytes, same CRC on every replica)", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({
      name: "lat",
      partitions: 1,
      replicationFactor: 3,
      configs: { "message.timestamp.type": "LogAppendTime" },
    });
    const leader = await c.leaderOf("lat", 0);
    const [away, stays] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    await c.shutdown(away);
    for (let i = 0; i < 3; i++) {
      await c.broker(leader).produce({
        topic: "lat",
        partition: 0,
        acks: 1,
        records: [{ value: enc(`a${i}`), timestamp: 1000 }],
      });
    }
    await waitFor(
      "the ISR shrinks to the leader",
      async () => (await inIsr(c, leader, "lat", away)) === false,
    );
    await waitFor("the leader commits", () => c.broker(leader).partitionState("lat", 0).highWatermark === 3);
    const stamped = (await c.broker(leader).readRecords({ topic: "lat", partition: 0, offset: 0 })).records;
    expect(stamped.length).toBe(3);
    expect(stamped.every((r) => r.timestamp > 1000)).toBe(true);
    // The returning follower appends later than the leader did: its clock differs from the stamps.
    await Bun.sleep(30);
    await c.restart(away);
    await caughtUp(c, leader, away, "lat");
    await c.broker(leader).produce({ topic: "lat", partition: 0, acks: -1, records: [{ value: enc("b") }] });
    const fromFollower = await c.broker(away).readRecords({ topic: "lat", partition: 0, offset: 0 });
    expect(fromFollower.records.slice(0, 3).map((r) => r.timestamp)).toEqual(stamped.map((r) => r.timestamp));

    for (const id of [away, stays, leader]) await c.shutdown(id);
    const want = await rawLog(c, leader, "lat");
    expect(want.batches.length).toBe(4);
    for (const id of [away, stays]) expect(await rawLog(c, id, "lat")).toEqual(want);
  }, 30_000);

  it("replicates a compacted leader's offset gaps, and serves them the same once it leads", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const created = await c.broker(1).createTopic({
      name: "cmp",
      partitions: 1,
      replicationFactor: 2,
      configs: { "cleanup.policy": "compact", "segment.bytes": 1024 },
    });
    const [leader, follower] = created.partitions[0]!.replicas as [number, number];
    expect(await c.leaderOf("cmp", 0)).toBe(leader);
    await c.shutdown(follower);
    const t0 = Date.now() - 100_000; // in the past: compaction keeps records newer than now
    const pad = "x".repeat(120);
    for (let i = 0; i < 40; i++) {
      await c.broker(leader).produce({
        topic: "cmp",
        partition: 0,
        acks: 1,
        records: [
          { key: enc(i % 3 === 0 ? "hot" : `k${i}`), value: enc(`v${i}${pad}`), timestamp: t0 + i * 1000 },
        ],
      });
    }
    await waitFor(
      "the ISR shrinks to the leader",
      async () => (await inIsr(c, leader, "cmp", follower)) === false,
    );
    await waitFor("the leader commits", () => c.broker(leader).partitionState("cmp", 0).highWatermark === 40);
    const report = await c.broker(leader).runHousekeeping();
    expect(report.compactedRecords).toBeGreaterThan(5);
    const before = await c
      .broker(leader)
      .readRecords({ topic: "cmp", partition: 0, offset: 0, maxRecords: 100 });
    const offsets = before.records.map((r) => r.offset);
    expect(offsets.length).toBeLessThan(40);
    expect(offsets.at(-1)).toBe(39);
    const gap = offsets.findIndex((o, i) => i > 0 && o !== offsets[i - 1]! + 1);
    expect(gap).toBeGreaterThan(0);
    const inGap = offsets[gap - 1]! + 1;
    const after = offsets[gap]!;
    const ts = { timestamp: t0 + inGap * 1000 };
    const leaderAnswers = {
      earliest: await c.broker(leader).listOffsets("cmp", 0, "earliest"),
      latest: await c.broker(leader).listOffsets("cmp", 0, "latest"),
      byTime: await c.broker(leader).listOffsets("cmp", 0, ts),
    };
    expect(leaderAnswers.byTime.offset).toBe(after);

    await c.restart(follower);
    await caughtUp(c, leader, follower, "cmp");
    expect(c.broker(follower).partitionState("cmp", 0).logEndOffset).toBe(40);
    const replica = await c
      .broker(follower)
      .readRecords({ topic: "cmp", partition: 0, offset: 0, maxRecords: 100 });
    expect(replica.records).toEqual(before.records);

    // The follower takes over: same records, same answers, and the next offset after the log end.
    await c.abandon(leader);
    expect(await c.leaderOf("cmp", 0)).toBe(follower);
    const nl = c.broker(follower);
    const fetched = await nl.fetch({ partitions: [{ topic: "cmp", partition: 0, offset: inGap }] });
    const part = fetched.partitions[0]!;
    expect(part.error).toBeNull();
    expect(readBatchHeader(part.records).baseOffset).toBeLessThanOrEqual(after);
    const got = decodeRecords(part.records).filter((r) => r.offset >= inGap);
    expect(got[0]!.offset).toBe(after);
    expect(dec(got[0]!.value)).toBe(dec(before.records[gap]!.value));
    expect(
      (await nl.readRecords({ topic: "cmp", partition: 0, offset: 0, maxRecords: 100 })).records,
    ).toEqual(before.records);
    expect(await nl.listOffsets("cmp", 0, "earliest")).toMatchObject({
      offset: leaderAnswers.earliest.offset,
    });
    expect(await nl.listOffsets("cmp", 0, "latest")).toMatchObject({ offset: 40 });
    expect(await nl.listOffsets("cmp", 0, ts)).toMatchObject({
      offset: after,
      timestamp: leaderAnswers.byTime.timestamp,
    });
    const res = await nl.produce({
      topic: "cmp",
      partition: 0,
      acks: 1,
      records: [{ key: enc("k9"), value: enc("new") }],
    });
    expect(res.partitions[0]!.baseOffset).toBe(40);

    // On disk, the old follower holds the compacted leader's batches byte for byte.
    await c.shutdown(follower);
    const mine = await rawLog(c, follower, "cmp", "compact");
    const theirs = await rawLog(c, leader, "cmp", "compact");
    expect(mine.batches.slice(0, theirs.batches.length)).toEqual(theirs.batches);
    expect(mine.end).toBe(41);
  }, 30_000);

  it("restarts a follower's log at the leader's log start when it fell below it", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const created = await c.broker(1).createTopic({
      name: "del",
      partitions: 1,
      replicationFactor: 2,
      configs: { "segment.bytes": 1024 },
    });
    const [leader, follower] = created.partitions[0]!.replicas as [number, number];
    expect(await c.leaderOf("del", 0)).toBe(leader);
    const batch = (from: number) =>
      Array.from({ length: 5 }, (_, i) => ({ value: enc(`v${from + i}${"x".repeat(60)}`) }));
    for (let i = 0; i < 10; i += 5)
      await c.broker(leader).produce({ topic: "del", partition: 0, acks: -1, records: batch(i) });
    expect(c.broker(follower).partitionState("del", 0).logEndOffset).toBe(10);
    await c.shutdown(follower);
    for (let i = 10; i < 50; i += 5)
      await c.broker(leader).produce({ topic: "del", partition: 0, acks: 1, records: batch(i) });
    await waitFor("the ISR shrinks to the leader", async () => !(await inIsr(c, leader, "del", follower)));
    await waitFor("the leader commits", () => c.broker(leader).partitionState("del", 0).highWatermark === 50);
    // Inside the batch 30..34: the follower's log end (10) is far below.
    expect(await c.broker(leader).deleteRecords("del", 0, 33)).toBe(33);

    await c.restart(follower);
    await caughtUp(c, leader, follower, "del");
    expect(c.broker(follower).partitionState("del", 0)).toMatchObject({
      logStartOffset: 33,
      logEndOffset: 50,
    });
    const read = await c
      .broker(follower)
      .readRecords({ topic: "del", partition: 0, offset: 33, maxRecords: 100 });
    expect(read.records.map((r) => r.offset)).toEqual(Array.from({ length: 17 }, (_, i) => 33 + i));
    expect(read.records.map((r) => dec(r.value))).toEqual(
      Array.from({ length: 17 }, (_, i) => `v${33 + i}${"x".repeat(60)}`),
    );
    // Still a replica of the partition, in the ISR, acknowledging acks=all writes.
    await c.broker(leader).produce({ topic: "del", partition: 0, acks: -1, records: batch(50) });
    expect(c.broker(follower).partitionState("del", 0).logEndOffset).toBe(55);

    // It leads correctly afterwards.
    await c.abandon(leader);
    expect(await c.leaderOf("del", 0)).toBe(follower);
    const nl = c.broker(follower);
    expect(await nl.listOffsets("del", 0, "earliest")).toMatchObject({ offset: 33 });
    expect(await nl.listOffsets("del", 0, "latest")).toMatchObject({ offset: 55 });
    const f = await nl.fetch({ partitions: [{ topic: "del", partition: 0, offset: 33 }] });
    expect(f.partitions[0]!.error).toBeNull();
    expect(f.partitions[0]!.logStartOffset).toBe(33);
    expect(decodeRecords(f.partitions[0]!.records).filter((r) => r.offset >= 33)[0]!.offset).toBe(33);
    const res = await nl.produce({ topic: "del", partition: 0, acks: 1, records: batch(55) });
    expect(res.partitions[0]!.baseOffset).toBe(55);

    // Its files survive a crash intact: nothing cut on recovery, same offsets.
    await c.abandon(follower);
    const disk = await rawLog(c, follower, "del");
    expect([disk.start, disk.end]).toEqual([33, 60]);
    expect(readBatchHeader(Buffer.from(disk.batches[0]!, "hex")).baseOffset).toBe(30);
    expect(disk.batches.length).toBe(6);
  }, 30_000);
});
