/**
 * A sans-IO Raft node (Ongaro's thesis, with the etcd/raft refinements).
 * No timers, sockets or files: the driver calls `tick(now)` and
 * `receive(message)`, and carries out the returned `RaftOutput` (persist, then
 * send, then apply; see types.ts).
 *
 * What is implemented:
 * - Terms, randomized election timeouts in [T, 2T) from an injected random.
 * - Pre-vote (§9.6): a node first asks whether it could win in term+1 without
 *   raising its term, so a partitioned node rejoining cannot depose a healthy
 *   leader. Leader stickiness: a node that heard from a leader within the
 *   minimum election timeout ignores (pre-)vote requests (except transfers).
 * - Leader election with the log up-to-date check (§5.4.1); votes are
 *   acknowledged only after the driver persisted the hard state.
 * - AppendEntries with the consistency check, optimistic pipelining and fast
 *   backtracking (conflictTerm / conflictIndex, §5.3 note).
 * - Commit only for entries of the leader's current term (§5.4.2); a new leader
 *   appends a NOOP entry to commit its predecessors' entries.
 * - Check quorum: a leader that has not heard from a majority within an
 *   election timeout steps down (it could be on the minority side of a cut).
 * - Read index (§6.4) for linearizable reads: `readIndex(ctx)` records the
 *   commit index, confirms leadership with a heartbeat round acknowledged by a
 *   majority, and then reports `{ctx, index}`; the read is served once the
 *   state machine applied `index`. No clock-based lease is used.
 * - Snapshots: `compact(index, data)` after the state machine has applied
 *   `index`; followers too far behind get InstallSnapshot (whole snapshot in one
 *   message; the metadata state is small).
 * - Static membership of 1-5 voters from config (2-5 for a cluster). A voter may be
 *   a *witness*: it votes and stores the metadata log (small), so it counts for
 *   elections and commits, but it holds no partition data. It campaigns only
 *   after twice the election timeout, so data voters normally win, and when it
 *   does lead (the surviving data voter's log was behind) it hands leadership to
 *   the first data voter that has caught up. With 2 data voters + 1 witness the
 *   metadata log survives the loss of any one of the three. With 2 voters and no
 *   witness, both are needed for any progress (no split brain, no availability).
 * - Leadership transfer (§3.10): the leader stops accepting proposals, brings
 *   the target up to date, sends TimeoutNow; the target campaigns at once.
 * - A follower that lost its log (restarted with a wiped data directory) is
 *   brought back from where its log now ends: a rejection below the
 *   acknowledged match lowers the leader's match for it (handleAppendResponse).
 *
 * - A voter that lost its Raft state (a wiped data directory) does not vote
 *   again until it is caught up. Raft assumes a voter never loses its term,
 *   vote and log; a wiped voter comes back at term 0 with an empty log, and if
 *   it voted at once it could vote twice in one term, or help a stale node win
 *   while committed entries it had acknowledged sit on fewer than a majority.
 *   Rule (CP: unavailable rather than unsafe): a node that *started* with an
 *   empty log (no entries, no snapshot) becomes *recovering* as soon as any
 *   peer message shows that the cluster already has a log (a vote request with
 *   lastIndex > 0; an append with prevIndex > 0, entries or commit > 0; a
 *   snapshot; a successful append/snapshot response with matchIndex > 0). While
 *   recovering it drops (pre-)vote requests unanswered, does not campaign and
 *   ignores TimeoutNow. It stops recovering once its log is non-empty and its commit
 *   index has reached the highest commit index a leader told it about since the
 *   start (so everything committed with its lost acknowledgement is back on
 *   it). At genuine first formation every log is empty, nothing shows a log,
 *   and elections run as usual (a new leader's first append, prevIndex 0 and
 *   commit 0, does not count as evidence). Unlike the simplest form
 *   of the rule this does not require a persisted term of 0: a wiped node
 *   whose term was raised (and persisted) before it got any entry and that
 *   restarts again is still held back.
 *   Cost: if the leader is lost while a wiped node is still recovering, a
 *   3-node cluster has no electable majority and waits until the old leader
 *   returns (or the wiped node is caught up); 5 nodes need 3 of the other 4.
 *   An intact node that never received an entry while a leader already
 *   existed pays the same during formation (a short window).
 *   Residual gaps (the node cannot tell them apart from first formation): a
 *   wiped node that restarts while no live peer holds a log cannot notice that
 *   it is wiped; a node that crashes again after a partial catch-up restarts
 *   with a non-empty log and is not held back; two wiped voters in 3 are a lost
 *   majority. A full fix persists a cluster identity and has a node with
 *   missing Raft state rejoin as a non-voting learner or refuse to start.
 */
