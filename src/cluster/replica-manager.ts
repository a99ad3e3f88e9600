/**
 * Partition replication, as in Kafka, for the partitions this node holds.
 *
 * The metadata log says who leads each partition in which leader epoch, and
 * which replicas are in sync; `sync()` turns that into a role per partition:
 *
 * - Leader: stamps its epoch into appended batches (Partition.leaderEpoch),
 *   records `(epoch, log end)` in its leader-epoch cache, serves followers'
 *   long-poll fetches (handleFetch) with raw batches up to its log end, and
 *   tracks each follower's log end offset (LEO = the fetch offset) and the
 *   last time it was caught up. High watermark = min LEO of the ISR (and
 *   durable here under the topic's policy, Partition.refresh). A pending ISR
 *   expansion counts at once and a pending shrink only once committed (the
 *   "maximal ISR"), so a committed record is on every ISR member. Followers
 *   that are not caught up for replica.lag.time.max.ms leave the ISR; a
 *   follower whose LEO reaches the high watermark (and this epoch's start)
 *   joins again; both through IsrChange proposals to the controller.
 * - Follower: runs replica-follower.ts (truncate by leader epoch through
 *   handleEpoch on the leader, then fetch, append as is, follow the high
 *   watermark and log start).
 * - Neither (not a replica, or no leader): refuses produce and fetch.
 *
 * Leadership lost: pending acks=all waits fail with NOT_LEADER (the records
 * may be truncated; the producer retries on the new leader).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { LeaderEpochEntry, MetadataStore, PartitionAssignment } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { Partition } from "../broker/partition.ts";
import {
  decodeJson,
  type EpochAnswer,
  type EpochQuery,
  encodeFetchResponseChunks,
  encodeJson,
  type PeerCall,
  type PeerRpc,
  type ReplicaFetchRequest,
} from "./peer-protocol.ts";
import { type FollowerDeps, type ReplicaState, runFetcher, saveEpochs } from "./replica-follower.ts";
import { ReplicaReadCache } from "./replica-read-cache.ts";

export interface IsrChangeRequest {
  topic: string;
  partition: number;
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

export interface ReplicaManagerOptions {
  nodeId: number;
  store: MetadataStore;
  rpc: PeerRpc;
  clock: Clock;
  logger: Logger;
  lookup: (topic: string, partition: number) => Partition | undefined;
  /** Ask the controller to change a partition's ISR; resolves once applied here. */
  alterIsr: (req: IsrChangeRequest) => Promise<void>;
  /** replica.lag.time.max.ms: a follower not caught up for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  /** How long a follower's fetch waits at the leader for new data. */
  fetchMaxWaitMs: number;
  /** Bytes one replica fetch may bring back. Default DEFAULT_FETCH_MAX_BYTES (4 MiB). */
  fetchMaxBytes?: number;
  /** Pause after a failed fetch. Default 50 ms. */
  retryBackoffMs?: number;
}

const EMPTY = new Uint8Array(0);

export class ReplicaManager {
  private readonly states = new Map<string, ReplicaState>();
  private closed = false;
  private readonly deps: FollowerDeps;
  /** The last log read served to a follower, for the other followers of the partition. */
  private readonly reads = new ReplicaReadCache();

  constructor(private readonly o: ReplicaManagerOptions) {
    this.deps = { o, closed: () => this.closed };
  }

  /** Apply a partition's assignment from the metadata log. */
  sync(a: PartitionAssignment): void {
    if (this.closed) return;
    const p = this.o.lookup(a.topic, a.partition);
    if (!p) return;
    const k = key(a.topic, a.partition);
    let st = this.states.get(k);
    if (st && st.p !== p) {
      this.stopFetcher(st);
      st = undefined;
    }
    if (!st) {
      st = this.newState(p);
      this.states.set(k, st);
    }
    st.replicas = a.replicas;
    st.isr = a.isr;
    p.assignment = { leader: a.leader, replicas: a.replicas, isr: a.isr };
    const me = this.o.nodeId;
    if (a.leader === me) {
      if (st.role !== "leader" || st.epoch !== a.leaderEpoch) this.becomeLeader(st, a);
      else {
        if (st.pendingIsr && sameSet(st.pendingIsr, a.isr)) st.pendingIsr = null;
        this.updateHighWatermark(st);
      }
    } else if (
      st.role === "leader" ||
      st.epoch !== a.leaderEpoch ||
      st.leader !== a.leader ||
      (st.role === "none" && a.replicas.includes(me))
    ) {
      this.becomeFollower(st, a);
    }
  }

