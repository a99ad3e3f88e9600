/**
 * One node's part of an Eddy cluster: the Raft driver over the metadata
 * state machine, the controller (active on the Raft leader), and the replica
 * manager. The broker creates it when `cluster` options are given
 * (src/broker/options.ts); src/main.ts (or a test) carries `routes()` over
 * the peer transport and gives it a `rpc` function to call peers.
 *
 * Metadata changes reach the broker in log order through one queue:
 * topics first (`reconcileTopics`: open, grow, reconfigure, delete logs),
 * then partition roles (ReplicaManager.sync). An admin call resolves once
 * its command is applied *and* reconciled on this node, so a createTopic on
 * any node can be followed at once by a describe or produce on that node.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { isAbsentLog } from "../broker/absent-log.ts";
import type { Partition } from "../broker/partition.ts";
import type { PartitionReassignment, PartitionReassignmentRequest } from "../broker/types.ts";
import {
  adoptClusterId,
  agreedClusterId,
  checkPeerIdentities,
  IDENTITY_PATH,
  mismatch,
  proposedClusterId,
} from "./cluster-id.ts";
import { type AdminRequest, Controller } from "./controller.ts";
import { LOG_CLUSTER_ID_SETTING, type MetadataChange, MetadataMachine } from "./metadata-machine.ts";
import { describeReassignment, loadReassignments } from "./reassign.ts";
import {
  decodeJson,
  encodeJson,
  type PeerCall,
  PeerPath,
  type PeerRouteHandler,
  type PeerRpc,
} from "./peer-protocol.ts";
import { RaftDriver } from "./raft/driver.ts";
import { decodeMessage, encodeMessage } from "./raft/message-codec.ts";
import type { RaftStatus } from "./raft/node.ts";
import type { RaftStorage } from "./raft/storage.ts";
import { Role, type Voter } from "./raft/types.ts";
import { ReplicaManager } from "./replica-manager.ts";

/** How often replicas' high watermarks are checkpointed (Kafka: replica.high.watermark.checkpoint.interval.ms). */
const HW_CHECKPOINT_MS = 5_000;

/** Admin errors that mean "no controller reachable right now": retried until the deadline. */
const RETRY_ADMIN = new Set<string>([
  ErrorCode.NOT_LEADER,
  ErrorCode.TIMEOUT,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.NOT_FOUND,
]);

export interface ClusterOptions {
  /** Every voter of the cluster, this node included (2-5; a witness holds no partitions). */
  voters: Voter[];
  /** Raft's durable state (FileRaftStorage under the data dir; MemoryRaftStorage in tests). */
  raftStorage: RaftStorage;
  /** Calls a peer (src/replication/transport PeerClient.request in production). */
  rpc: PeerRpc;
  /** Raft election timeout (ms). Default 1000. */
  electionTimeoutMs?: number;
  /** Raft heartbeat (ms). Default 100. */
  heartbeatIntervalMs?: number;
  /** A node not answering the controller for this long loses its partition leaderships. Default: the election timeout. */
  nodeTimeoutMs?: number;
  /** replica.lag.time.max.ms. Default 30000 (Kafka's). */
  replicaLagTimeMaxMs?: number;
  /** A follower's fetch waits this long at the leader for data. Default 500 ms. */
  replicaFetchMaxWaitMs?: number;
  /** Each node's Kafka listener as clients should reach it (Kafka Metadata lists the brokers). */
  kafkaAddresses?: ReadonlyMap<number, { host: string; port: number }>;
  /** Hand leadership back to preferred replicas this often (ms; 0 = never). Default 300000 (Kafka's). */
  preferredLeaderCheckMs?: number;
  /** Take a metadata snapshot every this many entries. Default 1000. */
  snapshotEvery?: number;
  /** Admin requests give up after this long. Default 30000 ms. */
  adminTimeoutMs?: number;
  random?: () => number;
}

export interface ClusterNodeDeps {
  nodeId: number;
  options: ClusterOptions;
  store: MetadataStore;
  clock: Clock;
  logger: Logger;
  lookup: (topic: string, partition: number) => Partition | undefined;
  /** Bring the broker's open topics in line with the metadata store. */
  reconcileTopics: () => Promise<void>;
  /** After partition roles changed here (coordinators load or unload their partitions). */
  onRolesChanged?: () => void;
}