import { EddyError, ErrorCode } from "../../errors.ts";
import { RaftLog } from "./log.ts";
import { isVoter, isWitness, quorumIndex, quorumSize, tally, validateConfig } from "./quorum.ts";
import {
  type AppendRequest,
  type AppendResponse,
  type ClusterConfig,
  EntryKind,
  emptyOutput,
  type HardState,
  type LogEntry,
  MessageType,
  type NodeId,
  type RaftMessage,
  type RaftOutput,
  type RaftPersistedState,
  Role,
  type Snapshot,
  type SnapshotRequest,
  type SnapshotResponse,
  type VoteRequest,
  type VoteResponse,
} from "./types.ts";

export interface RaftNodeOptions {
  id: NodeId;
  /** Voters; a restored snapshot's config wins over this one. */
  config: ClusterConfig;
  /** Uniform in [0, 1): inject a seeded generator in tests. */
  random: () => number;
  /** Current time in ms (any monotonic origin). */
  now: number;
  /** Minimum election timeout; the actual one is in [T, 2T). Default 1000 ms. */
  electionTimeoutMs?: number;
  /** Leader heartbeat interval. Default 100 ms. */
  heartbeatIntervalMs?: number;
  /** At most this many entries per AppendEntries message. Default 256. */
  maxEntriesPerAppend?: number;
  /** State loaded from storage on restart. */
  restored?: RaftPersistedState;
}

interface Progress {
  match: number;
  next: number;
  lastAckAt: number;
  round: number;
}

interface PendingRead {
  ctx: number;
  round: number;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  leaderId: NodeId | null;
  votedFor: NodeId | null;
  commit: number;
  applied: number;
  lastIndex: number;
  lastTerm: number;
  snapshotIndex: number;
  transferTarget: NodeId | null;
}

export interface ProposeResult {
  index: number;
  term: number;
  output: RaftOutput;
}

export class RaftNode {
  readonly id: NodeId;
  private config: ClusterConfig;
  private readonly random: () => number;
  private readonly electionTimeout: number;
  private readonly heartbeatInterval: number;
  private readonly maxEntries: number;
  private readonly log: RaftLog;

  private term = 0;
  private votedFor: NodeId | null = null;
  private commit = 0;
  private applied = 0;
  private role: Role = Role.FOLLOWER;
  private leaderId: NodeId | null = null;
  private snapshot: Snapshot | null = null;

  private now: number;
  private electionDeadline = 0;
  private leaderContactAt = Number.NEGATIVE_INFINITY;
  private lastHeartbeatAt = 0;
  private lastQuorumCheckAt = 0;
  private votes = new Map<NodeId, boolean>();
  private progress = new Map<NodeId, Progress>();
  private round = 0;
  private reads: PendingRead[] = [];
  private transfer: { target: NodeId; deadline: number } | null = null;

  private out: RaftOutput = emptyOutput();
  private persisted: HardState;

  /** Started with an empty log: may be a wiped voter (see the header). Cleared once caught up. */
  private blankStart: boolean;
  /** A peer showed that the cluster has a log: while blankStart, do not vote or campaign. */
  private sawClusterLog = false;
  /** The highest commit index a leader reported since the start. */
  private catchUpTo = 0;

  constructor(opts: RaftNodeOptions) {
    this.id = opts.id;
    this.random = opts.random;
    this.now = opts.now;
    this.electionTimeout = opts.electionTimeoutMs ?? 1000;
    this.heartbeatInterval = opts.heartbeatIntervalMs ?? 100;
    this.maxEntries = opts.maxEntriesPerAppend ?? 256;
    const r = opts.restored;
    this.config = r?.snapshot?.meta.config ?? opts.config;
    const problem = validateConfig(this.config);
    if (problem) throw new EddyError(ErrorCode.INVALID_CONFIG, `raft: ${problem}`);
    if (!isVoter(this.config, this.id)) {
      throw new EddyError(
        ErrorCode.INVALID_CONFIG,
        `raft: node ${this.id} is not among the voters; check node.id`,
      );
    }
    const snap = r?.snapshot ?? null;
    this.log = new RaftLog(snap?.meta.index ?? 0, snap?.meta.term ?? 0, r?.entries ?? []);
    this.snapshot = snap;
    this.term = r?.hardState.term ?? 0;
    this.votedFor = r?.hardState.votedFor ?? null;
    this.applied = snap?.meta.index ?? 0;
    this.commit = Math.min(Math.max(r?.hardState.commit ?? 0, this.applied), this.log.lastIndex());
    this.persisted = { term: this.term, votedFor: this.votedFor, commit: this.commit };
    this.blankStart = this.log.lastIndex() === 0;
    this.resetElectionDeadline();
  }

