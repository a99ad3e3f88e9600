/**
 * The classic rebalance protocol of one group (Kafka's GroupCoordinator,
 * "classic" protocol), driven by the coordinator (coordinator.ts) once it has
 * checked a request (group id, ownership, member, generation):
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
 *     ▲                   ▲    │ (no members left: Empty)                       │ leader's SyncGroup
 *     └── last member ────┴────┴──── join, leave, session expiry ◀──── Stable ◀─┘
 *
 * - JoinGroup answers only when the join phase ends: every known member has
 *   joined again (and no MEMBER_ID_REQUIRED member is still expected), or the
 *   rebalance timeout (the largest of the members') fired, removing the
 *   members that did not join. The first generation of an empty group waits
 *   group.initial.rebalance.delay.ms, extended while members keep arriving,
 *   up to the rebalance timeout.
 * - Completing the join bumps the generation, selects the protocol (each member
 *   votes for its favourite common one), keeps or elects a leader, and sends
 *   the leader every member's metadata. The leader's SyncGroup makes the
 *   group Stable and hands each member its assignment.
 * - Members are alive while they heartbeat (Heartbeat, SyncGroup, OffsetCommit)
 *   within their session timeout, or wait inside a JoinGroup or SyncGroup.
 * - Static members (KIP-345) keep their place across restarts: a join with a
 *   known group.instance.id replaces the old member id (which is fenced with
 *   FENCED_INSTANCE_ID) without a rebalance when its metadata is unchanged.
 *
 * Sans-IO: time comes from the injected Timers; nothing here touches offsets.
 */
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Timers } from "../util/timers.ts";
import { type Group, joinError, Member, syncError } from "./group.ts";
import {
  type GroupJoinRequest,
  type GroupJoinResult,
  type GroupLeaveRequest,
  type GroupLeaveResult,
  GroupState,
  type GroupSyncRequest,
  type GroupSyncResult,
} from "./types.ts";

export interface RebalanceDeps {
  timers: Timers;
  logger: Logger;
  /** group.initial.rebalance.delay.ms */
  initialDelayMs: number;
  /** Member id suffix generator. */
  newId: () => string;
}

export class Rebalancer {
  constructor(private readonly deps: RebalanceDeps) {}

  /** JoinGroup on a live group the coordinator checked: resolves when the join phase ends for this member. */
  join(g: Group, req: GroupJoinRequest): Promise<GroupJoinResult> {
    return new Promise<GroupJoinResult>((resolve) => {
      if (req.memberId === "") this.joinNewMember(g, req, resolve);
      else this.joinKnownMember(g, req, resolve);
    });
  }

