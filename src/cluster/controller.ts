/**
 * The cluster controller: whichever node is the Raft leader acts as
 * controller, and only it proposes metadata commands. Every other node
 * forwards admin requests to it (cluster-node.ts).
 *
 * - Admin requests (create/delete topic, alter configs, create partitions,
 *   ISR changes from partition leaders) are validated against the applied
 *   state, serialized, proposed, and answered with the log index once
 *   committed and applied here.
 * - Replica assignment: data nodes only (witnesses never hold partitions),
 *   round-robin from a per-topic start so leaders spread across nodes.
 * - Liveness: a node is alive while it answers the Raft leader's heartbeats
 *   (RaftNode.peerContacts) within `nodeTimeoutMs`; the node this one
 *   followed before it took over is judged from its last word instead (see
 *   `liveness` and `observe`: a controller+leader kill then costs one Raft
 *   election, not an election plus a node timeout). When a partition's
 *   leader is not alive, the controller elects the first live replica of the
 *   ISR in replica order (no unclean election: never outside the ISR), drops
 *   dead nodes from the ISR (never emptying it) and bumps the leader epoch.
 *   With no live ISR member the partition goes leaderless (-1) until one
 *   returns.
 * - Preferred-leader rebalancing: every `preferredLeaderCheckMs`, a partition
 *   led by another replica while its first replica is alive and in sync
 *   moves back to it (Kafka's auto.leader.rebalance), so leaders spread again
 *   after a node returns.
 * - Registers the configured voters as nodes when it takes over, and
 *   proposes its own cluster id when the metadata log has none yet (the
 *   first one in the log wins; every node adopts it).
 * - Partition reassignment (reassign.ts): admin requests start, replace or
 *   cancel one; each tick completes those whose target replicas are all in
 *   the ISR (moving leadership off a removed leader at the same time).
 *
 * A new controller first waits for a read index (its state machine has
 * applied every entry committed before it took over) before acting.
 */
import type { PartitionReassignmentRequest } from "../broker/types.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import type { MetadataStore, PartitionAssignment, TopicRecord } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { CommandType, encodeCommand, type MetadataCommand } from "./commands.ts";
import { LOG_CLUSTER_ID_SETTING, type MetadataMachine } from "./metadata-machine.ts";
import type { RaftDriver } from "./raft/driver.ts";
import { MessageType, type RaftMessage, Role, type Voter } from "./raft/types.ts";
import {
  findReassignment,
  loadReassignments,
  planCancel,
  planComplete,
  planStart,
  type ReassignmentRecord,
  validateTarget,
} from "./reassign.ts";
import type { IsrChangeRequest } from "./replica-manager.ts";

export type AdminRequest =
  | { op: "create-topic"; topic: TopicRecord }
  | { op: "delete-topic"; name: string }
  | { op: "alter-configs"; name: string; configs: Record<string, string> }
  | { op: "create-partitions"; name: string; count: number }
  | ({ op: "alter-isr" } & IsrChangeRequest)
  /** Start, replace or cancel (replicas null) partition reassignments; all validated before any is proposed. */
  | { op: "reassign"; partitions: PartitionReassignmentRequest[] }
  /** Proposes nothing: answers the controller's applied index (catch up to what the controller knows). */
  | { op: "barrier" };

export interface ControllerOptions {
  nodeId: number;
  voters: readonly Voter[];
  driver: RaftDriver;
  machine: MetadataMachine;
  store: MetadataStore;
  clock: Clock;
  logger: Logger;
  /** A node not heard from for this long is dead (its partitions fail over). */
  nodeTimeoutMs: number;
  /** Move leadership back to preferred replicas this often (0 = never). */
  preferredLeaderCheckMs: number;
  /** The cluster id this node proposes when the metadata log has none yet. */
  proposedClusterId: () => string;
}

/** How often a reassignment request is re-planned when a concurrent leader change made it stale. */
const REASSIGN_ATTEMPTS = 5;

