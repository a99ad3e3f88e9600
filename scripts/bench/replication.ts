/**
 * Replication benchmark (issue 7, item 8), first cut.
 *
 *   bun scripts/bench/replication.ts [--seconds N] [--concurrency N] [--batch N] [--size B]
 *
 * One process, three brokers in cluster mode (file log stores with the
 * default fsync durability, file Raft storage, the real HTTP/2 peer transport
 * on loopback), so all three share this machine's cores and disk. In the same
 * run: acks=all produce throughput to an RF=1 topic (the baseline) and to an
 * RF=3 topic, each with `--concurrency` producers of `--batch` records of
 * `--size` bytes on the partition leader; then the failover time from
 * abandoning the RF=3 leader to the first acks=all write accepted by the new
 * leader (default timeouts: 1 s election, 1 s node timeout). Prints records/s
 * and the RF=3 / RF=1 ratio.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { FileRaftStorage } from "../../src/cluster/raft/file-storage.ts";
import { createFileLogStore, type FileLogStore } from "../../src/log/file-store.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { PeerClient } from "../../src/replication/transport/client.ts";
import { PeerServer } from "../../src/replication/transport/server.ts";
import { systemClock } from "../../src/util/clock.ts";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "8" },
    batch: { type: "string", default: "100" },
    size: { type: "string", default: "100" },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const BATCH = Number(args.batch);
const SIZE = Number(args.size);
const SECRET = "bench";

interface Node {
  id: number;
  broker: Broker;
  server: PeerServer;
  client: PeerClient;
  logStore: FileLogStore;
  raft: FileRaftStorage;
}

async function startCluster(root: string): Promise<Node[]> {
  const servers = [1, 2, 3].map((id) => {
    const s = new PeerServer({ hostname: "127.0.0.1", port: 0, secret: SECRET, logger: silentLogger });
    s.start();
    return { id, s };
  });
  const urls = new Map(servers.map(({ id, s }) => [id, s.url]));
  return Promise.all(
    servers.map(async ({ id, s }) => {
      const dir = path.join(root, `n${id}`);
      const client = new PeerClient({
        nodeId: id,
        peers: urls,
        secret: SECRET,
        logger: silentLogger,
        retries: 0,
      });
      const raft = await FileRaftStorage.open(path.join(dir, "raft"));
      const logStore = createFileLogStore({
        dataDir: path.join(dir, "data"),
        clock: systemClock,
        logger: silentLogger,
      });
      const broker = await createBroker({
        nodeId: id,
        logStore,
        metadata: openMetadataStore({ path: path.join(dir, "meta.db") }),
        housekeepingIntervalMs: 0,
        cluster: {
          voters: [{ id: 1 }, { id: 2 }, { id: 3 }],
          raftStorage: raft,
          rpc: (peer, p, body, opts) => client.request(peer, p, body, opts),
        },
      });
      for (const [p, h] of broker.peerRoutes()) s.route(p, h);
      return { id, broker, server: s, client, logStore, raft };
    }),
  );
}

async function leaderOf(nodes: Node[], topic: string, not = -1): Promise<Node> {
  for (;;) {
    for (const n of nodes) {
      if (n.id === not) continue;
      try {
        const p = (await n.broker.describeTopic(topic)).partitions[0]!;
        if (p.leader === n.id) {
          await n.broker.listOffsets(topic, 0, "latest");
          return n;
        }
      } catch {
        // not yet
      }
    }
    await Bun.sleep(10);
  }
}

async function produceFor(broker: Broker, topic: string, seconds: number): Promise<number> {
  const value = new Uint8Array(SIZE).fill(120);
  const records = Array.from({ length: BATCH }, () => ({ value }));
  const until = performance.now() + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await broker.produce({ topic, partition: 0, acks: -1, records });
        count += BATCH;
      }
    }),
  );
  return count / seconds;
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-bench-repl-"));
const nodes = await startCluster(root);
try {
  while (!nodes.every((n) => n.broker.clusterStatus()?.ready)) await Bun.sleep(20);
  await nodes[0]!.broker.createTopic({ name: "rf1", partitions: 1, replicationFactor: 1 });
  await nodes[0]!.broker.createTopic({ name: "rf3", partitions: 1, replicationFactor: 3 });
  const l1 = await leaderOf(nodes, "rf1");
  const l3 = await leaderOf(nodes, "rf3");
  await produceFor(l1.broker, "rf1", 0.5); // warm-up
  const rf1 = await produceFor(l1.broker, "rf1", SECONDS);
  const rf3 = await produceFor(l3.broker, "rf3", SECONDS);
  console.log(`acks=all, ${CONCURRENCY} producers x ${BATCH} records x ${SIZE} B, ${SECONDS} s each`);
  console.log(`  RF=1: ${Math.round(rf1)} records/s`);
  console.log(`  RF=3: ${Math.round(rf3)} records/s  (ratio ${(rf3 / rf1).toFixed(2)} x RF=1)`);

  // Failover: abandon the RF=3 leader, time until the new leader takes an acks=all write.
  const t0 = performance.now();
  await l3.server.stop();
  l3.client.close();
  l3.logStore.abandon();
  for (;;) {
    const next = await leaderOf(nodes, "rf3", l3.id);
    try {
      await next.broker.produce({
        topic: "rf3",
        partition: 0,
        acks: -1,
        timeoutMs: 2_000,
        records: [{ value: null }],
      });
      break;
    } catch {
      await Bun.sleep(5);
    }
  }
  console.log(
    `  failover: ${Math.round(performance.now() - t0)} ms from leader loss to an acks=all write accepted`,
  );
} finally {
  for (const n of nodes) {
    await n.server.stop();
    n.client.close();
    await n.broker.close().catch(() => {});
    await n.raft.close().catch(() => {});
  }
  fs.rmSync(root, { recursive: true, force: true });
}