export interface ClusterStatus {
  nodeId: number;
  controllerId: number | null;
  /** This node has caught up with the controller's metadata and holds its partition roles. */
  ready: boolean;
  raft: RaftStatus;
  nodes: Array<{ id: number; witness: boolean; alive: boolean | null }>;
  /** The cluster id agreed through the metadata log (null until then). */
  clusterId?: string | null;
  /** Partition reassignments in progress. */
  reassignments?: PartitionReassignment[];
  /** Why this node refused to join (another cluster's id), else null. */
  error?: string | null;
}

export class ClusterNode {
  readonly machine: MetadataMachine;
  readonly replicas: ReplicaManager;
  private driver: RaftDriver | null = null;
  private controller: Controller | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private caughtUp = false;
  /** Set when this node refused to join (it belongs to another cluster). */
  private refusal: EddyError | null = null;
  /** The cluster id the controller named in its last answer to this node. */
  private controllerClusterId: string | null = null;

  constructor(private readonly d: ClusterNodeDeps) {
    const o = d.options;
    this.machine = new MetadataMachine({
      store: d.store,
      logger: d.logger,
      onChange: (change, index) => {
        if (change.kind === "cluster-id" || change.kind === "reset") this.adoptClusterId();
        if (change.kind !== "cluster-id") this.enqueueChange(change, index);
      },
    });
    this.replicas = new ReplicaManager({
      nodeId: d.nodeId,
      store: d.store,
      rpc: o.rpc,
      clock: d.clock,
      logger: d.logger,
      lookup: d.lookup,
      alterIsr: (req) => this.admin({ op: "alter-isr", ...req }),
      replicaLagTimeMaxMs: o.replicaLagTimeMaxMs ?? 30_000,
      fetchMaxWaitMs: o.replicaFetchMaxWaitMs ?? 500,
    });
  }

  get nodeId(): number {
    return this.d.nodeId;
  }

  /** Open Raft (replaying the metadata log), then start the controller and ISR loops. */
  async start(): Promise<void> {
    const o = this.d.options;
    if (!o.voters.some((v) => v.id === this.d.nodeId)) {
      throw new EddyError(
        ErrorCode.INVALID_CONFIG,
        `node ${this.d.nodeId} is not among the cluster peers: check node.id and cluster.peers`,
      );
    }
    const electionTimeoutMs = o.electionTimeoutMs ?? 1000;
    const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 100;
    await checkPeerIdentities({
      nodeId: this.d.nodeId,
      store: this.d.store,
      peers: o.voters.map((v) => v.id).filter((id) => id !== this.d.nodeId),
      rpc: o.rpc,
      timeoutMs: electionTimeoutMs,
    });
    this.driver = await RaftDriver.open({
      id: this.d.nodeId,
      config: { voters: o.voters },
      storage: o.raftStorage,
      machine: this.machine,
      clock: this.d.clock,
      logger: this.d.logger,
      random: o.random,
      electionTimeoutMs,
      heartbeatIntervalMs,
      snapshotEvery: o.snapshotEvery,
      send: (m) => {
        if (this.stopped) return;
        o.rpc(m.to, PeerPath.RAFT, encodeMessage(m), { timeoutMs: electionTimeoutMs }).catch(() => {});
      },
    });
    this.controller = new Controller({
      nodeId: this.d.nodeId,
      voters: o.voters,
      driver: this.driver,
      machine: this.machine,
      store: this.d.store,
      clock: this.d.clock,
      logger: this.d.logger,
      nodeTimeoutMs: o.nodeTimeoutMs ?? electionTimeoutMs,
      preferredLeaderCheckMs: o.preferredLeaderCheckMs ?? 300_000,
      proposedClusterId: () => proposedClusterId(this.d.store),
    });
    this.driver.start();
    void this.catchUp();
    const period = Math.max(10, Math.min(heartbeatIntervalMs, (o.replicaLagTimeMaxMs ?? 30_000) / 4));
    let lastCheckpoint = this.d.clock.monotonic();
    this.timer = setInterval(() => {
      if (this.stopped) return;
      this.replicas.tick();
      void this.controller?.tick();
      if (this.d.clock.monotonic() - lastCheckpoint >= HW_CHECKPOINT_MS) {
        lastCheckpoint = this.d.clock.monotonic();
        this.replicas.checkpoint();
      }
    }, period);
  }