  /**
   * True while this node may have lost Raft state and must not vote or campaign
   * (it started with an empty log, has seen that the cluster has one, and has
   * not yet been caught up to the leader's commit index). See the header.
   */
  recovering(): boolean {
    return this.blankStart && this.sawClusterLog;
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leaderId: this.leaderId,
      votedFor: this.votedFor,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.log.snapshotIndex,
      transferTarget: this.transfer?.target ?? null,
    };
  }

  /** Entries currently held in memory in [from, to] (for tests and diagnostics). */
  entries(from = 1, to = Number.MAX_SAFE_INTEGER): LogEntry[] {
    return this.log.slice(from, to);
  }

  clusterConfig(): ClusterConfig {
    return this.config;
  }

  /**
   * On the leader: how long ago (ms, by the last `now` seen) each other voter
   * last answered; empty on other roles. The cluster controller's liveness signal.
   */
  peerContacts(): Map<NodeId, number> {
    const out = new Map<NodeId, number>();
    if (this.role !== Role.LEADER) return out;
    for (const [id, p] of this.progress) out.set(id, this.now - p.lastAckAt);
    return out;
  }

  // ---------------------------------------------------------------- inputs

  tick(now: number): RaftOutput {
    this.now = Math.max(this.now, now);
    if (this.role === Role.LEADER) this.tickLeader();
    else if (this.now >= this.electionDeadline) {
      if (this.recovering()) this.resetElectionDeadline();
      else this.campaign(false);
    }
    return this.drain();
  }

  receive(m: RaftMessage, now: number = this.now): RaftOutput {
    this.now = Math.max(this.now, now);
    if (m.to === this.id && m.from !== this.id && isVoter(this.config, m.from)) {
      if (this.blankStart) this.noteClusterLog(m);
      this.step(m);
      if (this.blankStart) this.maybeRecovered();
    }
    return this.drain();
  }

  /** Append a command; throws NOT_LEADER (with the known leader) elsewhere. */
  propose(data: Uint8Array): ProposeResult {
    if (this.role !== Role.LEADER || this.transfer) {
      throw new EddyError(ErrorCode.NOT_LEADER, "this node is not the metadata leader: retry on the leader", {
        leaderId: this.transfer ? null : this.leaderId,
      });
    }
    const entry = this.appendLocal(EntryKind.COMMAND, data);
    this.broadcastAppend();
    this.maybeCommit();
    return { index: entry.index, term: entry.term, output: this.drain() };
  }

  /** Ask for a linearizable read point; answered in a later output's `reads` (or `failedReads`). */
  readIndex(ctx: number): RaftOutput {
    if (this.role !== Role.LEADER) {
      this.out.failedReads.push(ctx);
      return this.drain();
    }
    this.round++;
    this.reads.push({ ctx, round: this.round });
    for (const id of this.peers()) this.sendAppend(id);
    this.releaseReads();
    return this.drain();
  }

  transferLeadership(target: NodeId): RaftOutput {
    if (this.role === Role.LEADER && target !== this.id && isVoter(this.config, target)) {
      this.transfer = { target, deadline: this.now + this.electionTimeout };
      this.maybeSendTimeoutNow();
      if (this.transfer) this.sendAppend(target);
    }
    return this.drain();
  }

  /** The state machine has a snapshot at `index` (≤ applied): drop the log up to there. */
  compact(index: number, data: Uint8Array): RaftOutput {
    if (index > this.applied) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `raft: cannot snapshot at ${index} beyond applied ${this.applied}`,
      );
    }
    if (index > this.log.snapshotIndex) {
      const term = this.log.term(index)!;
      const snap: Snapshot = { meta: { index, term, config: this.config }, data };
      this.log.compact(index, term);
      this.snapshot = snap;
      this.out.snapshot = snap;
      this.out.snapshotInstalled = false;
    }
    return this.drain();
  }

  // ---------------------------------------------------------------- wiped-state guard

  private noteClusterLog(m: RaftMessage): void {
    switch (m.type) {
      case MessageType.PRE_VOTE:
      case MessageType.VOTE:
        if (m.lastIndex > 0) this.sawClusterLog = true;
        return;
      case MessageType.APPEND:
        // First entries at prevIndex 0 with commit 0 are genuine formation: the node
        // is not held back (it holds them once this append is handled).
        if (m.prevIndex > 0 || m.commit > 0) this.sawClusterLog = true;
        this.catchUpTo = Math.max(this.catchUpTo, m.commit);
        return;
      case MessageType.SNAPSHOT:
        this.sawClusterLog = true;
        this.catchUpTo = Math.max(this.catchUpTo, m.snapshot.meta.index);
        return;
      case MessageType.APPEND_RESP:
      case MessageType.SNAPSHOT_RESP:
        if (m.matchIndex > 0) this.sawClusterLog = true;
        return;
      default:
        return;
    }
  }

  private maybeRecovered(): void {
    if (this.log.lastIndex() > 0 && this.commit >= this.catchUpTo) this.blankStart = false;
  }

  // ---------------------------------------------------------------- elections

  private resetElectionDeadline(): void {
    const base = isWitness(this.config, this.id) ? 2 * this.electionTimeout : this.electionTimeout;
    this.electionDeadline = this.now + base + Math.floor(this.random() * base);
  }

  private peers(): NodeId[] {
    return this.config.voters.filter((v) => v.id !== this.id).map((v) => v.id);
  }

  private campaign(transfer: boolean): void {
    this.resetElectionDeadline();
    this.votes = new Map([[this.id, true]]);
    this.leaderId = null;
    if (transfer) {
      this.startElection(true);
      return;
    }
    this.role = Role.PRE_CANDIDATE;
    if (tally(this.config, this.votes) === "won") {
      this.startElection(false);
      return;
    }
    this.sendVoteRequests(MessageType.PRE_VOTE, this.term + 1, false);
  }

  private startElection(transfer: boolean): void {
    this.term++;
    this.votedFor = this.id;
    this.role = Role.CANDIDATE;
    this.leaderId = null;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionDeadline();
    if (tally(this.config, this.votes) === "won") {
      this.becomeLeader();
      return;
    }
    this.sendVoteRequests(MessageType.VOTE, this.term, transfer);
  }

  private sendVoteRequests(type: VoteRequest["type"], term: number, transfer: boolean): void {
    for (const to of this.peers()) {
      const req: VoteRequest = {
        type,
        from: this.id,
        to,
        term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        ...(transfer ? { transfer: true } : {}),
      };
      this.out.messages.push(req);
    }
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (term > this.term) {
      this.term = term;
      this.votedFor = null;
    }
    if (this.role === Role.LEADER) this.failReads();
    this.role = Role.FOLLOWER;
    this.leaderId = leader;
    this.transfer = null;
    this.progress.clear();
    this.resetElectionDeadline();
  }

  private becomeLeader(): void {
    this.role = Role.LEADER;
    this.leaderId = this.id;
    this.transfer = null;
    this.progress.clear();
    for (const id of this.peers()) {
      this.progress.set(id, { match: 0, next: this.log.lastIndex() + 1, lastAckAt: this.now, round: 0 });
    }
    this.lastQuorumCheckAt = this.now;
    this.appendLocal(EntryKind.NOOP, new Uint8Array(0));
    this.broadcastAppend();
    this.maybeCommit();
  }

  /** Recently heard from a live leader: ignore campaigns that are not transfers. */
  private inLease(): boolean {
    if (this.role === Role.LEADER) return true;
    return this.leaderId !== null && this.now - this.leaderContactAt < this.electionTimeout;
  }

  private handleVoteRequest(m: VoteRequest): void {
    const pre = m.type === MessageType.PRE_VOTE;
    const respType = pre ? MessageType.PRE_VOTE_RESP : MessageType.VOTE_RESP;
    if (m.term > this.term && !m.transfer && this.inLease()) return;
    if (!pre && m.term > this.term) this.becomeFollower(m.term, null);
    const upToDate = this.log.isUpToDate(m.lastIndex, m.lastTerm);
    let granted: boolean;
    if (pre) granted = m.term > this.term && upToDate;
    else granted = m.term === this.term && (this.votedFor === null || this.votedFor === m.from) && upToDate;
    if (granted && !pre) {
      this.votedFor = m.from;
      this.resetElectionDeadline();
    }
    const resp: VoteResponse = {
      type: respType,
      from: this.id,
      to: m.from,
      term: granted && pre ? m.term : this.term,
      granted,
    };
    this.out.messages.push(resp);
  }

  private handleVoteResponse(m: VoteResponse): void {
    const pre = m.type === MessageType.PRE_VOTE_RESP;
    if (pre ? this.role !== Role.PRE_CANDIDATE : this.role !== Role.CANDIDATE) return;
    if (m.term !== (pre ? this.term + 1 : this.term)) return;
    this.votes.set(m.from, m.granted);
    const result = tally(this.config, this.votes);
    if (result === "won") {
      if (pre) this.startElection(false);
      else this.becomeLeader();
    } else if (result === "lost") {
      this.becomeFollower(this.term, null);
    }
  }

  // ---------------------------------------------------------------- dispatch

  private step(m: RaftMessage): void {
    if (m.type === MessageType.PRE_VOTE || m.type === MessageType.VOTE) {
      // Possibly wiped and not caught up: any vote could be a second one in a term.
      if (this.recovering()) return;
      if (m.term < this.term || (m.type === MessageType.PRE_VOTE && m.term === this.term)) {
        this.out.messages.push({
          type: m.type === MessageType.PRE_VOTE ? MessageType.PRE_VOTE_RESP : MessageType.VOTE_RESP,
          from: this.id,
          to: m.from,
          term: this.term,
          granted: false,
        });
        return;
      }
      this.handleVoteRequest(m);
      return;
    }
    if (m.term > this.term) {
      if (m.type === MessageType.PRE_VOTE_RESP && m.granted) {
        // A grant carries the proposed term; it is not a newer term.
      } else {
        const fromLeader =
          m.type === MessageType.APPEND ||
          m.type === MessageType.SNAPSHOT ||
          m.type === MessageType.TIMEOUT_NOW;
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      // A stale leader: answer so that it learns the newer term and steps down.
      if (m.type === MessageType.APPEND || m.type === MessageType.SNAPSHOT) {
        this.out.messages.push(this.appendResp(m.from, false, 0, 0, 0, 0));
      }
      return;
    }
    switch (m.type) {
      case MessageType.PRE_VOTE_RESP:
      case MessageType.VOTE_RESP: {
        this.handleVoteResponse(m);
        return;
      }
      case MessageType.APPEND: {
        this.handleAppend(m);
        return;
      }
      case MessageType.APPEND_RESP: {
        this.handleAppendResponse(m);
        return;
      }
      case MessageType.SNAPSHOT: {
        this.handleSnapshot(m);
        return;
      }
      case MessageType.SNAPSHOT_RESP: {
        this.handleSnapshotResponse(m);
        return;
      }
      case MessageType.TIMEOUT_NOW:
        if (this.role !== Role.LEADER && !this.recovering()) this.campaign(true);
        return;
    }
  }

  // ---------------------------------------------------------------- follower side

  private followLeader(leader: NodeId): void {
    if (this.role !== Role.FOLLOWER || this.leaderId !== leader) this.becomeFollower(this.term, leader);
    this.leaderContactAt = this.now;
    this.resetElectionDeadline();
  }

  private appendResp(
    to: NodeId,
    success: boolean,
    matchIndex: number,
    conflictIndex: number,
    conflictTerm: number,
    round: number,
  ): AppendResponse {
    return {
      type: MessageType.APPEND_RESP,
      from: this.id,
      to,
      term: this.term,
      success,
      matchIndex,
      conflictIndex,
      conflictTerm,
      round,
    };
  }

  private handleAppend(m: AppendRequest): void {
    this.followLeader(m.from);
    const snapIndex = this.log.snapshotIndex;
    let prevIndex = m.prevIndex;
    let entries = m.entries;
    if (prevIndex < snapIndex) {
      // The prefix up to our snapshot is committed, hence identical to the leader's.
      entries = entries.filter((e) => e.index > snapIndex);
      prevIndex = snapIndex;
      if (entries.length === 0) {
        this.out.messages.push(this.appendResp(m.from, true, snapIndex, 0, 0, m.round));
        return;
      }
    } else if (this.log.term(prevIndex) !== m.prevTerm) {
      const last = this.log.lastIndex();
      if (prevIndex > last) {
        this.out.messages.push(this.appendResp(m.from, false, 0, last + 1, 0, m.round));
      } else {
        const ct = this.log.term(prevIndex)!;
        const ci = this.log.firstIndexOfTerm(ct, prevIndex);
        this.out.messages.push(this.appendResp(m.from, false, 0, ci, ct, m.round));
      }
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const have = this.log.term(e.index);
      if (have === e.term) continue;
      if (have !== undefined) {
        if (e.index <= this.commit)
          throw new Error(`raft: leader asked to overwrite committed entry ${e.index}`);
        this.truncate(e.index);
      }
      const rest = entries.slice(i);
      this.log.append(rest);
      this.out.entries.push(...rest);
      break;
    }
    const match = prevIndex + entries.length;
    const newCommit = Math.min(m.commit, match);
    if (newCommit > this.commit) this.commit = newCommit;
    this.out.messages.push(this.appendResp(m.from, true, match, 0, 0, m.round));
  }

  private truncate(index: number): void {
    this.log.truncateFrom(index);
    this.out.entries = this.out.entries.filter((e) => e.index < index);
    this.out.truncateFrom = this.out.truncateFrom === null ? index : Math.min(this.out.truncateFrom, index);
  }

  private handleSnapshot(m: SnapshotRequest): void {
    this.followLeader(m.from);
    const meta = m.snapshot.meta;
    const reply = (matchIndex: number): void => {
      const resp: SnapshotResponse = {
        type: MessageType.SNAPSHOT_RESP,
        from: this.id,
        to: m.from,
        term: this.term,
        matchIndex,
        round: m.round,
      };
      this.out.messages.push(resp);
    };
    if (meta.index <= this.commit) {
      reply(this.commit);
      return;
    }
    if (this.log.term(meta.index) === meta.term) {
      // Our log already holds the snapshot point: just learn that it is committed.
      this.commit = meta.index;
      reply(meta.index);
      return;
    }
    this.log.reset(meta.index, meta.term);
    this.snapshot = m.snapshot;
    this.config = meta.config;
    this.commit = meta.index;
    this.applied = meta.index;
    this.out.snapshot = m.snapshot;
    this.out.snapshotInstalled = true;
    this.out.entries = [];
    this.out.truncateFrom = meta.index + 1;
    reply(meta.index);
  }

  // ---------------------------------------------------------------- leader side

  private appendLocal(kind: EntryKind, data: Uint8Array): LogEntry {
    const entry: LogEntry = { index: this.log.lastIndex() + 1, term: this.term, kind, data };
    this.log.append([entry]);
    this.out.entries.push(entry);
    return entry;
  }

  private tickLeader(): void {
    if (this.now - this.lastQuorumCheckAt >= this.electionTimeout) {
      this.lastQuorumCheckAt = this.now;
      let live = 1;
      for (const p of this.progress.values()) if (this.now - p.lastAckAt < this.electionTimeout) live++;
      if (live < quorumSize(this.config)) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.transfer && this.now >= this.transfer.deadline) this.transfer = null;
    if (this.now - this.lastHeartbeatAt >= this.heartbeatInterval) {
      this.round++;
      this.broadcastAppend();
    }
    this.maybeHandOff();
  }

  private broadcastAppend(): void {
    this.lastHeartbeatAt = this.now;
    for (const id of this.peers()) this.sendAppend(id);
  }

  private sendAppend(to: NodeId): void {
    const p = this.progress.get(to);
    if (!p) return;
    if (p.next <= this.log.snapshotIndex) {
      if (!this.snapshot) throw new Error("raft: log compacted without a snapshot");
      this.out.messages.push({
        type: MessageType.SNAPSHOT,
        from: this.id,
        to,
        term: this.term,
        snapshot: this.snapshot,
        round: this.round,
      });
      p.next = this.snapshot.meta.index + 1;
      return;
    }
    const prevIndex = p.next - 1;
    const entries = this.log.slice(p.next, p.next + this.maxEntries - 1);
    this.out.messages.push({
      type: MessageType.APPEND,
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm: this.log.term(prevIndex)!,
      entries,
      commit: this.commit,
      round: this.round,
    });
    if (entries.length > 0) p.next = entries[entries.length - 1]!.index + 1;
  }

  private handleAppendResponse(m: AppendResponse): void {
    const p = this.progress.get(m.from);
    if (this.role !== Role.LEADER || !p) return;
    this.ack(p, m.round);
    if (m.success) {
      if (m.matchIndex > p.match) {
        p.match = m.matchIndex;
        this.maybeCommit();
      }
      p.next = Math.max(p.next, p.match + 1);
      this.maybeSendTimeoutNow();
      if (p.next <= this.log.lastIndex()) this.sendAppend(m.from);
      return;
    }
    let next = m.conflictIndex;
    if (m.conflictTerm > 0) {
      const last = this.log.lastIndexOfTerm(m.conflictTerm);
      if (last > 0) next = last + 1;
    }
    // A rejection at or below the acknowledged match: the follower's log is shorter
    // than (or differs within) what it acknowledged. Either the response is stale
    // (reordered) or the follower lost its Raft state (a wiped data directory). Go
    // back to where it says its log ends; without this, `next` stays at match + 1
    // and the follower rejects every append forever. Lowering match never lowers
    // the commit index; a stale rejection only costs a resend of entries it holds.
    if (next <= p.match) p.match = Math.max(0, next - 1);
    p.next = Math.max(p.match + 1, Math.min(next, this.log.lastIndex() + 1));
    this.sendAppend(m.from);
  }

  private handleSnapshotResponse(m: SnapshotResponse): void {
    const p = this.progress.get(m.from);
    if (this.role !== Role.LEADER || !p) return;
    this.ack(p, m.round);
    if (m.matchIndex > p.match) {
      p.match = m.matchIndex;
      this.maybeCommit();
    }
    p.next = Math.max(p.next, p.match + 1);
    if (p.next <= this.log.lastIndex()) this.sendAppend(m.from);
  }

  private ack(p: Progress, round: number): void {
    p.lastAckAt = this.now;
    if (round > p.round) {
      p.round = round;
      this.releaseReads();
    }
  }

  private maybeCommit(): void {
    const matches = [this.log.lastIndex(), ...[...this.progress.values()].map((p) => p.match)];
    const n = quorumIndex(matches, quorumSize(this.config));
    if (n > this.commit && this.log.term(n) === this.term) {
      this.commit = n;
      this.releaseReads();
      this.maybeHandOff();
    }
  }

  private releaseReads(): void {
    if (this.reads.length === 0 || this.log.term(this.commit) !== this.term) return;
    const q = quorumSize(this.config);
    const rounds = [this.round, ...[...this.progress.values()].map((p) => p.round)];
    const confirmed = quorumIndex(rounds, q);
    const keep: PendingRead[] = [];
    for (const r of this.reads) {
      if (r.round <= confirmed) this.out.reads.push({ ctx: r.ctx, index: this.commit });
      else keep.push(r);
    }
    this.reads = keep;
  }

  private failReads(): void {
    for (const r of this.reads) this.out.failedReads.push(r.ctx);
    this.reads = [];
  }

  private maybeSendTimeoutNow(): void {
    if (!this.transfer) return;
    const p = this.progress.get(this.transfer.target);
    if (p && p.match === this.log.lastIndex()) {
      this.out.messages.push({
        type: MessageType.TIMEOUT_NOW,
        from: this.id,
        to: this.transfer.target,
        term: this.term,
      });
    }
  }

  /** A witness leader hands leadership to a caught-up data voter. */
  private maybeHandOff(): void {
    if (this.role !== Role.LEADER || this.transfer || !isWitness(this.config, this.id)) return;
    if (this.log.term(this.commit) !== this.term) return;
    for (const v of this.config.voters) {
      const p = this.progress.get(v.id);
      if (p && !v.witness && p.match === this.log.lastIndex()) {
        this.transfer = { target: v.id, deadline: this.now + this.electionTimeout };
        this.maybeSendTimeoutNow();
        return;
      }
    }
  }

  // ---------------------------------------------------------------- output

  private drain(): RaftOutput {
    const out = this.out;
    this.out = emptyOutput();
    const hs = this.persisted;
    if (hs.term !== this.term || hs.votedFor !== this.votedFor || hs.commit !== this.commit) {
      this.persisted = { term: this.term, votedFor: this.votedFor, commit: this.commit };
      out.hardState = this.persisted;
    }
    if (this.commit > this.applied) {
      out.committed.push(...this.log.slice(this.applied + 1, this.commit));
      this.applied = this.commit;
    }
    return out;
  }
}
