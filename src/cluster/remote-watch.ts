/**
 * Remote-partition watches (cluster mode): a node that holds no replica of a
 * partition still serves MQTT subscribers and CoAP observers, which follow
 * a partition through broker.partitionState and broker.onAppend and read it
 * with readRecords (forwarded, read-forwarder.ts). For such a partition this
 * keeps the leader's view here: a cached state (high watermark, last stable
 * offset, log start and end, leader epoch) that partitionState answers with
 * (marked `remote`, `leads: false`), and an AppendEvent emitted locally
 * whenever that state moves, so the bridges work unchanged.
 *
 * - Interest: a watch starts when something here asks about the partition
 *   (partitionState, readRecords, waitForData: `touch`) or describes its
 *   topic (`prime`: starts watches and waits briefly for their first state,
 *   so a subscription taking the "latest" offset right after sees the real
 *   one, not 0). A watch nobody touched for `idleMs` gets one probe: an
 *   AppendEvent with its current high watermark, which makes a listener
 *   still following the partition read it again (and so touch it); without
 *   a touch within `probeGraceMs` (or with no listener at all) it stops and
 *   its state is dropped.
 * - Transport: one long-poll at a time per serving node
 *   (POST /broker/v1/watch, remote-watch-route.ts) covering every partition
 *   watched there; it answers at once for partitions whose state differs
 *   from what this node knows, else on the first advance or after
 *   `pollWaitMs`.
 * - Leader changes: each partition is watched on its leader as this node's
 *   metadata names it, else on another replica (ISR first). A node that
 *   fails or says it holds no replica is avoided for `avoidMs`. A
 *   maintenance tick moves a partition to its new leader within `tickMs`.
 *   High watermark, last stable offset and log start never go backwards
 *   here (a new leader, or a follower answering for a while, may trail the
 *   old leader briefly); the epoch is the largest seen.
 * - Bounds: at most `maxWatches` partitions (the least recently touched
 *   goes first).
 */
import type { BrokerContext } from "../broker/context.ts";
import { isAbsentLog } from "../broker/absent-log.ts";
import type { Partition } from "../broker/partition.ts";
import type { AppendEvent, PartitionState } from "../broker/types.ts";
import { partitionKey } from "../broker/waiters.ts";
import { systemTimers, type CancelTimer, type Timers } from "../util/timers.ts";
import { decodeJson, encodeJson, PeerPath, type PeerRpc } from "./peer-protocol.ts";
import { sameState, type WatchRequest, type WatchResponse, type WatchState } from "./remote-watch-route.ts";

export interface RemoteWatchOptions {
  nodeId: number;
  ctx: () => BrokerContext;
  rpc: PeerRpc;
  /** Deliver an AppendEvent to this node's onAppend listeners (and waiters). */
  emit: (event: AppendEvent) => void;
  /** This node has onAppend listeners (bridges): idle watches are probed before they stop. */
  hasListeners: () => boolean;
  timers?: Timers;
  /** Default 60 s. */
  idleMs?: number;
  /** Default 5 s. */
  probeGraceMs?: number;
  /** Default 1024. */
  maxWatches?: number;
  /** How long the serving node holds a poll without news. Default 5 s. */
  pollWaitMs?: number;
  /** How long prime() waits for a first state. Default 500 ms. */
  primeWaitMs?: number;
  /** How long a node that failed is skipped. Default 500 ms. */
  avoidMs?: number;
  /** Maintenance period (idle expiry, leader moves, retries). Default 200 ms. */
  tickMs?: number;
}

interface Watch {
  key: string;
  topic: string;
  partition: number;
  /** The view served here (monotonic offsets); null until the first answer. */
  state: WatchState | null;
  /** The last answer as `rawFrom` sent it: what the next poll there says it knows. */
  raw: WatchState | null;
  rawFrom: number;
  lastTouch: number;
  probedAt: number | null;
  /** Node → monotonic time until which it is skipped. */
  avoid: Map<number, number>;
  /** The node whose in-flight poll covers this watch. */
  polling: number | null;
  ready: Array<() => void>;
}

interface Poller {
  abort: AbortController | null;
}

/** Extra time a poll may take beyond the serving node's wait. */
const POLL_GRACE_MS = 5_000;

export class RemoteWatch {
  private readonly watches = new Map<string, Watch>();
  private readonly pollers = new Map<number, Poller>();
  private readonly timers: Timers;
  private readonly idleMs: number;
  private readonly probeGraceMs: number;
  private readonly maxWatches: number;
  private readonly pollWaitMs: number;
  private readonly primeWaitMs: number;
  private readonly avoidMs: number;
  private readonly tickMs: number;
  private cancelTick: CancelTimer | null = null;
  private closed = false;

  constructor(private readonly o: RemoteWatchOptions) {
    this.timers = o.timers ?? systemTimers;
    this.idleMs = o.idleMs ?? 60_000;
    this.probeGraceMs = o.probeGraceMs ?? 5_000;
    this.maxWatches = o.maxWatches ?? 1024;
    this.pollWaitMs = o.pollWaitMs ?? 5_000;
    this.primeWaitMs = o.primeWaitMs ?? 500;
    this.avoidMs = o.avoidMs ?? 500;
    this.tickMs = o.tickMs ?? 200;
  }

