/**
 * Read-only views of the groups (DescribeGroups, ListGroups): the live groups
 * of the coordinator plus the groups known only by their committed offsets
 * (shown as Empty, like Kafka's offsets-only groups). As in Kafka, member
 * metadata and assignments are shown only while the group is Stable, and an
 * unknown group is described as Dead without an error (DescribeGroups ≤ v5).
 */
import { ErrorCode } from "../errors.ts";
import { EMPTY_BYTES, type Group } from "./group.ts";
import { type GroupDescription, type GroupListing, GroupState } from "./types.ts";

function validId(groupId: string): boolean {
  return groupId.length > 0 && groupId.length <= 255;
}

export function describeGroups(
  live: ReadonlyMap<string, Group>,
  stored: string[],
  groupIds: string[],
): GroupDescription[] {
  const withOffsets = new Set(stored);
  return groupIds.map((groupId): GroupDescription => {
    const base: GroupDescription = {
      groupId,
      error: null,
      state: GroupState.Dead,
      protocolType: "",
      protocol: "",
      generationId: -1,
      leader: "",
      members: [],
    };
    if (!validId(groupId)) return { ...base, error: ErrorCode.INVALID_GROUP_ID };
    const g = live.get(groupId);
    if (!g) return withOffsets.has(groupId) ? { ...base, state: GroupState.Empty, generationId: 0 } : base;
    const stable = g.state === GroupState.Stable;
    return {
      ...base,
      state: g.state,
      protocolType: g.protocolType ?? "",
      protocol: stable ? (g.protocolName ?? "") : "",
      generationId: g.generationId,
      leader: g.leaderId ?? "",
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? m.metadataFor(g.protocolName) : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
  });
}

export function listGroups(
  live: ReadonlyMap<string, Group>,
  stored: string[],
  states: string[] | undefined,
): GroupListing[] {
  const out = new Map<string, GroupListing>();
  for (const groupId of stored)
    out.set(groupId, { groupId, protocolType: "", state: GroupState.Empty, type: "classic" });
  for (const g of live.values()) {
    if (g.state === GroupState.Dead) continue;
    out.set(g.groupId, {
      groupId: g.groupId,
      protocolType: g.protocolType ?? "",
      state: g.state,
      type: "classic",
    });
  }
  const wanted = states && states.length > 0 ? new Set(states.map((s) => s.toLowerCase())) : null;
  return [...out.values()]
    .filter((l) => wanted === null || wanted.has(l.state.toLowerCase()))
    .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
}
