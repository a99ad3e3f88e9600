/**
 * Runs a RaftNode for real: a tick timer, durable storage and a message
 * sender. Outputs are carried out strictly in order, each one as
 * persist (fsync) → restore snapshot → send → apply, so a vote or an append
 * is never acknowledged before it is on disk. The transport is a plain
 * `send` function (fire and forget; Raft tolerates loss), so this file stays
 * free of HTTP: src/main.ts wires it to src/replication/transport.
 */
import { EddyError, ErrorCode, toEddyError } from "../../errors.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Clock } from "../../util/clock.ts";
import { RaftNode, type RaftStatus } from "./node.ts";
import type { RaftStorage } from "./storage.ts";
import type { ClusterConfig, LogEntry, NodeId, RaftMessage, RaftOutput, Snapshot } from "./types.ts";

export interface RaftStateMachine {
  /** Apply one committed entry (NOOP entries included; ignore them). */
  apply(entry: LogEntry): void | Promise<void>;
  /** Replace the whole state with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void | Promise<void>;
  /** Serialize the state as of the last applied entry (for compaction). */
  snapshot(): Uint8Array;
}

export interface RaftDriverOptions {
  id: NodeId;
  config: ClusterConfig;
  storage: RaftStorage;
  machine: RaftStateMachine;
  send: (message: RaftMessage) => void;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Tick period (default: heartbeat / 2). */
  tickMs?: number;
  /** Take a snapshot after this many applied entries (default 1000; 0 = never). */
  snapshotEvery?: number;
}

interface Waiter {
  term: number;
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

export class RaftDriver {
  private timer: ReturnType<typeof setInterval> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private readonly proposals = new Map<number, Waiter>();
  private readonly reads = new Map<number, { resolve: (i: number) => void; reject: (e: Error) => void }>();
  private readCtx = 0;
  private applied = 0;
  private lastSnapshot = 0;
  private stopped = false;

  private constructor(
    private readonly opts: RaftDriverOptions,
    readonly node: RaftNode,
  ) {}

  /** Load storage, restore the state machine from the stored snapshot, and build the node. */
  static async open(opts: RaftDriverOptions): Promise<RaftDriver> {
    const restored = await opts.storage.load();
    if (restored.snapshot) await opts.machine.restore(restored.snapshot);
    const node = new RaftNode({
      id: opts.id,
      config: opts.config,
      random: opts.random ?? Math.random,
      now: opts.clock.monotonic(),
      electionTimeoutMs: opts.electionTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      restored,
    });
    const d = new RaftDriver(opts, node);
    d.applied = restored.snapshot?.meta.index ?? 0;
    d.lastSnapshot = d.applied;
    return d;
  }

  start(): void {
    const period = this.opts.tickMs ?? Math.max(5, Math.floor((this.opts.heartbeatIntervalMs ?? 100) / 2));
    this.timer = setInterval(() => this.enqueue(this.node.tick(this.opts.clock.monotonic())), period);
  }

  /** Stop ticking and wait for queued outputs; the storage stays open (the caller owns it). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.chain;
    const err = new EddyError(ErrorCode.SHUTTING_DOWN, "raft stopped: retry on another node");
    for (const w of this.proposals.values()) w.reject(err);
    for (const r of this.reads.values()) r.reject(err);
    this.proposals.clear();
    this.reads.clear();
  }

  status(): RaftStatus {
    return this.node.status();
  }

  receive(message: RaftMessage): void {
    if (this.stopped) return;
    this.enqueue(this.node.receive(message, this.opts.clock.monotonic()));
  }

  /** Propose a command; resolves with its index once it is committed and applied here. */
  propose(data: Uint8Array): Promise<number> {
    if (this.stopped) return Promise.reject(new EddyError(ErrorCode.SHUTTING_DOWN, "raft stopped"));
    let result: ReturnType<RaftNode["propose"]>;
    try {
      result = this.node.propose(data);
    } catch (err) {
      return Promise.reject(err);
    }
    const { index, term, output } = result;
    const p = new Promise<number>((resolve, reject) => this.proposals.set(index, { term, resolve, reject }));
    this.enqueue(output);
    return p;
  }

  /** A linearizable read point: resolves once the local state machine has applied it. */
  readIndex(): Promise<number> {
    const ctx = ++this.readCtx;
    const p = new Promise<number>((resolve, reject) => this.reads.set(ctx, { resolve, reject }));
    this.enqueue(this.node.readIndex(ctx));
    return p;
  }

  transferLeadership(target: NodeId): void {
    this.enqueue(this.node.transferLeadership(target));
  }

  private enqueue(out: RaftOutput): void {
    this.chain = this.chain
      .then(() => this.process(out))
      .catch((err) => {
        // A failed fsync leaves memory ahead of disk: stop rather than acknowledge anything.
        this.opts.logger.error("raft storage failed; stopping this node's raft", { err: toEddyError(err) });
        this.stopped = true;
        if (this.timer) clearInterval(this.timer);
      });
  }

  private async process(out: RaftOutput): Promise<void> {
    if (this.stopped && out.messages.length === 0 && out.committed.length === 0) return;
    if (out.hardState || out.snapshot || out.truncateFrom !== null || out.entries.length > 0) {
      await this.opts.storage.persist(out);
    }
    if (out.snapshot && out.snapshotInstalled) {
      await this.opts.machine.restore(out.snapshot);
      this.applied = out.snapshot.meta.index;
      this.lastSnapshot = this.applied;
      for (const [index, w] of this.proposals) {
        if (index > this.applied) continue;
        this.proposals.delete(index);
        w.reject(
          new EddyError(ErrorCode.NOT_LEADER, "the proposal's outcome is unknown: retry on the leader"),
        );
      }
    }
    for (const m of out.messages) this.opts.send(m);
    for (const e of out.committed) {
      await this.opts.machine.apply(e);
      this.applied = e.index;
      const w = this.proposals.get(e.index);
      if (w) {
        this.proposals.delete(e.index);
        if (w.term === e.term) w.resolve(e.index);
        else
          w.reject(new EddyError(ErrorCode.NOT_LEADER, "the proposal lost its leader: retry on the leader"));
      }
    }
    for (const r of out.reads) this.resolveRead(r.ctx, r.index);
    for (const ctx of out.failedReads) {
      this.reads
        .get(ctx)
        ?.reject(new EddyError(ErrorCode.NOT_LEADER, "not the metadata leader: retry on the leader"));
      this.reads.delete(ctx);
    }
    const every = this.opts.snapshotEvery ?? 1000;
    if (every > 0 && this.applied - this.lastSnapshot >= every) {
      this.lastSnapshot = this.applied;
      this.enqueue(this.node.compact(this.applied, this.opts.machine.snapshot()));
    }
  }

  private resolveRead(ctx: number, index: number): void {
    const r = this.reads.get(ctx);
    if (!r) return;
    this.reads.delete(ctx);
    // Outputs are processed in order: entries up to `index` are applied by now or come later.
    if (this.applied >= index) r.resolve(index);
    else this.afterApplied(index, () => r.resolve(index));
  }

  private afterApplied(index: number, fn: () => void): void {
    const check = (): void => {
      if (this.applied >= index) fn();
      else setTimeout(check, 1);
    };
    check();
  }
}