  /** The peer RPC routes this node serves. */
  routes(): Map<string, PeerRouteHandler> {
    return new Map<string, PeerRouteHandler>([
      [
        PeerPath.RAFT,
        async (call: PeerCall) => {
          const m = decodeMessage(call.body);
          this.controller?.observe(m);
          this.driver?.receive(m);
          return null;
        },
      ],
      [
        PeerPath.ADMIN,
        async (call: PeerCall) => {
          const c = this.requireController();
          if (!c.isActive()) throw this.notController();
          try {
            const index = await c.handle(decodeJson<AdminRequest>(call.body, "admin request"));
            return encodeJson({ index, clusterId: this.agreedClusterId() });
          } catch (err) {
            // A refusal (e.g. the topic already exists) is judged on state up to our commit
            // index: the caller catches up to it before passing the refusal on.
            if (!(err instanceof EddyError) || RETRY_ADMIN.has(err.code)) throw err;
            const refused = { code: err.code, message: err.message };
            return encodeJson({
              index: this.driver!.status().commit,
              clusterId: this.agreedClusterId(),
              refused,
            });
          }
        },
      ],
      [IDENTITY_PATH, async () => encodeJson({ nodeId: this.d.nodeId, clusterId: this.agreedClusterId() })],
      [PeerPath.FETCH, (call: PeerCall) => this.replicas.handleFetch(call)],
      [PeerPath.EPOCH, (call: PeerCall) => this.replicas.handleEpoch(call)],
    ]);
  }