/**
 * Raft messages that show their sender can reach this node *and* hear it (or
 * leads it): a leader's appends, snapshots and TimeoutNow, and the answers
 * to this node's own appends, snapshots and (pre-)votes. A vote request does
 * not count: a node that cannot hear the leader campaigns, so it would look
 * alive while followers cannot reach it.
 */
const PROOF_OF_LIFE = new Set<string>([
  MessageType.APPEND,
  MessageType.SNAPSHOT,
  MessageType.TIMEOUT_NOW,
  MessageType.APPEND_RESP,
  MessageType.SNAPSHOT_RESP,
  MessageType.VOTE_RESP,
  MessageType.PRE_VOTE_RESP,
]);

export class Controller {
  private readyTerm = -1;
  private readying: Promise<void> | null = null;
  private adminTail: Promise<unknown> = Promise.resolve();
  private readonly inFlight = new Set<string>();
  private lastRebalanceAt: number;
  /** Per peer: the last proof-of-life Raft message from it (monotonic ms) and its term. */
  private readonly heard = new Map<number, { at: number; term: number }>();
  /** The leader this node followed last (sender of the last append/snapshot in a term not below ours). */
  private lastLeader: number | null = null;
  /** The Raft term this node last took over in, and the leader it followed before that. */
  private takeover: { term: number; prevLeader: number | null } = { term: -1, prevLeader: null };

  constructor(private readonly o: ControllerOptions) {
    this.lastRebalanceAt = o.clock.monotonic();
  }

  isActive(): boolean {
    return this.o.driver.status().role === Role.LEADER;
  }

  /** Data nodes (non-witness voters), by id. */
  dataNodes(): number[] {
    return this.o.voters
      .filter((v) => !v.witness)
      .map((v) => v.id)
      .sort((a, b) => a - b);
  }