  /** A topic was deleted (or is about to be): stop its fetchers. */
  forget(topic: string): void {
    for (const [k, st] of this.states) {
      if (st.p.topic !== topic) continue;
      this.stopFetcher(st);
      this.wake(st);
      this.states.delete(k);
    }
  }

  /** This node stops replicating one partition (reassigned away): stop its fetcher, fail its waits. */
  forgetPartition(topic: string, partition: number): void {
    const k = key(topic, partition);
    const st = this.states.get(k);
    if (!st) return;
    this.stopFetcher(st);
    this.wake(st);
    this.states.delete(k);
  }

  /** ISR upkeep: shrink followers lagging past replica.lag.time.max.ms, expand caught-up ones. */
  tick(): void {
    const now = this.o.clock.monotonic();
    this.reads.sweep(now);
    for (const st of this.states.values()) {
      if (st.role !== "leader" || st.pendingIsr) continue;
      const lagging = st.isr.filter(
        (r) =>
          r !== this.o.nodeId && now - (st.followers.get(r)?.caughtUpAt ?? now) > this.o.replicaLagTimeMaxMs,
      );
      if (lagging.length > 0) {
        this.o.logger.info("shrinking ISR: followers lag", {
          topic: st.p.topic,
          partition: st.p.id,
          lagging,
          lagMaxMs: this.o.replicaLagTimeMaxMs,
        });
        this.proposeIsr(
          st,
          st.isr.filter((r) => !lagging.includes(r)),
        );
        continue;
      }
      for (const r of st.followers.keys()) this.maybeExpandIsr(st, r);
    }
  }