  private joinNewMember(g: Group, req: GroupJoinRequest, resolve: (r: GroupJoinResult) => void): void {
    const instanceId = req.groupInstanceId ?? null;
    if (instanceId !== null) {
      const oldId = g.staticMembers.get(instanceId);
      const old = oldId === undefined ? undefined : g.members.get(oldId);
      if (old) this.replaceStaticMember(g, old, req, resolve);
      else this.addMemberAndRebalance(g, `${instanceId}-${this.deps.newId()}`, req, resolve);
      return;
    }
    const memberId = `${req.clientId || "member"}-${this.deps.newId()}`;
    if (req.requireKnownMemberId) {
      // KIP-394: hand out the id; the member joins again with it.
      const cancel = this.deps.timers.schedule(req.sessionTimeoutMs, () => {
        if (g.pending.delete(memberId)) this.tryCompleteJoin(g);
      });
      g.pending.set(memberId, cancel);
      resolve(joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED));
      return;
    }
    this.addMemberAndRebalance(g, memberId, req, resolve);
  }

  private joinKnownMember(g: Group, req: GroupJoinRequest, resolve: (r: GroupJoinResult) => void): void {
    const memberId = req.memberId;
    if (g.removePending(memberId)) {
      this.addMemberAndRebalance(g, memberId, req, resolve);
      return;
    }
    const member = g.members.get(memberId);
    if (!member) {
      resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      return;
    }
    if (g.isFenced(req.groupInstanceId, memberId)) {
      resolve(joinError(memberId, ErrorCode.FENCED_INSTANCE_ID));
      return;
    }
    switch (g.state) {
      case GroupState.PreparingRebalance:
        this.updateMemberAndRebalance(g, member, req, resolve);
        return;
      case GroupState.CompletingRebalance:
        // The member lost the join answer: give it again, unless its protocols changed.
        if (member.matches(req.protocols)) resolve(g.joinResult(member));
        else this.updateMemberAndRebalance(g, member, req, resolve);
        return;
      case GroupState.Stable:
        if (memberId === g.leaderId || !member.matches(req.protocols)) {
          this.updateMemberAndRebalance(g, member, req, resolve);
        } else {
          resolve(g.joinResult(member));
        }
        return;
      default:
        resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private addMemberAndRebalance(
    g: Group,
    memberId: string,
    req: GroupJoinRequest,
    resolve: (r: GroupJoinResult) => void,
  ): void {
    const member = new Member(
      memberId,
      req.groupInstanceId ?? null,
      req.clientId,
      req.clientHost,
      req.sessionTimeoutMs,
      req.rebalanceTimeoutMs,
      req.protocolType,
      req.protocols,
    );
    member.awaitingJoin = resolve;
    g.add(member);
    this.maybePrepareRebalance(g, `member ${memberId} joined`);
  }

  private updateMemberAndRebalance(
    g: Group,
    member: Member,
    req: GroupJoinRequest,
    resolve: (r: GroupJoinResult) => void,
  ): void {
    member.answerJoin(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.protocols = req.protocols;
    member.awaitingJoin = resolve;
    this.maybePrepareRebalance(g, `member ${member.memberId} joined again`);
  }

  /** KIP-345: a known group.instance.id joins with a new member id; the old one is fenced. */
  private replaceStaticMember(
    g: Group,
    old: Member,
    req: GroupJoinRequest,
    resolve: (r: GroupJoinResult) => void,
  ) {
    const instanceId = old.groupInstanceId ?? "";
    const newId = `${instanceId}-${this.deps.newId()}`;
    old.answerJoin(joinError(old.memberId, ErrorCode.FENCED_INSTANCE_ID));
    old.answerSync(syncError(ErrorCode.FENCED_INSTANCE_ID));
    old.stopSession();
    const unchanged = g.protocolName !== null && sameMetadata(old, req, g.protocolName);
    const member = new Member(
      newId,
      old.groupInstanceId,
      req.clientId,
      req.clientHost,
      req.sessionTimeoutMs,
      req.rebalanceTimeoutMs,
      req.protocolType,
      req.protocols,
    );
    member.assignment = old.assignment;
    g.members.delete(old.memberId);
    g.members.set(newId, member);
    g.staticMembers.set(instanceId, newId);
    if (g.leaderId === old.memberId) g.leaderId = newId;
    this.deps.logger.info("static member replaced", {
      group: g.groupId,
      instanceId,
      oldId: old.memberId,
      newId,
    });
    if (unchanged && (g.state === GroupState.Stable || g.state === GroupState.CompletingRebalance)) {
      this.touch(g, member);
      resolve(g.joinResult(member, g.state === GroupState.Stable));
      return;
    }
    member.awaitingJoin = resolve;
    this.maybePrepareRebalance(g, `static member ${instanceId} joined with new metadata`);
  }

  private maybePrepareRebalance(g: Group, reason: string): void {
    if (g.state === GroupState.PreparingRebalance) this.tryCompleteJoin(g);
    else if (g.state !== GroupState.Dead) this.prepareRebalance(g, reason);
  }

  private prepareRebalance(g: Group, reason: string): void {
    if (g.state === GroupState.CompletingRebalance) {
      for (const m of g.members.values()) {
        m.assignment = new Uint8Array(0);
        m.answerSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      }
    }
    const wasEmpty = g.state === GroupState.Empty;
    g.state = GroupState.PreparingRebalance;
    this.deps.logger.info("group rebalancing", { group: g.groupId, generation: g.generationId, reason });
    const timeout = g.rebalanceTimeoutMs();
    if (wasEmpty && this.deps.initialDelayMs > 0) {
      const delay = Math.min(this.deps.initialDelayMs, timeout);
      g.initialDelay = {
        remainingMs: Math.max(timeout - this.deps.initialDelayMs, 0),
        newMemberAdded: false,
      };
      g.cancelJoinTimer = this.deps.timers.schedule(delay, () => this.onInitialDelay(g));
      return;
    }
    g.cancelJoinTimer = this.deps.timers.schedule(timeout, () => this.completeJoin(g));
    this.tryCompleteJoin(g);
  }

  private onInitialDelay(g: Group): void {
    const d = g.initialDelay;
    if (d?.newMemberAdded && d.remainingMs > 0) {
      const delay = Math.min(this.deps.initialDelayMs, d.remainingMs);
      g.initialDelay = {
        remainingMs: Math.max(d.remainingMs - this.deps.initialDelayMs, 0),
        newMemberAdded: false,
      };
      g.cancelJoinTimer = this.deps.timers.schedule(delay, () => this.onInitialDelay(g));
      return;
    }
    this.completeJoin(g);
  }

  private tryCompleteJoin(g: Group): void {
    if (g.state === GroupState.PreparingRebalance && g.initialDelay === null && g.allMembersJoined()) {
      this.completeJoin(g);
    }
  }

  /** End the join phase: drop members that did not join, start the next generation. */
  private completeJoin(g: Group): void {
    g.cancelJoinTimer?.();
    g.cancelJoinTimer = null;
    g.initialDelay = null;
    if (g.state !== GroupState.PreparingRebalance) return;
    for (const m of [...g.members.values()]) {
      if (!m.awaitingJoin) {
        this.deps.logger.info("member removed: it did not join the rebalance in time", {
          group: g.groupId,
          member: m.memberId,
        });
        g.remove(m.memberId);
      }
    }
    g.generationId++;
    if (g.members.size === 0) {
      g.state = GroupState.Empty;
      g.protocolName = null;
      g.leaderId = null;
      this.deps.logger.info("group is empty", { group: g.groupId, generation: g.generationId });
      return;
    }
    g.protocolName = g.selectProtocol();
    if (g.leaderId === null || !g.members.has(g.leaderId)) g.leaderId = g.pickLeader();
    g.state = GroupState.CompletingRebalance;
    this.deps.logger.info("group rebalanced", {
      group: g.groupId,
      generation: g.generationId,
      protocol: g.protocolName,
      members: g.members.size,
    });
    for (const m of g.members.values()) {
      this.touch(g, m);
      m.answerJoin(g.joinResult(m));
    }
  }

  // Liveness

  /** A member showed it is alive (Heartbeat, SyncGroup, OffsetCommit, a join): restart its session timer. */
  touch(g: Group, m: Member): void {
    m.stopSession();
    m.cancelSession = this.deps.timers.schedule(m.sessionTimeoutMs, () => {
      m.cancelSession = null;
      if (g.members.get(m.memberId) !== m) return;
      if (m.awaitingJoin || m.awaitingSync) {
        this.touch(g, m);
        return;
      }
      this.deps.logger.info("member session expired", { group: g.groupId, member: m.memberId });
      this.removeMemberAndUpdateGroup(g, m, `member ${m.memberId} session expired`);
    });
  }

  private removeMemberAndUpdateGroup(g: Group, m: Member, reason: string): void {
    m.answerJoin(joinError(m.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    m.answerSync(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    g.remove(m.memberId);
    if (g.state === GroupState.Stable || g.state === GroupState.CompletingRebalance)
      this.prepareRebalance(g, reason);
    else if (g.state === GroupState.PreparingRebalance) this.tryCompleteJoin(g);
  }

  // SyncGroup

  /** SyncGroup of a checked member: its assignment, once the leader has sent them all. */
  sync(g: Group, member: Member, req: GroupSyncRequest): Promise<GroupSyncResult> | GroupSyncResult {
    if (g.state === GroupState.PreparingRebalance) return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
    this.touch(g, member);
    if (g.state === GroupState.Stable) return g.syncResult(member.assignment);
    // CompletingRebalance: wait for the leader's assignment.
    return new Promise<GroupSyncResult>((resolve) => {
      member.answerSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      member.awaitingSync = resolve;
      if (member.memberId !== g.leaderId) return;
      const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of g.members.values()) m.assignment = given.get(m.memberId) ?? new Uint8Array(0);
      g.state = GroupState.Stable;
      this.deps.logger.info("group stable", { group: g.groupId, generation: g.generationId });
      for (const m of g.members.values()) m.answerSync(g.syncResult(m.assignment));
    });
  }

  // LeaveGroup

  /** LeaveGroup's members, one answer each (the coordinator checked the group id and ownership). */
  leave(g: Group | undefined, leavingMembers: GroupLeaveRequest["members"]): GroupLeaveResult["members"] {
    const results: GroupLeaveResult["members"] = [];
    for (const leaving of leavingMembers) {
      const instanceId = leaving.groupInstanceId ?? null;
      const out = (error: ErrorCode | null) =>
        results.push({ memberId: leaving.memberId, groupInstanceId: instanceId, error });
      if (!g || g.state === GroupState.Dead) {
        out(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      let memberId = leaving.memberId;
      if (memberId === "" && instanceId !== null) memberId = g.staticMembers.get(instanceId) ?? "";
      else if (g.isFenced(instanceId, memberId)) {
        out(ErrorCode.FENCED_INSTANCE_ID);
        continue;
      }
      if (g.removePending(memberId)) {
        this.tryCompleteJoin(g);
        out(null);
        continue;
      }
      const member = g.members.get(memberId);
      if (!member) {
        out(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      this.deps.logger.info("member left the group", {
        group: g.groupId,
        member: memberId,
        reason: leaving.reason ?? undefined,
      });
      this.removeMemberAndUpdateGroup(g, member, `member ${memberId} left`);
      out(null);
    }
    return results;
  }

  /** Stop a group's timers and answer its waiting members with `error`; the group is Dead after. */
  shut(g: Group, error: ErrorCode): void {
    g.cancelJoinTimer?.();
    g.cancelJoinTimer = null;
    for (const id of [...g.pending.keys()]) g.removePending(id);
    for (const m of g.members.values()) {
      m.stopSession();
      m.answerJoin(joinError(m.memberId, error));
      m.answerSync(syncError(error));
    }
    g.state = GroupState.Dead;
  }
}

function sameMetadata(old: Member, req: GroupJoinRequest, protocol: string): boolean {
  const next = req.protocols.find((p) => p.name === protocol);
  if (!next || req.protocolType !== old.protocolType) return false;
  const prev = old.metadataFor(protocol);
  return prev.length === next.metadata.length && prev.every((b, i) => b === next.metadata[i]);
}