  /** Validate, propose and apply one admin request; resolves with its log index. */
  handle(req: AdminRequest): Promise<number> {
    const run = this.adminTail.then(async () => {
      await this.ready();
      if (req.op === "barrier") return this.o.machine.applied;
      if (req.op === "reassign") return this.reassign(req.partitions);
      const cmd = this.plan(req);
      return this.propose(cmd);
    });
    this.adminTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** One controller pass: register nodes, fail partitions over from dead leaders. */
  async tick(): Promise<void> {
    if (!this.isActive()) return;
    try {
      await this.ready();
    } catch {
      return;
    }
    const store = this.o.store;
    const known = new Set(store.listClusterNodes().map((n) => n.id));
    for (const v of this.o.voters) {
      if (known.has(v.id)) continue;
      this.background(`node:${v.id}`, {
        type: CommandType.REGISTER_NODE,
        id: v.id,
        witness: v.witness === true,
        at: this.o.clock.now(),
      });
    }
    if (!store.getSetting(LOG_CLUSTER_ID_SETTING)) {
      this.background("cluster-id", { type: CommandType.SET_CLUSTER_ID, id: this.o.proposedClusterId() });
    }
    const alive = this.liveness();
    const reassignments = loadReassignments(store);
    const now = this.o.clock.monotonic();
    const rebalance =
      this.o.preferredLeaderCheckMs > 0 && now - this.lastRebalanceAt >= this.o.preferredLeaderCheckMs;
    if (rebalance) this.lastRebalanceAt = now;
    for (const a of store.listPartitionAssignments()) {
      const moving = findReassignment(reassignments, a.topic, a.partition);
      const cmd =
        electLeader(a, alive) ??
        (moving ? planComplete(a, moving, alive) : null) ??
        (rebalance ? preferredLeader(a, alive) : null);
      if (cmd) this.background(`tp:${a.topic}:${a.partition}`, cmd);
    }
  }

  /**
   * Note a Raft message before the driver handles it (cluster-node.ts's
   * Raft route): the liveness record this node keeps as a follower, for the
   * day it takes over as controller.
   */
  observe(m: RaftMessage): void {
    if (m.from === this.o.nodeId || !PROOF_OF_LIFE.has(m.type)) return;
    // A sender behind our term is a deposed node that has not heard of the current one.
    if (m.term < this.o.driver.status().term) return;
    this.heard.set(m.from, { at: this.o.clock.monotonic(), term: m.term });
    if (m.type === MessageType.APPEND || m.type === MessageType.SNAPSHOT) this.lastLeader = m.from;
  }

  /**
   * Ids of the nodes the controller considers alive now.
   *
   * Raft's own signal (peerContacts) starts every peer's clock at the
   * takeover, as if each had just answered. For the leader this node
   * followed until the takeover (usually the node whose loss caused the
   * election) that would add a full node timeout to every controller
   * failover, although this node watched it go quiet: as a follower it got
   * its heartbeats every heartbeatIntervalMs, and it campaigned only after
   * hearing nothing for an election timeout (transfers aside). So until that
   * node answers in the new term, its age counts from its last word to this
   * node; every other peer, of which a follower sees nothing, keeps the grace
   * from the takeover.
   *
   * Safety does not rest on this judgement: a live node wrongly judged dead
   * loses its partition leaderships exactly as after a timeout. The new
   * leader is an ISR member in a higher leader epoch, so it holds every
   * committed record (the high watermark is the minimum ISR log end), and
   * the deposed leader cannot commit acks=all writes any more: its high
   * watermark needs every ISR member's fetches in its epoch, the followers
   * now fetch from the new leader (a fetch in an old epoch is fenced), and
   * only this controller changes the ISR, refusing changes from a stale
   * leader epoch (plan "alter-isr"). Its uncommitted tail is truncated by
   * leader epoch when it follows again. The cost of a wrong judgement is
   * availability: a partition moves and comes back by preferred-leader
   * rebalancing.
   */
  liveness(): Set<number> {
    const alive = new Set([this.o.nodeId]);
    const prev = this.previousLeader();
    const now = this.o.clock.monotonic();
    const term = this.o.driver.status().term;
    for (const [id, raftAge] of this.o.driver.node.peerContacts()) {
      let age = raftAge;
      if (id === prev) {
        const h = this.heard.get(id);
        // Not heard in this term yet: its silence started before the takeover.
        if (!h || h.term < term) age = Math.max(age, h ? now - h.at : Number.POSITIVE_INFINITY);
      }
      if (age < this.o.nodeTimeoutMs) alive.add(id);
    }
    return alive;
  }

  /** While this node leads: the leader it followed before taking over in the current term (null if none known). */
  private previousLeader(): number | null {
    const { role, term } = this.o.driver.status();
    if (role !== Role.LEADER) return null;
    if (this.takeover.term !== term) {
      this.takeover = { term, prevLeader: this.lastLeader };
      // Later takeovers must not blame a leader from before this one.
      this.lastLeader = null;
    }
    return this.takeover.prevLeader;
  }

  /**
   * Plan every request first (nothing is proposed if one is invalid), then
   * propose them; a command skipped at apply because a leader change made it
   * stale is planned again.
   */
  private async reassign(list: PartitionReassignmentRequest[]): Promise<number> {
    let index = this.o.machine.applied;
    let pending = this.planReassignments(list);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= REASSIGN_ATTEMPTS) {
        throw new EddyError(
          ErrorCode.NOT_LEADER,
          "partition leaders kept changing while the reassignment was proposed: retry",
        );
      }
      const results = await Promise.all(pending.map((p) => this.propose(p.cmd)));
      index = Math.max(index, ...results);
      const stale = pending.filter((p) => !this.reassignmentApplied(p.req));
      pending = this.planReassignments(stale.map((p) => p.req));
    }
    return index;
  }

  private planReassignments(
    list: PartitionReassignmentRequest[],
  ): Array<{ req: PartitionReassignmentRequest; cmd: MetadataCommand }> {
    const store = this.o.store;
    const reassignments = loadReassignments(store);
    const alive = this.liveness();
    const out: Array<{ req: PartitionReassignmentRequest; cmd: MetadataCommand }> = [];
    const seen = new Set<string>();
    for (const req of list) {
      const k = `${req.topic}\u0000${req.partition}`;
      if (seen.has(k)) {
        throw new EddyError(
          ErrorCode.INVALID_REQUEST,
          `${req.topic}-${req.partition} appears twice in the reassignment request`,
        );
      }
      seen.add(k);
      this.require(req.topic);
      const a = store.listPartitionAssignments(req.topic).find((x) => x.partition === req.partition);
      if (!a) {
        throw new EddyError(
          ErrorCode.PARTITION_NOT_FOUND,
          `topic '${req.topic}' has no partition ${req.partition}`,
          { topic: req.topic, partition: req.partition },
        );
      }
      const current = findReassignment(reassignments, req.topic, req.partition);
      let cmd: MetadataCommand | null;
      if (req.replicas === null) {
        if (!current) {
          throw new EddyError(
            ErrorCode.INVALID_REQUEST,
            `no reassignment of ${req.topic}-${req.partition} is in progress: nothing to cancel`,
          );
        }
        cmd = planCancel(a, current, alive);
      } else {
        const target = validateTarget(req.topic, req.partition, req.replicas, this.dataNodes());
        cmd = planStart(a, current, target, alive);
      }
      if (cmd) out.push({ req, cmd });
    }
    return out;
  }

  /** Does the applied state show `req` carried out (or its replacement by a later request)? */
  private reassignmentApplied(req: PartitionReassignmentRequest): boolean {
    const r: ReassignmentRecord | undefined = findReassignment(
      loadReassignments(this.o.store),
      req.topic,
      req.partition,
    );
    if (req.replicas === null) return r === undefined;
    if (r) return sameList(r.target, req.replicas);
    const a = this.o.store.listPartitionAssignments(req.topic).find((x) => x.partition === req.partition);
    return a !== undefined && sameList(a.replicas, req.replicas);
  }

  private plan(req: Exclude<AdminRequest, { op: "barrier" | "reassign" }>): MetadataCommand {
    const store = this.o.store;
    switch (req.op) {
      case "create-topic": {
        const t = req.topic;
        if (store.getTopic(t.name)) {
          throw new EddyError(ErrorCode.TOPIC_EXISTS, `topic '${t.name}' already exists`, { topic: t.name });
        }
        return {
          type: CommandType.CREATE_TOPIC,
          topic: t,
          replicas: this.assign(t.name, 0, t.partitions, t.replicationFactor),
        };
      }
      case "delete-topic": {
        const t = this.require(req.name);
        return { type: CommandType.DELETE_TOPIC, name: t.name, id: t.id };
      }
      case "alter-configs":
        this.require(req.name);
        return { type: CommandType.ALTER_CONFIGS, name: req.name, configs: req.configs };
      case "create-partitions": {
        const t = this.require(req.name);
        if (!Number.isInteger(req.count) || req.count <= t.partitions) {
          throw new EddyError(
            ErrorCode.INVALID_PARTITIONS,
            `topic '${t.name}' has ${t.partitions} partitions: the new count must be an integer above ${t.partitions}`,
          );
        }
        return {
          type: CommandType.CREATE_PARTITIONS,
          name: t.name,
          from: t.partitions,
          replicas: this.assign(t.name, t.partitions, req.count - t.partitions, t.replicationFactor),
        };
      }
      case "alter-isr": {
        const a = store.listPartitionAssignments(req.topic).find((x) => x.partition === req.partition);
        if (!a)
          throw new EddyError(ErrorCode.PARTITION_NOT_FOUND, `no partition ${req.topic}-${req.partition}`);
        if (a.leader !== req.leader || a.leaderEpoch !== req.leaderEpoch) {
          throw new EddyError(
            ErrorCode.FENCED_LEADER_EPOCH,
            `ISR change for ${req.topic}-${req.partition} from node ${req.leader} in epoch ${req.leaderEpoch} is stale (leader ${a.leader}, epoch ${a.leaderEpoch})`,
          );
        }
        const isr = req.isr.filter((r) => a.replicas.includes(r));
        if (!isr.includes(req.leader)) {
          throw new EddyError(ErrorCode.INVALID_REQUEST, "the ISR must contain its leader");
        }
        return { type: CommandType.ISR_CHANGE, ...req, isr };
      }
    }
  }

  private assign(topic: string, from: number, count: number, rf: number): number[][] {
    const nodes = this.dataNodes();
    if (!Number.isInteger(rf) || rf < 1 || rf > nodes.length) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `topic '${topic}': replication factor ${rf} is not possible with ${nodes.length} data node(s): use 1 to ${nodes.length}`,
      );
    }
    const start = hash(topic) % nodes.length;
    return Array.from({ length: count }, (_, i) =>
      Array.from({ length: rf }, (_, k) => nodes[(start + from + i + k) % nodes.length]!),
    );
  }

  private require(name: string): TopicRecord {
    const t = this.o.store.getTopic(name);
    if (!t) throw new EddyError(ErrorCode.TOPIC_NOT_FOUND, `topic '${name}' does not exist`, { topic: name });
    return t;
  }

  private async propose(cmd: MetadataCommand): Promise<number> {
    const index = await this.o.driver.propose(encodeCommand(cmd));
    await this.o.machine.waitApplied(index);
    return index;
  }

  private background(key: string, cmd: MetadataCommand): void {
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    this.o.logger.info("controller proposes", { key, cmd });
    this.propose(cmd)
      .catch((err) => this.o.logger.debug("controller proposal failed", { key, err }))
      .finally(() => this.inFlight.delete(key));
  }

  /** After taking over: wait until every entry committed by earlier leaders is applied here. */
  private ready(): Promise<void> {
    const { role, term } = this.o.driver.status();
    if (role !== Role.LEADER) {
      return Promise.reject(
        new EddyError(ErrorCode.NOT_LEADER, "this node is not the controller: retry on the metadata leader"),
      );
    }
    if (this.readyTerm === term) return Promise.resolve();
    this.readying ??= this.o.driver
      .readIndex()
      .then(() => {
        this.readyTerm = term;
      })
      .finally(() => {
        this.readying = null;
      });
    return this.readying;
  }
}

