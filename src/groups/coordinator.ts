/**
 * The classic group coordinator (Kafka's GroupCoordinator, "classic"
 * protocol): the registry of live groups, the checks in front of every group
 * request (group id, ownership, member and generation, in Kafka's order),
 * member-checked offset commits, and the admin calls (describe, list,
 * delete). The rebalance state machine itself (JoinGroup, SyncGroup, session
 * expiry, LeaveGroup, static members) is rebalance.ts.
 *
 * Sans-IO: time comes from the injected Timers; committed offsets go through
 * the injected GroupOffsetStore. Membership is not persisted: after a
 * restart members find their group unknown and join again (as after a Kafka
 * coordinator failover that lost the group metadata); offsets survive.
 *
 * Cluster mode: `owner(groupId)` says whether this node coordinates a group
 * now (src/cluster/coordinator-partitions.ts); every request for a group it
 * does not coordinate is answered with that error (NOT_COORDINATOR,
 * COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE) and the client
 * finds the coordinator again. `unloadGroups` drops the groups of a
 * coordinator partition this node no longer leads (waiting members are told
 * NOT_COORDINATOR), as Kafka's removeGroupsForPartition.
 */
import { ErrorCode, toEddyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Timers } from "../util/timers.ts";
import { describeGroups, listGroups } from "./describe.ts";
import { Group, joinError, type Member, syncError } from "./group.ts";
import { Rebalancer } from "./rebalance.ts";
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
  /** Commit what is valid; one error (or null) per offset, in order. Cluster mode: async (replicated first). */
  commit(
    groupId: string,
    offsets: GroupCommitRequest["offsets"],
  ): Array<ErrorCode | null> | Promise<Array<ErrorCode | null>>;
  /** Drop all committed offsets of the group. */
  delete(groupId: string): void | Promise<void>;
}

