/**
 * In-process Eddy clusters for tests: N brokers, each with its own data
 * directory (file log store, SQLite metadata, file Raft storage), a real
 * peer transport (PeerServer h2c on a loopback port, PeerClient), and small
 * timeouts. `abandon(id)` kills a node the way a crash or a cut cable would
 * (listener gone, no clean close of its logs); `restart(id)` brings it back
 * on the same directory and port.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Broker, type ClusterOptions, createBroker } from "../../src/broker/index.ts";
import { FileRaftStorage } from "../../src/cluster/raft/file-storage.ts";
import { createFileLogStore, type FileLogStore } from "../../src/log/file-store.ts";
import { decodeRecords } from "../../src/log/record-batch.ts";
import { DEFAULT_LOG_CONFIG, type StoredRecord } from "../../src/log/types.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { createLogger, type Logger, silentLogger } from "../../src/observability/logger.ts";
import { PeerClient } from "../../src/replication/transport/client.ts";
import { PeerServer } from "../../src/replication/transport/server.ts";
import { systemClock } from "../../src/util/clock.ts";

const SECRET = "cluster-test-secret";
/** EDDY_TEST_LOG=info (or debug) prints the nodes' logs while debugging a test. */
const LOG_LEVEL = process.env.EDDY_TEST_LOG;
const nodeLogger = (id: number): Logger =>
  LOG_LEVEL ? createLogger({ level: LOG_LEVEL as "info" }, { node: id }) : silentLogger;

export interface TestNode {
  id: number;
  dir: string;
  port: number;
  broker: Broker;
  server: PeerServer;
  client: PeerClient;
  logStore: FileLogStore;
  raft: FileRaftStorage;
  alive: boolean;
}

export const FAST: Partial<ClusterOptions> = {
  electionTimeoutMs: 300,
  heartbeatIntervalMs: 50,
  nodeTimeoutMs: 600,
  replicaLagTimeMaxMs: 800,
  replicaFetchMaxWaitMs: 200,
  adminTimeoutMs: 10_000,
};

export class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  private readonly urls = new Map<number, string>();

  private constructor(
    readonly root: string,
    readonly size: number,
    private readonly overrides: Partial<ClusterOptions>,
    private readonly witnesses: readonly number[],
  ) {}

  /** `witnesses`: node ids that vote in Raft but hold no partitions. */
  static async start(
    size = 3,
    overrides: Partial<ClusterOptions> = {},
    witnesses: readonly number[] = [],
  ): Promise<TestCluster> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-cluster-"));
    const c = new TestCluster(root, size, overrides, witnesses);
    const servers = new Map<number, PeerServer>();
    for (let id = 1; id <= size; id++) {
      const s = new PeerServer({ hostname: "127.0.0.1", port: 0, secret: SECRET, logger: silentLogger });
      s.start();
      servers.set(id, s);
      c.urls.set(id, s.url);
    }
    await Promise.all([...servers].map(([id, s]) => c.startNode(id, s)));
    await waitFor("every node caught up with the controller", () =>
      c.live().every((n) => n.broker.clusterStatus()?.ready === true),
    );
    return c;
  }

  node(id: number): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  broker(id: number): Broker {
    return this.node(id).broker;
  }

  live(): TestNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  /** The live node that leads a partition and knows it (waits for one). */
  async leaderOf(topic: string, partition: number, notId = -1): Promise<number> {
    let found = -1;
    await waitFor(`a leader for ${topic}-${partition}`, async () => {
      for (const n of this.live()) {
        if (n.id === notId) continue;
        const p = (await n.broker.describeTopic(topic)).partitions[partition]!;
        // The metadata says so, and the node took the role (listOffsets refuses on a non-leader).
        if (
          p.leader === n.id &&
          (await n.broker.listOffsets(topic, partition, "latest")).leaderEpoch === p.leaderEpoch
        ) {
          found = n.id;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  /** Kill a node: its listener and client go away and its logs are dropped without a clean close. */
  async abandon(id: number): Promise<void> {
    const n = this.node(id);
    n.alive = false;
    await n.server.stop();
    n.client.close();
    n.logStore.abandon();
    // Release timers and the SQLite handle; errors from the abandoned logs are expected.
    await n.broker.close().catch(() => {});
    await n.raft.close().catch(() => {});
  }

  /** Cut a node off: peers cannot reach it and it cannot reach them, but it keeps running. */
  async isolate(id: number): Promise<void> {
    const n = this.node(id);
    await n.server.stop();
    n.client.close();
  }

  /** Stop a node cleanly (logs flushed and closed). */
  async shutdown(id: number): Promise<void> {
    const n = this.node(id);
    n.alive = false;
    await n.server.stop();
    n.client.close();
    await n.broker.close();
    await n.raft.close();
  }

  /** The records of a stopped node's partition log, read from its files. */
  async logRecords(id: number, topic: string, partition: number): Promise<StoredRecord[]> {
    const n = this.node(id);
    if (n.alive) throw new Error(`node ${id} is running: shut it down first`);
    const store = createFileLogStore({
      dataDir: path.join(n.dir, "data"),
      clock: systemClock,
      logger: silentLogger,
    });
    try {
      const log = await store.open(topic, partition, DEFAULT_LOG_CONFIG);
      const read = await log.read(log.offsets().logStartOffset, 64 * 1024 * 1024);
      return decodeRecords(read.bytes);
    } finally {
      await store.close();
    }
  }

  /** Start a node again on its directory and port. */
  async restart(id: number): Promise<TestNode> {
    const n = this.node(id);
    if (n.alive) await this.abandon(id);
    const s = new PeerServer({ hostname: "127.0.0.1", port: n.port, secret: SECRET, logger: silentLogger });
    s.start();
    return this.startNode(id, s);
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      n.alive = false;
      await n.server.stop();
      n.client.close();
      await n.broker.close().catch(() => {});
      await n.raft.close().catch(() => {});
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private async startNode(id: number, server: PeerServer): Promise<TestNode> {
    const dir = path.join(this.root, `n${id}`);
    fs.mkdirSync(dir, { recursive: true });
    const client = new PeerClient({
      nodeId: id,
      peers: this.urls,
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
      clock: systemClock,
      logger: nodeLogger(id),
      housekeepingIntervalMs: 0,
      transactions: { checkIntervalMs: 0 },
      cluster: {
        voters: Array.from({ length: this.size }, (_, i) =>
          this.witnesses.includes(i + 1) ? { id: i + 1, witness: true } : { id: i + 1 },
        ),
        raftStorage: raft,
        rpc: (peer, p, body, opts) => client.request(peer, p, body, opts),
        ...FAST,
        ...this.overrides,
      },
    });
    for (const [p, handler] of broker.peerRoutes()) server.route(p, handler);
    const node: TestNode = {
      id,
      dir,
      port: server.port,
      broker,
      server,
      client,
      logStore,
      raft,
      alive: true,
    };
    this.nodes.set(id, node);
    return node;
  }
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}