  /** Leader side of a follower's long-poll fetch: [header, the log's bytes as read] (sent without joining). */
  async handleFetch(call: PeerCall): Promise<Uint8Array[]> {
    const req = decodeJson<ReplicaFetchRequest>(call.body, "replica fetch request");
    const st = this.leaderState(req.topic, req.partition, req.epoch);
    const from = call.from;
    const f = from === null ? undefined : st.followers.get(from);
    if (from === null || !f) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `node ${from} is not a follower of ${req.topic}-${req.partition}: refresh metadata`,
      );
    }
    const p = st.p;
    const leo = p.tracker.logEndOffset;
    if (!Number.isSafeInteger(req.offset) || req.offset < 0 || req.offset > leo) {
      throw new EddyError(
        ErrorCode.OFFSET_OUT_OF_RANGE,
        `follower offset ${req.offset} is beyond ${req.topic}-${req.partition}'s log end ${leo}: truncate by leader epoch first`,
      );
    }
    if (req.offset < p.tracker.logStartOffset) {
      // Below the log start (Kafka's OFFSET_OUT_OF_RANGE): no records; the header's log start is where the follower restarts.
      f.leo = req.offset;
      const header = { highWatermark: f.sentHw, logStartOffset: p.tracker.logStartOffset, logEndOffset: leo };
      return encodeFetchResponseChunks(header, EMPTY);
    }
    const now = this.o.clock.monotonic();
    f.leo = req.offset;
    if (req.offset >= leo) f.caughtUpAt = now;
    else if (req.offset >= f.leoAtLastResponse) f.caughtUpAt = Math.max(f.caughtUpAt, f.lastResponseAt);
    this.maybeExpandIsr(st, from);
    this.updateHighWatermark(st);
    if (req.offset >= p.tracker.logEndOffset && p.tracker.highWatermark === f.sentHw) {
      await this.waitForChange(st, Math.min(req.maxWaitMs, 30_000), call.signal);
    }
    const end = p.tracker.logEndOffset;
    let records: Uint8Array = EMPTY;
    if (req.offset < end && st.role === "leader") {
      records = await this.reads.read(p, {
        offset: req.offset,
        maxBytes: req.maxBytes,
        end,
        followers: st.followers.size,
        now: this.o.clock.monotonic(),
      });
    }
    f.leoAtLastResponse = end;
    f.lastResponseAt = this.o.clock.monotonic();
    f.sentHw = p.tracker.highWatermark;
    return encodeFetchResponseChunks(
      { highWatermark: f.sentHw, logStartOffset: p.tracker.logStartOffset, logEndOffset: end },
      records,
    );
  }

  /** Leader side of OffsetForLeaderEpoch: where does `epoch` end in this leader's log? */
  async handleEpoch(call: PeerCall): Promise<Uint8Array> {
    const q = decodeJson<EpochQuery>(call.body, "leader epoch query");
    const st = this.leaderState(q.topic, q.partition, q.currentEpoch);
    return encodeJson(endOfEpoch(st.epochs, q.epoch, st.p.tracker.logEndOffset));
  }

  /** Store every replica's high watermark (Kafka's replication-offset-checkpoint). */
  checkpoint(): void {
    const list = [...this.states.values()].map((st) => ({
      topic: st.p.topic,
      partition: st.p.id,
      highWatermark: st.p.tracker.highWatermark,
    }));
    if (list.length === 0) return;
    try {
      this.o.store.setHighWatermarks(list);
    } catch (err) {
      this.o.logger.warn("could not checkpoint high watermarks", { err });
    }
  }

  async close(): Promise<void> {
    this.checkpoint();
    this.closed = true;
    const loops: Promise<void>[] = [];
    for (const st of this.states.values()) {
      if (st.fetcher) loops.push(st.fetcher.done);
      this.stopFetcher(st);
      this.wake(st);
    }
    this.states.clear();
    await Promise.allSettled(loops);
  }

  // ---------------------------------------------------------------- roles

  private newState(p: Partition): ReplicaState {
    const leo = p.tracker.logEndOffset;
    const epochs = this.o.store.getLeaderEpochs(p.topic, p.id).filter((e) => e.startOffset <= leo);
    const st: ReplicaState = {
      p,
      role: "none",
      epoch: -1,
      leader: -1,
      replicas: [],
      isr: [],
      epochs,
      followers: new Map(),
      pendingIsr: null,
      epochStart: 0,
      wakers: new Set(),
      fetcher: null,
    };
    p.onLogEnd = () => this.wake(st);
    // Until this node knows it leads, the high watermark only moves by replication
    // (TopicManager opened it at its last checkpointed high watermark).
    p.replicationLimit = p.tracker.highWatermark;
    p.leads = false;
    return st;
  }

  private becomeLeader(st: ReplicaState, a: PartitionAssignment): void {
    const p = st.p;
    this.stopFetcher(st);
    st.role = "leader";
    st.epoch = a.leaderEpoch;
    st.leader = a.leader;
    st.pendingIsr = null;
    const now = this.o.clock.monotonic();
    st.followers = new Map(
      a.replicas
        .filter((r) => r !== this.o.nodeId)
        .map((r) => [r, { leo: -1, caughtUpAt: now, leoAtLastResponse: 0, lastResponseAt: now, sentHw: -1 }]),
    );
    p.leaderEpoch = a.leaderEpoch;
    st.epochStart = p.tracker.logEndOffset;
    // Queued behind any in-flight follower append, ahead of the first produce.
    void p
      .enqueue(async () => {
        st.epochStart = p.log.offsets().logEndOffset;
        const last = st.epochs.at(-1);
        if (!last || last.epoch < a.leaderEpoch) {
          st.epochs.push({ epoch: a.leaderEpoch, startOffset: st.epochStart });
          saveEpochs(this.deps, st);
        }
      })
      .catch((err) => this.o.logger.warn("could not record the leader epoch", { topic: p.topic, err }));
    p.leads = true;
    this.o.logger.info("leading partition", {
      topic: p.topic,
      partition: p.id,
      epoch: a.leaderEpoch,
      isr: a.isr,
    });
    this.updateHighWatermark(st);
  }

  private becomeFollower(st: ReplicaState, a: PartitionAssignment): void {
    const p = st.p;
    const wasLeader = st.role === "leader";
    p.leads = false;
    p.leaderEpoch = a.leaderEpoch;
    st.epoch = a.leaderEpoch;
    st.leader = a.leader;
    st.followers.clear();
    st.pendingIsr = null;
    p.replicationLimit = p.tracker.highWatermark;
    if (wasLeader) {
      p.failWaiters(
        new EddyError(
          ErrorCode.NOT_LEADER,
          `${p.topic}-${p.id} has a new leader (${a.leader}): the write may not be committed; retry on the leader`,
        ),
      );
    }
    this.wake(st);
    this.stopFetcher(st);
    const replica = a.replicas.includes(this.o.nodeId);
    st.role = replica ? "follower" : "none";
    if (replica && a.leader >= 0) {
      const ac = new AbortController();
      const done = runFetcher(this.deps, st, a.leader, a.leaderEpoch, ac.signal);
      st.fetcher = { ac, done };
    }
    if (replica)
      this.o.logger.info("following partition", {
        topic: p.topic,
        partition: p.id,
        leader: a.leader,
        epoch: a.leaderEpoch,
      });
  }

  /** Also drops the partition's shared read (called on every role, epoch or assignment change). */
  private stopFetcher(st: ReplicaState): void {
    this.reads.forget(st.p);
    st.fetcher?.ac.abort();
    st.fetcher = null;
  }

  private leaderState(topic: string, partition: number, epoch: number): ReplicaState {
    const st = this.states.get(key(topic, partition));
    if (st?.role !== "leader") {
      throw new EddyError(
        ErrorCode.NOT_LEADER,
        `this node does not lead ${topic}-${partition}: refresh metadata`,
      );
    }
    if (epoch < st.epoch) {
      throw new EddyError(
        ErrorCode.FENCED_LEADER_EPOCH,
        `leader epoch ${epoch} of ${topic}-${partition} is older than ${st.epoch}: refresh metadata`,
      );
    }
    if (epoch > st.epoch) {
      throw new EddyError(
        ErrorCode.NOT_LEADER,
        `leader epoch ${epoch} of ${topic}-${partition} is newer than this leader's ${st.epoch}`,
      );
    }
    return st;
  }

  // ---------------------------------------------------------------- leader side

  private updateHighWatermark(st: ReplicaState): void {
    if (st.role !== "leader") return;
    const p = st.p;
    const members = new Set([...st.isr, ...(st.pendingIsr ?? [])]);
    members.delete(this.o.nodeId);
    let limit = Number.MAX_SAFE_INTEGER;
    for (const r of members) {
      const leo = st.followers.get(r)?.leo ?? -1;
      limit = Math.min(limit, leo < 0 ? p.tracker.highWatermark : leo);
    }
    p.replicationLimit = limit;
    const before = p.tracker.highWatermark;
    p.refresh();
    if (p.tracker.highWatermark !== before) this.wake(st);
  }

  private maybeExpandIsr(st: ReplicaState, r: number): void {
    if (st.role !== "leader" || st.pendingIsr || st.isr.includes(r)) return;
    const f = st.followers.get(r);
    if (!f || f.leo < 0 || f.leo < st.p.tracker.highWatermark || f.leo < st.epochStart) return;
    this.o.logger.info("expanding ISR: follower caught up", {
      topic: st.p.topic,
      partition: st.p.id,
      follower: r,
    });
    this.proposeIsr(st, [...st.isr, r]);
  }

  private proposeIsr(st: ReplicaState, isr: number[]): void {
    st.pendingIsr = isr;
    this.updateHighWatermark(st);
    const epoch = st.epoch;
    this.o
      .alterIsr({ topic: st.p.topic, partition: st.p.id, leader: this.o.nodeId, leaderEpoch: epoch, isr })
      .catch((err) =>
        this.o.logger.debug("ISR change not applied; retried later", { topic: st.p.topic, err }),
      )
      .finally(() => {
        if (st.pendingIsr === isr) st.pendingIsr = null;
        this.updateHighWatermark(st);
      });
  }

  private waitForChange(st: ReplicaState, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        st.wakers.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      st.wakers.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private wake(st: ReplicaState): void {
    for (const w of [...st.wakers]) w();
  }
}

/** Where `epoch` ends in a log with this epoch cache: the next epoch's start, or the log end. */
export function endOfEpoch(epochs: readonly LeaderEpochEntry[], epoch: number, logEnd: number): EpochAnswer {
  let idx = -1;
  for (let i = 0; i < epochs.length; i++) if (epochs[i]!.epoch <= epoch) idx = i;
  if (idx < 0) return { epoch: -1, endOffset: epochs[0]?.startOffset ?? logEnd };
  return { epoch: epochs[idx]!.epoch, endOffset: epochs[idx + 1]?.startOffset ?? logEnd };
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
