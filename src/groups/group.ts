/**
 * One classic group's in-memory state: members (with their pending JoinGroup
 * and SyncGroup answers), members that were told MEMBER_ID_REQUIRED and have
 * not joined again yet, static members (group.instance.id → member id), the
 * generation, leader and selected protocol. The state machine that moves it
 * lives in coordinator.ts; this file only keeps the bookkeeping consistent.
 */
import type { ErrorCode } from "../errors.ts";
import type { CancelTimer } from "../util/timers.ts";
import {
  type GroupJoinMember,
  type GroupJoinResult,
  type GroupProtocol,
  GroupState,
  type GroupSyncResult,
} from "./types.ts";

export const EMPTY_BYTES = new Uint8Array(0);

export class Member {
  assignment: Uint8Array = EMPTY_BYTES;
  awaitingJoin: ((r: GroupJoinResult) => void) | null = null;
  awaitingSync: ((r: GroupSyncResult) => void) | null = null;
  cancelSession: CancelTimer | null = null;

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public sessionTimeoutMs: number,
    public rebalanceTimeoutMs: number,
    public protocolType: string,
    public protocols: GroupProtocol[],
  ) {}

  metadataFor(protocol: string | null): Uint8Array {
    return this.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY_BYTES;
  }

  /** Same protocols, in the same order, with the same metadata bytes. */
  matches(protocols: GroupProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const q = this.protocols[i];
      return q !== undefined && q.name === p.name && sameBytes(q.metadata, p.metadata);
    });
  }

  /** Answer a pending join with `result` (if any). */
  answerJoin(result: GroupJoinResult): void {
    const cb = this.awaitingJoin;
    this.awaitingJoin = null;
    cb?.(result);
  }

  answerSync(result: GroupSyncResult): void {
    const cb = this.awaitingSync;
    this.awaitingSync = null;
    cb?.(result);
  }

  stopSession(): void {
    this.cancelSession?.();
    this.cancelSession = null;
  }
}

export class Group {
  state: GroupState = GroupState.Empty;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Members told MEMBER_ID_REQUIRED that have not joined again: id -> expiry timer. */
  readonly pending = new Map<string, CancelTimer>();
  /** group.instance.id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /** The rebalance (or initial delay) timer while PreparingRebalance. */
  cancelJoinTimer: CancelTimer | null = null;
  /** While the first generation waits for more members (group.initial.rebalance.delay.ms). */
  initialDelay: { remainingMs: number; newMemberAdded: boolean } | null = null;

  constructor(readonly groupId: string) {}

  add(member: Member): void {
    if (this.members.size === 0) this.protocolType = member.protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.leaderId === null) this.leaderId = member.memberId;
    if (this.initialDelay) this.initialDelay.newMemberAdded = true;
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (!member) return;
    member.stopSession();
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) this.leaderId = this.pickLeader();
  }

  removePending(memberId: string): boolean {
    const cancel = this.pending.get(memberId);
    if (!cancel) return false;
    cancel();
    this.pending.delete(memberId);
    return true;
  }

  /** A new leader: prefer a member already waiting in the join. */
  pickLeader(): string | null {
    let first: string | null = null;
    for (const m of this.members.values()) {
      if (m.awaitingJoin) return m.memberId;
      first ??= m.memberId;
    }
    return first;
  }

  /** The instance id is bound to another member id (KIP-345 fencing). */
  isFenced(groupInstanceId: string | null | undefined, memberId: string): boolean {
    if (groupInstanceId === null || groupInstanceId === undefined) return false;
    const bound = this.staticMembers.get(groupInstanceId);
    return bound !== undefined && bound !== memberId;
  }

  /** Protocols every member supports. */
  candidateProtocols(): Set<string> {
    const counts = new Map<string, number>();
    for (const m of this.members.values()) {
      for (const p of m.protocols) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
    }
    const all = new Set<string>();
    for (const [name, n] of counts) if (n === this.members.size) all.add(name);
    return all;
  }

  /** Can a member with this protocol type and these protocols join? */
  supports(protocolType: string, names: string[]): boolean {
    if (names.length === 0 || protocolType === "") return false;
    if (this.members.size === 0) return true;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return names.some((n) => candidates.has(n));
  }

  /** Each member votes for its most preferred common protocol; most votes wins (ties: first voted). */
  selectProtocol(): string | null {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name));
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = 0;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  allMembersJoined(): boolean {
    if (this.pending.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return true;
  }

  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  /** The members' metadata for the selected protocol, as the leader gets it. */
  joinMembers(): GroupJoinMember[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadataFor(this.protocolName),
    }));
  }

  /** The JoinGroup answer of the current generation for `member`. */
  joinResult(member: Member, skipAssignment = false): GroupJoinResult {
    const isLeader = member.memberId === this.leaderId;
    return {
      error: null,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? "",
      memberId: member.memberId,
      members: isLeader ? this.joinMembers() : [],
      skipAssignment: isLeader && skipAssignment,
    };
  }

  syncResult(assignment: Uint8Array): GroupSyncResult {
    return { error: null, protocolType: this.protocolType, protocolName: this.protocolName, assignment };
  }
}

export function joinError(memberId: string, error: ErrorCode): GroupJoinResult {
  return {
    error,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: "",
    memberId,
    members: [],
    skipAssignment: false,
  };
}

export function syncError(error: ErrorCode): GroupSyncResult {
  return { error, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
