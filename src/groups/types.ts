/**
 * Classic consumer groups, protocol-neutral: the requests and results of the
 * group coordinator as every frontend sees them (Kafka handlers, HTTP, CLI).
 * Errors are `ErrorCode | null` values in the results, never thrown, because a
 * group error is an answer the client acts on (rejoin, retry, give up).
 *
 * Opaque bytes (protocol metadata, assignments) are passed through untouched:
 * the coordinator never looks inside them (the leader assigns partitions).
 */
import type { ErrorCode } from "../errors.ts";

export const GroupState = {
  Empty: "Empty",
  PreparingRebalance: "PreparingRebalance",
  CompletingRebalance: "CompletingRebalance",
  Stable: "Stable",
  Dead: "Dead",
} as const;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

export interface GroupProtocol {
  name: string;
  metadata: Uint8Array;
}

export interface GroupJoinRequest {
  groupId: string;
  /** "" for a new member. */
  memberId: string;
  /** Static membership (KIP-345): group.instance.id, or null. */
  groupInstanceId?: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** "consumer", "connect", … */
  protocolType: string;
  /** In the member's order of preference. */
  protocols: GroupProtocol[];
  /**
   * KIP-394 (Kafka JoinGroup v4+): a new dynamic member first gets its member
   * id with MEMBER_ID_REQUIRED and must join again with it.
   */
  requireKnownMemberId: boolean;
  reason?: string | null;
}

export interface GroupJoinMember {
  memberId: string;
  groupInstanceId: string | null;
  /** The member's metadata for the selected protocol. */
  metadata: Uint8Array;
}

export interface GroupJoinResult {
  error: ErrorCode | null;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  /** The member's id (also set with MEMBER_ID_REQUIRED). */
  memberId: string;
  /** Only the leader gets the members. */
  members: GroupJoinMember[];
  /** KIP-814: a static leader rejoining a stable group need not assign again. */
  skipAssignment: boolean;
}

export interface GroupMemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
}

export interface GroupSyncRequest extends GroupMemberRef {
  /** Optional check (Kafka SyncGroup v5+). */
  protocolType?: string | null;
  protocolName?: string | null;
  /** The leader's assignments; empty from followers. */
  assignments: Array<{ memberId: string; assignment: Uint8Array }>;
}

export interface GroupSyncResult {
  error: ErrorCode | null;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Uint8Array;
}

export interface GroupLeaveRequest {
  groupId: string;
  /** One or more members (Kafka LeaveGroup v3+ batches them; memberId "" with an instance id removes a static member). */
  members: Array<{ memberId: string; groupInstanceId?: string | null; reason?: string | null }>;
}

export interface GroupLeaveResult {
  /** Group-level error (the group is unknown or not available). */
  error: ErrorCode | null;
  members: Array<{ memberId: string; groupInstanceId: string | null; error: ErrorCode | null }>;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Metadata for the selected protocol (empty unless the group is Stable). */
  metadata: Uint8Array;
  /** The member's assignment (empty unless the group is Stable). */
  assignment: Uint8Array;
}

export interface GroupDescription {
  groupId: string;
  error: ErrorCode | null;
  /** Dead for a group Eddy does not know. */
  state: GroupState;
  protocolType: string;
  /** The selected protocol ("range", "roundrobin", …) when Stable, else "". */
  protocol: string;
  generationId: number;
  leader: string;
  members: GroupMemberDescription[];
}

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: GroupState;
  /** Always "classic" (KIP-848 groups are not served). */
  type: "classic";
}

export interface GroupCommitRequest extends GroupMemberRef {
  offsets: Array<{
    topic: string;
    partition: number;
    offset: number;
    leaderEpoch?: number;
    metadata?: string;
  }>;
}

export interface GroupCommitResult {
  /** Group-level error (generation, member, rebalance); when set nothing was committed. */
  error: ErrorCode | null;
  /** Per partition, in request order. */
  partitions: Array<{ topic: string; partition: number; error: ErrorCode | null }>;
}

/** The group coordinator as BrokerApi exposes it (`broker.groups`). */
export interface GroupCoordinatorApi {
  joinGroup(req: GroupJoinRequest): Promise<GroupJoinResult>;
  syncGroup(req: GroupSyncRequest): Promise<GroupSyncResult>;
  heartbeat(req: GroupMemberRef): Promise<{ error: ErrorCode | null }>;
  leaveGroup(req: GroupLeaveRequest): Promise<GroupLeaveResult>;
  /** Unknown groups come back with state Dead (as Kafka's DescribeGroups ≤ v5). */
  describeGroups(groupIds: string[]): Promise<GroupDescription[]>;
  /** Groups with members or committed offsets; `states` filters (case-insensitive). */
  listGroups(filter?: { states?: string[] }): Promise<GroupListing[]>;
  /** GROUP_NOT_EMPTY while members remain; GROUP_NOT_FOUND for an unknown group. */
  deleteGroups(groupIds: string[]): Promise<Array<{ groupId: string; error: ErrorCode | null }>>;
  /**
   * Commit offsets for a member of the group (generation and member checked
   * while the group has members) or, with generation -1 on a group without
   * members, as a "simple" consumer.
   */
  commitOffsets(req: GroupCommitRequest): Promise<GroupCommitResult>;
}

export interface GroupCoordinatorOptions {
  /** group.initial.rebalance.delay.ms: wait for more members before the first generation. Default 3000. */
  initialRebalanceDelayMs?: number;
  /** group.min.session.timeout.ms. Default 6000. */
  minSessionTimeoutMs?: number;
  /** group.max.session.timeout.ms. Default 1800000. */
  maxSessionTimeoutMs?: number;
  /** group.max.size. Default unbounded. */
  maxSize?: number;
}
