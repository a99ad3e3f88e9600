/**
 * Mirror in cluster mode (issue 7 item 5: mirror progress fails over with its
 * partitions): a 3-node in-process edge cluster, one mirror per node with the
 * same link. Only the leader of a source partition forwards it; when that
 * leader is abandoned mid-drain, the new leader's mirror goes on from the
 * persisted progress (`__mirror_progress`, replicated), and central ends
 * with every record exactly once, in partition order.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Mirror, startMirror } from "../../bridges/mirror/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { TestCluster, waitFor } from "../cluster/cluster-harness.ts";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { values } from "./helpers.ts";

const TOPIC = "cm";
const REMOTE = `gw.${TOPIC}`;

let cluster: TestCluster | undefined;
let central: CentralEddy | undefined;
const mirrors = new Map<number, Mirror>();

afterEach(async () => {
  for (const m of mirrors.values()) await m.close().catch(() => {});
  mirrors.clear();
  await cluster?.stop();
  await central?.close();
  cluster = central = undefined;
});

describe("mirror on an edge cluster", () => {
  it("forwards from partition leaders only, and fails over with the progress: exactly once, in order", async () => {
    central = await startCentralEddy();
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: TOPIC, partitions: 2, replicationFactor: 3 });
    const leader0 = await c.leaderOf(TOPIC, 0);
    const leader1 = await c.leaderOf(TOPIC, 1);
    const produce = async (partition: number, n: number, from: number) => {
      const leader = await c.leaderOf(TOPIC, partition);
      await c
        .broker(leader)
        .produce({ topic: TOPIC, partition, acks: -1, records: values(n, from, `p${partition}-`) });
    };
    await produce(0, 300, 0);
    await produce(1, 100, 0);

    for (const n of c.live()) {
      mirrors.set(
        n.id,
        await startMirror({
          broker: n.broker,
          links: [
            {
              name: "up",
              bootstrap_servers: [central.bootstrap],
              topics: [TOPIC],
              source_id: "gw",
              retry_backoff_ms: 20,
              max_backoff_ms: 200,
              request_timeout_ms: 1000,
              batch: { max_records: 20, linger_ms: 0 },
              bandwidth_bytes_per_sec: 40_000,
            },
          ],
          logger: silentLogger,
          clock: systemClock,
        }),
      );
    }
    // Each partition is forwarded by its leader's mirror only.
    for (const [partition, leader] of [
      [0, leader0],
      [1, leader1],
    ] as const) {
      for (const [id, m] of mirrors) {
        const owns = (m.status()[0]?.partitions ?? []).some((p) => p.partition === partition);
        expect(owns).toBe(id === leader);
      }
    }
    // Mid-drain (the bandwidth cap keeps it slow), the leader of partition 0 dies.
    await waitFor(
      "partition 0 partly mirrored",
      async () => (await central!.records(REMOTE, 0)).length >= 60,
    );
    const mirroredBefore = (await central.records(REMOTE, 0)).length;
    expect(mirroredBefore).toBeLessThan(300);
    const dead = mirrors.get(leader0)!;
    mirrors.delete(leader0);
    await c.abandon(leader0);
    await dead.close().catch(() => {});

    const next0 = await c.leaderOf(TOPIC, 0, leader0);
    expect(next0).not.toBe(leader0);
    await produce(0, 50, 300);
    await produce(1, 20, 100);
    await waitFor(
      "everything mirrored by the new leader",
      async () =>
        (await central!.records(REMOTE, 0)).length >= 350 &&
        (await central!.records(REMOTE, 1)).length >= 120,
      30_000,
    );
    await Bun.sleep(300); // nothing more arrives
    for (const [partition, n] of [
      [0, 350],
      [1, 120],
    ] as const) {
      const got = await central.records(REMOTE, partition);
      expect(got.map((r) => header(r, "eddy.mirror.offset"))).toEqual(
        Array.from({ length: n }, (_, i) => String(i)),
      );
      expect(valuesOf(got)).toEqual(Array.from({ length: n }, (_, i) => `p${partition}-${i}`));
    }
    // The new leader resumed from the progress the old one saved, not from the start.
    const status = mirrors
      .get(next0)!
      .status()[0]!
      .partitions.find((p) => p.partition === 0)!;
    expect(status.mirroredOffset).toBe(350);
    expect(status.sentRecords).toBeLessThanOrEqual(350 - mirroredBefore + 50);
  }, 60_000);
});