/** The leader change a partition needs now, or null. Pure, for tests. */
export function electLeader(a: PartitionAssignment, alive: ReadonlySet<number>): MetadataCommand | null {
  if (a.leader >= 0 && alive.has(a.leader)) return null;
  const candidate = a.replicas.find((r) => a.isr.includes(r) && alive.has(r));
  if (candidate !== undefined) {
    const isr = a.isr.filter((r) => alive.has(r));
    return {
      type: CommandType.PARTITION_LEADER_CHANGE,
      topic: a.topic,
      partition: a.partition,
      prevEpoch: a.leaderEpoch,
      leader: candidate,
      isr,
    };
  }
  if (a.leader === -1) return null;
  return {
    type: CommandType.PARTITION_LEADER_CHANGE,
    topic: a.topic,
    partition: a.partition,
    prevEpoch: a.leaderEpoch,
    leader: -1,
    isr: a.isr,
  };
}

/** Preferred-leader rebalancing: hand leadership back to the first replica once it is in sync and alive. */
export function preferredLeader(a: PartitionAssignment, alive: ReadonlySet<number>): MetadataCommand | null {
  const preferred = a.replicas[0];
  if (preferred === undefined || a.leader === preferred) return null;
  if (!a.isr.includes(preferred) || !alive.has(preferred)) return null;
  return {
    type: CommandType.PARTITION_LEADER_CHANGE,
    topic: a.topic,
    partition: a.partition,
    prevEpoch: a.leaderEpoch,
    leader: preferred,
    isr: a.isr,
  };
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => b[i] === x);
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}