export interface GroupCoordinatorDeps {
  timers: Timers;
  logger: Logger;
  store: GroupOffsetStore;
  options?: GroupCoordinatorOptions;
  /** Member id suffix generator (default crypto.randomUUID). */
  newId?: () => string;
  /** Cluster mode: null when this node coordinates the group now, else the error to answer. */
  owner?: (groupId: string) => ErrorCode | null;
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
  private readonly rebalance: Rebalancer;
  private readonly minSessionMs: number;
  private readonly maxSessionMs: number;
  private readonly maxSize: number;
  private closed = false;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    const o = deps.options ?? {};
    this.rebalance = new Rebalancer({
      timers: deps.timers,
      logger: deps.logger,
      initialDelayMs: o.initialRebalanceDelayMs ?? DEFAULT_INITIAL_REBALANCE_DELAY_MS,
      newId: deps.newId ?? (() => crypto.randomUUID()),
    });
    this.minSessionMs = o.minSessionTimeoutMs ?? DEFAULT_MIN_SESSION_TIMEOUT_MS;
    this.maxSessionMs = o.maxSessionTimeoutMs ?? DEFAULT_MAX_SESSION_TIMEOUT_MS;
    this.maxSize = o.maxSize ?? Number.MAX_SAFE_INTEGER;
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
    const notOwner = this.notOwner(req.groupId);
    if (notOwner) return joinError(memberId, notOwner);
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
    return this.rebalance.join(g, req);
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
    const notOwner = this.notOwner(req.groupId);
    if (notOwner) return syncError(notOwner);
    const checked = this.checkMember(this.groups.get(req.groupId), req);
    if ("error" in checked) return syncError(checked.error);
    const { member, g } = checked;
    if (
      (req.protocolType != null && req.protocolType !== g.protocolType) ||
      (req.protocolName != null && req.protocolName !== g.protocolName)
    ) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    return this.rebalance.sync(g, member, req);
  }

  // Heartbeat

  async heartbeat(req: GroupMemberRef): Promise<{ error: ErrorCode | null }> {
    if (this.closed) return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    if (!validGroupId(req.groupId)) return { error: ErrorCode.INVALID_GROUP_ID };
    const notOwner = this.notOwner(req.groupId);
    if (notOwner) return { error: notOwner };
    const checked = this.checkMember(this.groups.get(req.groupId), req);
    if ("error" in checked) return { error: checked.error };
    this.rebalance.touch(checked.g, checked.member);
    return {
      error: checked.g.state === GroupState.PreparingRebalance ? ErrorCode.REBALANCE_IN_PROGRESS : null,
    };
  }

  // LeaveGroup

  async leaveGroup(req: GroupLeaveRequest): Promise<GroupLeaveResult> {
    if (this.closed) return { error: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (!validGroupId(req.groupId)) return { error: ErrorCode.INVALID_GROUP_ID, members: [] };
    const notOwner = this.notOwner(req.groupId);
    if (notOwner) return { error: notOwner, members: [] };
    return { error: null, members: this.rebalance.leave(this.groups.get(req.groupId), req.members) };
  }

  // OffsetCommit

  async commitOffsets(req: GroupCommitRequest): Promise<GroupCommitResult> {
    const error = this.commitError(req);
    if (error) return { error, partitions: req.offsets.map((o) => ({ ...ref(o), error })) };
    const committed = this.deps.store.commit(req.groupId, req.offsets);
    const errors = committed instanceof Promise ? await committed : committed;
    return { error: null, partitions: req.offsets.map((o, i) => ({ ...ref(o), error: errors[i] ?? null })) };
  }

  /** Kafka's doCommitOffsets checks, in its order. */
  private commitError(req: GroupCommitRequest): ErrorCode | null {
    if (this.closed) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (!validGroupId(req.groupId)) return ErrorCode.INVALID_GROUP_ID;
    const notOwner = this.notOwner(req.groupId);
    if (notOwner) return notOwner;
    const g = this.groups.get(req.groupId);
    if (!g) return req.generationId < 0 ? null : ErrorCode.ILLEGAL_GENERATION;
    if (g.state === GroupState.Dead) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.isFenced(req.groupInstanceId, req.memberId)) return ErrorCode.FENCED_INSTANCE_ID;
    if (req.generationId < 0 && g.state === GroupState.Empty) return null;
    if (g.state === GroupState.CompletingRebalance) return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = g.members.get(req.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.rebalance.touch(g, member);
    return null;
  }

  // Admin

  async describeGroups(groupIds: string[]): Promise<GroupDescription[]> {
    const described = describeGroups(this.groups, this.deps.store.groups(), groupIds);
    if (!this.deps.owner) return described;
    return described.map((d) => {
      const notOwner = d.error === null ? this.notOwner(d.groupId) : null;
      return notOwner ? { ...d, error: notOwner } : d;
    });
  }

  async listGroups(filter?: { states?: string[] }): Promise<GroupListing[]> {
    const listed = listGroups(this.groups, this.deps.store.groups(), filter?.states);
    return this.deps.owner ? listed.filter((l) => this.notOwner(l.groupId) === null) : listed;
  }

  async deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; error: ErrorCode | null }>> {
    const stored = new Set(this.deps.store.groups());
    const results: Array<{ groupId: string; error: ErrorCode | null }> = [];
    for (const groupId of groupIds) results.push(await this.deleteGroup(groupId, stored));
    return results;
  }

  private async deleteGroup(
    groupId: string,
    stored: ReadonlySet<string>,
  ): Promise<{ groupId: string; error: ErrorCode | null }> {
    if (!validGroupId(groupId)) return { groupId, error: ErrorCode.INVALID_GROUP_ID };
    const notOwner = this.notOwner(groupId);
    if (notOwner) return { groupId, error: notOwner };
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
    try {
      if (stored.has(groupId)) await this.deps.store.delete(groupId);
    } catch (err) {
      return { groupId, error: toEddyError(err).code };
    }
    return { groupId, error: null };
  }

  /**
   * Cluster mode: forget the groups `drop` selects (their coordinator
   * partition moved away). Waiting members are answered NOT_COORDINATOR and
   * find the new coordinator, where they join again.
   */
  unloadGroups(drop: (groupId: string) => boolean): void {
    for (const [groupId, g] of [...this.groups]) {
      if (!drop(groupId)) continue;
      this.shutGroup(g, ErrorCode.NOT_COORDINATOR);
      this.groups.delete(groupId);
    }
  }

  private notOwner(groupId: string): ErrorCode | null {
    return this.deps.owner ? this.deps.owner(groupId) : null;
  }

  /** Stop every timer and answer every waiting member with COORDINATOR_NOT_AVAILABLE. */
  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) this.shutGroup(g, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    this.groups.clear();
  }

  /** Stop a group's timers and answer its waiting members with `error`. */
  private shutGroup(g: Group, error: ErrorCode): void {
    this.rebalance.shut(g, error);
  }
}

function ref(o: { topic: string; partition: number }): { topic: string; partition: number } {
  return { topic: o.topic, partition: o.partition };
}