  /** Partitions watched now. */
  get size(): number {
    return this.watches.size;
  }

  /**
   * partitionState for a partition without a replica here: the leader's
   * view when known (null before the first answer). Touches the watch.
   */
  state(p: Partition): PartitionState | null {
    return toPartitionState(p, this.watch(p.topic, p.id)?.state ?? null);
  }

  /** The leader's view if watched and known, without touching the watch. */
  known(p: Partition): PartitionState | null {
    return toPartitionState(p, this.watches.get(partitionKey(p.topic, p.id))?.state ?? null);
  }

  /** Someone here reads (or asks about) topic-partition: watch it, or keep watching it. */
  touch(topic: string, partition: number): void {
    this.watch(topic, partition);
  }

  private watch(topic: string, partition: number): Watch | null {
    if (this.closed || this.o.ctx().closing()) return null;
    const key = partitionKey(topic, partition);
    const w = this.watches.get(key);
    const now = this.o.ctx().clock.monotonic();
    if (w) {
      w.lastTouch = now;
      w.probedAt = null;
      return w;
    }
    return this.create(topic, partition, key, now);
  }

  /**
   * A topic is described here: watch its partitions without a replica here
   * (a new watch counts as touched now; existing ones are not renewed) and
   * wait up to primeWaitMs for the ones not known yet.
   */
  async prime(topic: string): Promise<void> {
    if (this.closed) return;
    const ctx = this.o.ctx();
    const t = ctx.topics.get(topic);
    if (!t || ctx.closing()) return;
    const pending: Array<Promise<void>> = [];
    for (const p of t.partitions) {
      if (!isAbsentLog(p.log)) continue;
      const key = partitionKey(p.topic, p.id);
      const w = this.watches.get(key) ?? this.create(p.topic, p.id, key, ctx.clock.monotonic());
      if (w.state === null && this.targetOf(w) !== null) {
        pending.push(new Promise<void>((resolve) => w.ready.push(resolve)));
      }
    }
    if (pending.length === 0) return;
    let cancel: CancelTimer = () => {};
    await Promise.race([
      Promise.all(pending),
      new Promise<void>((resolve) => {
        cancel = this.timers.schedule(this.primeWaitMs, resolve);
      }),
    ]);
    cancel();
  }

  /** A topic was deleted: drop its watches. */
  forget(topic: string): void {
    for (const w of [...this.watches.values()]) if (w.topic === topic) this.drop(w);
  }

  /** This node's role for a partition changed (it got or lost a replica): start over. */
  forgetPartition(topic: string, partition: number): void {
    const w = this.watches.get(partitionKey(topic, partition));
    if (w) this.drop(w);
  }

  close(): void {
    this.closed = true;
    this.cancelTick?.();
    this.cancelTick = null;
    for (const p of this.pollers.values()) p.abort?.abort();
    for (const w of [...this.watches.values()]) this.drop(w);
  }

  private create(topic: string, partition: number, key: string, now: number): Watch {
    if (this.watches.size >= this.maxWatches) this.evictOldest();
    const w: Watch = {
      key,
      topic,
      partition,
      state: null,
      raw: null,
      rawFrom: -1,
      lastTouch: now,
      probedAt: null,
      avoid: new Map(),
      polling: null,
      ready: [],
    };
    this.watches.set(key, w);
    this.armTick();
    // A poll already running to the target covers other partitions: restart it with this one too.
    const target = this.targetOf(w);
    if (target !== null) this.pollers.get(target)?.abort?.abort();
    this.schedule();
    return w;
  }

  private evictOldest(): void {
    let oldest: Watch | null = null;
    for (const w of this.watches.values()) if (!oldest || w.lastTouch < oldest.lastTouch) oldest = w;
    if (oldest) this.drop(oldest);
  }

  private drop(w: Watch): void {
    if (this.watches.get(w.key) === w) this.watches.delete(w.key);
    for (const resolve of w.ready.splice(0)) resolve();
  }

  /** The node to watch `w` on: its leader, else a replica (ISR first); null when none is usable now. */
  private targetOf(w: Watch): number | null {
    const ctx = this.o.ctx();
    const p = ctx.topics.get(w.topic)?.partitions[w.partition];
    if (!p) return null;
    // Before the replica manager has set it, the metadata log's assignment.
    const a =
      p.assignment ?? ctx.metadata.listPartitionAssignments(w.topic).find((x) => x.partition === w.partition);
    if (!a) return null;
    const now = ctx.clock.monotonic();
    for (const id of [a.leader, ...a.isr, ...a.replicas]) {
      if (id < 0 || id === this.o.nodeId) continue;
      const until = w.avoid.get(id);
      if (until !== undefined) {
        if (until > now) continue;
        w.avoid.delete(id);
      }
      return id;
    }
    return null;
  }

  /** Start a poller for every node some watch should be polled on. */
  private schedule(): void {
    if (this.closed) return;
    for (const w of this.watches.values()) {
      const target = this.targetOf(w);
      if (target !== null && !this.pollers.has(target)) this.startPoller(target);
    }
  }

