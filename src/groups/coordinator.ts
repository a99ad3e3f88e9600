/**
 * The classic group coordinator (Kafka's GroupCoordinator, "classic" protocol):
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
 * Sans-IO: time comes from the injected Clock and Timers; committed offsets
 * go through the injected GroupOffsetStore. Membership is not persisted: after
 * a restart members find their group unknown and join again (as after a Kafka
 * coordinator failover that lost the group metadata); offsets survive.
 */
import { ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import { describeGroups, listGroups } from "./describe.ts";
import { Group, joinError, Member, syncError } from "./group.ts";
import type { Timers } from "../util/timers.ts";
import {
  type GroupCommitRequest,
  type GroupCommitResult,
  type GroupCoordinatorApi,
  type GroupCoordinatorOptions,
  type GroupDescription,
  type GroupJoinRequest,
  type GroupJoinResult,
  type GroupLeaveRequest,
  type GroupLeaveResult,
  type GroupListing,
  type GroupMemberRef,
  GroupState,
  type GroupSyncRequest,
  type GroupSyncResult,
} from "./types.ts";

/** Where committed offsets live (the broker's metadata store). */
export interface GroupOffsetStore {
  /** Groups that have committed offsets. */
  groups(): string[];
  /** Commit what is valid; one error (or null) per offset, in order. */
  commit(groupId: string, offsets: GroupCommitRequest["offsets"]): Array<ErrorCode | null>;
  /** Drop all committed offsets of the group. */
  delete(groupId: string): void;
}

export interface GroupCoordinatorDeps {
  timers: Timers;
  logger: Logger;
  store: GroupOffsetStore;
  options?: GroupCoordinatorOptions;
  /** Member id suffix generator (default crypto.randomUUID). */
  newId?: () => string;
}

export const DEFAULT_INITIAL_REBALANCE_DELAY_MS = 3000;
export const DEFAULT_MIN_SESSION_TIMEOUT_MS = 6000;
export const DEFAULT_MAX_SESSION_TIMEOUT_MS = 1_800_000;
const MAX_GROUP_ID_LENGTH = 255;

export function validGroupId(groupId: string): boolean {
  return typeof groupId === "string" && groupId.length > 0 && groupId.length <= MAX_GROUP_ID_LENGTH;
}

export class GroupCoordinator implements GroupCoordinatorApi {
  private readonly groups = new Map<string, Group>();
  private readonly initialDelayMs: number;
  private readonly minSessionMs: number;
  private readonly maxSessionMs: number;
  private readonly maxSize: number;
  private readonly newId: () => string;
  private closed = false;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    const o = deps.options ?? {};
    this.initialDelayMs = o.initialRebalanceDelayMs ?? DEFAULT_INITIAL_REBALANCE_DELAY_MS;
    this.minSessionMs = o.minSessionTimeoutMs ?? DEFAULT_MIN_SESSION_TIMEOUT_MS;
    this.maxSessionMs = o.maxSessionTimeoutMs ?? DEFAULT_MAX_SESSION_TIMEOUT_MS;
    this.maxSize = o.maxSize ?? Number.MAX_SAFE_INTEGER;
    this.newId = deps.newId ?? (() => crypto.randomUUID());
  }

  /** The live group (tests and admin views); undefined if unknown. */
  group(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  // JoinGroup

  async joinGroup(req: GroupJoinRequest): Promise<GroupJoinResult> {
    const memberId = req.memberId;
    if (this.closed) return joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!validGroupId(req.groupId)) return joinError(memberId, ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeoutMs < this.minSessionMs || req.sessionTimeoutMs > this.maxSessionMs) {
      return joinError(memberId, ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (memberId !== "") return joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID);
      group = new Group(req.groupId);
      this.groups.set(req.groupId, group);
    }
    const g = group;
    if (g.state === GroupState.Dead) return joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (
      !g.supports(
        req.protocolType,
        req.protocols.map((p) => p.name),
      )
    ) {
      return joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    const known = g.members.has(memberId);
    if (!known && g.members.size >= this.maxSize)
      return joinError(memberId, ErrorCode.GROUP_MAX_SIZE_REACHED);
    return new Promise<GroupJoinResult>((resolve) => {
      if (memberId === "") this.joinNewMember(g, req, resolve);
      else this.joinKnownMember(g, req, resolve);
    });
  }

  private joinNewMember(g: Group, req: GroupJoinRequest, resolve: (r: GroupJoinResult) => void): void {
    const instanceId = req.groupInstanceId ?? null;
    if (instanceId !== null) {
      const oldId = g.staticMembers.get(instanceId);
      const old = oldId === undefined ? undefined : g.members.get(oldId);
      if (old) this.replaceStaticMember(g, old, req, resolve);
      else this.addMemberAndRebalance(g, `${instanceId}-${this.newId()}`, req, resolve);
      return;
    }
    const memberId = `${req.clientId || "member"}-${this.newId()}`;
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
    const newId = `${instanceId}-${this.newId()}`;
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
      this.scheduleSession(g, member);
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
    if (wasEmpty && this.initialDelayMs > 0) {
      const delay = Math.min(this.initialDelayMs, timeout);
      g.initialDelay = { remainingMs: Math.max(timeout - this.initialDelayMs, 0), newMemberAdded: false };
      g.cancelJoinTimer = this.deps.timers.schedule(delay, () => this.onInitialDelay(g));
      return;
    }
    g.cancelJoinTimer = this.deps.timers.schedule(timeout, () => this.completeJoin(g));
    this.tryCompleteJoin(g);
  }

  private onInitialDelay(g: Group): void {
    const d = g.initialDelay;
    if (d?.newMemberAdded && d.remainingMs > 0) {
      const delay = Math.min(this.initialDelayMs, d.remainingMs);
      g.initialDelay = {
        remainingMs: Math.max(d.remainingMs - this.initialDelayMs, 0),
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
      this.scheduleSession(g, m);
      m.answerJoin(g.joinResult(m));
    }
  }

  // Liveness

  private scheduleSession(g: Group, m: Member): void {
    m.stopSession();
    m.cancelSession = this.deps.timers.schedule(m.sessionTimeoutMs, () => {
      m.cancelSession = null;
      if (g.members.get(m.memberId) !== m) return;
      if (m.awaitingJoin || m.awaitingSync) {
        this.scheduleSession(g, m);
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

  /** Common checks of SyncGroup, Heartbeat and OffsetCommit for a member of a live group. */
  private checkMember(
    g: Group | undefined,
    ref: GroupMemberRef,
  ): { error: ErrorCode } | { member: Member; g: Group } {
    if (!g || g.state === GroupState.Empty) return { error: ErrorCode.UNKNOWN_MEMBER_ID };
    if (g.state === GroupState.Dead) return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    if (g.isFenced(ref.groupInstanceId, ref.memberId)) return { error: ErrorCode.FENCED_INSTANCE_ID };
    const member = g.members.get(ref.memberId);
    if (!member) return { error: ErrorCode.UNKNOWN_MEMBER_ID };
    if (ref.generationId !== g.generationId) return { error: ErrorCode.ILLEGAL_GENERATION };
    return { member, g };
  }

  // SyncGroup

  async syncGroup(req: GroupSyncRequest): Promise<GroupSyncResult> {
    if (this.closed) return syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!validGroupId(req.groupId)) return syncError(ErrorCode.INVALID_GROUP_ID);
    const checked = this.checkMember(this.groups.get(req.groupId), req);
    if ("error" in checked) return syncError(checked.error);
    const { member, g } = checked;
    if (
      (req.protocolType != null && req.protocolType !== g.protocolType) ||
      (req.protocolName != null && req.protocolName !== g.protocolName)
    ) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    if (g.state === GroupState.PreparingRebalance) return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
    this.scheduleSession(g, member);
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

  // Heartbeat

  async heartbeat(req: GroupMemberRef): Promise<{ error: ErrorCode | null }> {
    if (this.closed) return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    if (!validGroupId(req.groupId)) return { error: ErrorCode.INVALID_GROUP_ID };
    const checked = this.checkMember(this.groups.get(req.groupId), req);
    if ("error" in checked) return { error: checked.error };
    this.scheduleSession(checked.g, checked.member);
    return {
      error: checked.g.state === GroupState.PreparingRebalance ? ErrorCode.REBALANCE_IN_PROGRESS : null,
    };
  }

  // LeaveGroup

  async leaveGroup(req: GroupLeaveRequest): Promise<GroupLeaveResult> {
    if (this.closed) return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (!validGroupId(req.groupId)) return { error: ErrorCode.INVALID_GROUP_ID, members: [] };
    const g = this.groups.get(req.groupId);
    const results: GroupLeaveResult["members"] = [];
    for (const leaving of req.members) {
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
    return { error: null, members: results };
  }

  // OffsetCommit

  async commitOffsets(req: GroupCommitRequest): Promise<GroupCommitResult> {
    const error = this.commitError(req);
    if (error) return { error, partitions: req.offsets.map((o) => ({ ...ref(o), error })) };
    const errors = this.deps.store.commit(req.groupId, req.offsets);
    return { error: null, partitions: req.offsets.map((o, i) => ({ ...ref(o), error: errors[i] ?? null })) };
  }

  /** Kafka's doCommitOffsets checks, in its order. */
  private commitError(req: GroupCommitRequest): ErrorCode | null {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!validGroupId(req.groupId)) return ErrorCode.INVALID_GROUP_ID;
    const g = this.groups.get(req.groupId);
    if (!g) return req.generationId < 0 ? null : ErrorCode.ILLEGAL_GENERATION;
    if (g.state === GroupState.Dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.isFenced(req.groupInstanceId, req.memberId)) return ErrorCode.FENCED_INSTANCE_ID;
    if (req.generationId < 0 && g.state === GroupState.Empty) return null;
    if (g.state === GroupState.CompletingRebalance) return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = g.members.get(req.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSession(g, member);
    return null;
  }

  // Admin

  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    return describeGroups(this.groups, this.deps.store.groups(), groupIds);
  }

  async listGroups(filter?: { states?: string[] }): Promise<GroupListing[]> {
    return listGroups(this.groups, this.deps.store.groups(), filter?.states);
  }

  async deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; error: ErrorCode | null }>> {
    const stored = new Set(this.deps.store.groups());
    return groupIds.map((groupId) => {
      if (!validGroupId(groupId)) return { groupId, error: ErrorCode.INVALID_GROUP_ID };
      const g = this.groups.get(groupId);
      if (g && (g.members.size > 0 || g.state !== GroupState.Empty)) {
        return { groupId, error: ErrorCode.GROUP_NOT_EMPTY };
      }
      if (!g && !stored.has(groupId)) return { groupId, error: ErrorCode.GROUP_NOT_FOUND };
      if (g) {
        for (const id of [...g.pending.keys()]) g.removePending(id);
        g.state = GroupState.Dead;
        this.groups.delete(groupId);
      }
      if (stored.has(groupId)) this.deps.store.delete(groupId);
      return { groupId, error: null };
    });
  }

  /** Stop every timer and answer every waiting member with COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      g.cancelJoinTimer?.();
      g.cancelJoinTimer = null;
      for (const id of [...g.pending.keys()]) g.removePending(id);
      for (const m of g.members.values()) {
        m.stopSession();
        m.answerJoin(joinError(m.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
        m.answerSync(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      }
      g.state = GroupState.Dead;
    }
    this.groups.clear();
  }
}

function ref(o: { topic: string; partition: number }): { topic: string; partition: number } {
  return { topic: o.topic, partition: o.partition };
}

function sameMetadata(old: Member, req: GroupJoinRequest, protocol: string): boolean {
  const next = req.protocols.find((p) => p.name === protocol);
  if (!next || req.protocolType !== old.protocolType) return false;
  const prev = old.metadataFor(protocol);
  return prev.length === next.metadata.length && prev.every((b, i) => b === next.metadata[i]);
}