  /**
   * Have the controller carry out `req` (here if this node is the Raft
   * leader, else on the leader); resolves once applied and reconciled here.
   */
  async admin(req: AdminRequest): Promise<void> {
    const timeoutMs = this.d.options.adminTimeoutMs ?? 30_000;
    const deadline = this.d.clock.monotonic() + timeoutMs;
    let lastError: unknown = null;
    for (;;) {
      if (this.refusal) throw this.refusal;
      if (this.stopped) throw new EddyError(ErrorCode.SHUTTING_DOWN, "the cluster node is stopping");
      const c = this.requireController();
      const status = this.driver!.status();
      try {
        let index: number;
        if (c.isActive()) {
          index = await c.handle(req);
          this.controllerClusterId = this.agreedClusterId();
        } else if (status.leaderId !== null) {
          const left = Math.max(1, deadline - this.d.clock.monotonic());
          const body = await this.d.options.rpc(status.leaderId, PeerPath.ADMIN, encodeJson(req), {
            timeoutMs: left,
          });
          const answer = decodeJson<{
            index: number;
            clusterId?: string | null;
            refused?: { code: ErrorCode; message: string };
          }>(body, "admin response");
          index = answer.index;
          this.controllerClusterId = answer.clusterId ?? null;
          if (answer.refused) {
            // The controller judged state this node may not have applied yet (a topic
            // another node just created): catch up first, so a describe that follows works.
            await this.waitReconciled(index);
            throw new EddyError(answer.refused.code, answer.refused.message);
          }
        } else throw this.notController();
        await this.waitReconciled(index);
        return;
      } catch (err) {
        if (!(err instanceof EddyError) || !RETRY_ADMIN.has(err.code)) {
          // A refusal judged on this node's store: let the broker catch up with it too.
          await this.chain;
          throw err;
        }
        lastError = err;
      }
      if (this.d.clock.monotonic() >= deadline) {
        throw new EddyError(
          ErrorCode.TIMEOUT,
          `the cluster has no reachable controller (metadata leader) after ${timeoutMs} ms: check that a majority of nodes is up`,
          { cause: lastError instanceof Error ? lastError.message : String(lastError) },
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Start, replace or cancel partition reassignments (through the controller). */
  reassign(list: PartitionReassignmentRequest[]): Promise<void> {
    return this.admin({ op: "reassign", partitions: list });
  }

  /** The reassignments in progress, as this node's metadata holds them. */
  reassignments(): PartitionReassignment[] {
    const out: PartitionReassignment[] = [];
    for (const r of loadReassignments(this.d.store)) {
      const a = this.d.store.listPartitionAssignments(r.topic).find((x) => x.partition === r.partition);
      if (a) out.push(describeReassignment(r, a));
    }
    return out;
  }

  /** The cluster id agreed through the metadata log, once this node adopted it. */
  agreedClusterId(): string | null {
    return agreedClusterId(this.d.store);
  }

  /** Data nodes (partition replicas can live there). */
  dataNodes(): number[] {
    return this.d.options.voters.filter((v) => !v.witness).map((v) => v.id);
  }

  /** Data nodes with their Kafka addresses, and the controller. */
  view(): {
    controllerId: number | null;
    nodes: Array<{ id: number; kafkaHost: string | null; kafkaPort: number | null }>;
  } {
    const addresses = this.d.options.kafkaAddresses;
    return {
      controllerId: this.driver?.status().leaderId ?? null,
      nodes: this.dataNodes().map((id) => {
        const a = addresses?.get(id);
        return { id, kafkaHost: a?.host ?? null, kafkaPort: a?.port ?? null };
      }),
    };
  }

  status(): ClusterStatus {
    const raft = this.driver?.status() ?? null;
    if (!raft) throw new EddyError(ErrorCode.SHUTTING_DOWN, "the cluster node is not started");
    const alive = raft.role === Role.LEADER ? this.controller?.liveness() : undefined;
    return {
      nodeId: this.d.nodeId,
      controllerId: raft.leaderId,
      ready: this.caughtUp,
      raft,
      nodes: this.d.options.voters.map((v) => ({
        id: v.id,
        witness: v.witness === true,
        alive: alive ? alive.has(v.id) : null,
      })),
      clusterId: this.agreedClusterId(),
      reassignments: this.reassignments(),
      error: this.refusal?.message ?? null,
    };
  }

  /** Stop Raft, the loops and the fetchers (the broker closes the logs afterwards). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.driver?.stop();
    await this.replicas.close();
    await this.chain;
  }

  /**
   * Take partition roles only once this node has applied what the controller
   * knows: a restarted node must not lead (or accept writes) on a stale view.
   */
  private async catchUp(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.admin({ op: "barrier" });
        this.adoptClusterId();
        if (this.refusal) return;
        const mine = this.agreedClusterId();
        const theirs = this.controllerClusterId;
        if (mine !== null && theirs !== null && mine !== theirs) {
          this.refuse(mismatch(this.d.nodeId, mine, theirs, "the cluster's controller"));
          return;
        }
        this.caughtUp = true;
        this.enqueueChange({ kind: "reset" }, this.machine.applied);
        this.d.logger.info("cluster metadata caught up; taking partition roles", {
          applied: this.machine.applied,
        });
        return;
      } catch (err) {
        if (this.refusal) return;
        this.d.logger.debug("waiting for the cluster controller", { err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** The metadata log agreed on a cluster id: adopt it, or refuse to go on if this node belongs to another. */
  private adoptClusterId(): void {
    const logId = this.d.store.getSetting(LOG_CLUSTER_ID_SETTING);
    if (!logId) return;
    if (this.agreedClusterId() === logId) return;
    const refusal = adoptClusterId(this.d.store, this.d.nodeId, logId);
    if (refusal) this.refuse(refusal);
    else this.d.logger.info("cluster id agreed", { clusterId: logId });
  }

  /** Leave the cluster: stop Raft, the loops and the fetchers; admin calls fail with the reason. */
  private refuse(err: EddyError): void {
    if (this.refusal) return;
    this.refusal = err;
    this.d.logger.error("refusing to join the cluster", { err });
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.driver?.stop().catch(() => {});
    void this.replicas.close().catch(() => {});
  }

  private enqueueChange(change: MetadataChange, index: number): void {
    this.chain = this.chain
      .then(async () => {
        if (this.stopped) return;
        if (!this.caughtUp) {
          if (change.kind !== "partition" && change.kind !== "nodes") await this.d.reconcileTopics();
          return;
        }
        if (change.kind === "partition") {
          const a = this.d.store
            .listPartitionAssignments(change.topic)
            .find((x) => x.partition === change.partition);
          // Replica set changed for this node (reassignment): open or remove the log first.
          const p = this.d.lookup(change.topic, change.partition);
          if (a && p && a.replicas.includes(this.d.nodeId) === isAbsentLog(p.log)) {
            await this.d.reconcileTopics();
          }
          if (a) this.replicas.sync(a);
        } else if (change.kind === "topics" || change.kind === "reset") {
          await this.d.reconcileTopics();
          for (const a of this.d.store.listPartitionAssignments()) this.replicas.sync(a);
        }
        this.d.onRolesChanged?.();
      })
      .catch((err) => this.d.logger.error("applying a metadata change to the broker failed", { index, err }));
  }

  private async waitReconciled(index: number): Promise<void> {
    await this.machine.waitApplied(index);
    // apply() queued the entry's change synchronously, before this continuation ran.
    await this.chain;
  }

  private requireController(): Controller {
    if (!this.controller || !this.driver) {
      throw new EddyError(ErrorCode.SHUTTING_DOWN, "the cluster node is not started");
    }
    return this.controller;
  }

  private notController(): EddyError {
    return new EddyError(
      ErrorCode.NOT_LEADER,
      "this node is not the controller: retry on the metadata leader",
      {
        leaderId: this.driver?.status().leaderId ?? null,
      },
    );
  }
}