  private startPoller(node: number): void {
    const poller: Poller = { abort: null };
    this.pollers.set(node, poller);
    void this.runPoller(node, poller)
      .catch((err) => this.o.ctx().logger.warn("remote partition watch failed", { node, err }))
      .finally(() => {
        if (this.pollers.get(node) === poller) this.pollers.delete(node);
      });
  }

  private async runPoller(node: number, poller: Poller): Promise<void> {
    const ctx = this.o.ctx();
    while (!this.closed && !ctx.closing()) {
      const mine = [...this.watches.values()].filter((w) => this.targetOf(w) === node);
      if (mine.length === 0) return;
      const req: WatchRequest = {
        maxWaitMs: this.pollWaitMs,
        partitions: mine.map((w) => ({
          topic: w.topic,
          partition: w.partition,
          known: w.rawFrom === node ? w.raw : null,
        })),
      };
      const ac = new AbortController();
      poller.abort = ac;
      for (const w of mine) w.polling = node;
      try {
        const body = await this.o.rpc(node, PeerPath.WATCH, encodeJson(req), {
          timeoutMs: this.pollWaitMs + POLL_GRACE_MS,
          signal: ac.signal,
        });
        this.apply(node, decodeJson<WatchResponse>(body, "watch response"));
      } catch (err) {
        if (ac.signal.aborted) continue; // restarted with other partitions, or closing
        ctx.logger.debug("remote partition watch: node did not answer; trying another", { node, err });
        const until = ctx.clock.monotonic() + this.avoidMs;
        for (const w of mine) w.avoid.set(node, until);
        this.schedule();
      } finally {
        poller.abort = null;
        for (const w of mine) if (w.polling === node) w.polling = null;
      }
    }
  }

  private apply(node: number, res: WatchResponse): void {
    const now = this.o.ctx().clock.monotonic();
    let moved = false;
    for (const a of res.partitions ?? []) {
      const w = this.watches.get(partitionKey(a.topic, a.partition));
      if (!w) continue;
      if (a.error !== undefined) {
        // Gone here too: stop. Otherwise (no replica there, or a topic that node has not
        // applied yet) try another node for a while.
        if (this.o.ctx().topics.get(w.topic)?.partitions[w.partition] === undefined) this.drop(w);
        else w.avoid.set(node, now + this.avoidMs);
        moved = true;
        continue;
      }
      if (a.state) this.update(w, node, a.state);
    }
    if (moved) this.schedule();
  }

  private update(w: Watch, node: number, s: WatchState): void {
    w.raw = s;
    w.rawFrom = node;
    const old = w.state;
    const next: WatchState = old
      ? {
          epoch: Math.max(old.epoch, s.epoch),
          logStart: Math.max(old.logStart, s.logStart),
          hw: Math.max(old.hw, s.hw),
          lso: Math.max(old.lso, s.lso),
          logEnd: Math.max(s.logEnd, s.hw, old.hw),
          leads: s.leads,
        }
      : { ...s, logEnd: Math.max(s.logEnd, s.hw) };
    next.lso = Math.min(next.lso, next.hw);
    w.state = next;
    for (const resolve of w.ready.splice(0)) resolve();
    if (old === null || !sameState({ ...old, leads: next.leads }, next)) {
      this.o.emit({ topic: w.topic, partition: w.partition, highWatermark: next.hw });
    }
  }

  private armTick(): void {
    if (this.cancelTick !== null || this.closed) return;
    this.cancelTick = this.timers.schedule(this.tickMs, () => {
      this.cancelTick = null;
      this.tick();
      if (this.watches.size > 0) this.armTick();
    });
  }

  /** Idle expiry and probes, moves to a new leader, retries of partitions without a poll. */
  private tick(): void {
    if (this.closed) return;
    const now = this.o.ctx().clock.monotonic();
    const listeners = this.o.hasListeners();
    for (const w of [...this.watches.values()]) {
      if (now - w.lastTouch >= this.idleMs) {
        if (w.probedAt === null && listeners && w.state !== null) {
          w.probedAt = now;
          this.o.emit({ topic: w.topic, partition: w.partition, highWatermark: w.state.hw });
        } else if (w.probedAt === null || now - w.probedAt >= this.probeGraceMs) {
          this.drop(w);
          continue;
        }
      }
      // The metadata names another node (a new leader): move the partition's poll there.
      if (w.polling !== null && this.targetOf(w) !== w.polling) this.pollers.get(w.polling)?.abort?.abort();
    }
    this.schedule();
  }
}

function toPartitionState(p: Partition, s: WatchState | null): PartitionState | null {
  if (s === null) return null;
  return {
    topic: p.topic,
    partition: p.id,
    leaderEpoch: s.epoch,
    logStartOffset: s.logStart,
    logEndOffset: Math.max(s.logEnd, s.hw),
    flushedOffset: 0, // nothing of it is stored here
    highWatermark: s.hw,
    lastStableOffset: s.lso,
    leads: false,
    remote: true,
  };
}
