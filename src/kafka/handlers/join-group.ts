/**
 * JoinGroup (key 11), versions 0-9: classic consumer-group membership.
 *
 * The answer waits until the group's join phase ends (every member joined
 * again, or the rebalance timeout; the first generation also waits
 * group.initial.rebalance.delay.ms). The leader gets every member's metadata
 * for the selected protocol; followers get none.
 * - v0 has no rebalance timeout: the session timeout is used (as Kafka).
 * - v4+ (KIP-394): a new member without a member id gets MEMBER_ID_REQUIRED
 *   with its id, and joins again with it.
 * - v5+ (KIP-345): group.instance.id (static membership); a stale member id
 *   of the instance gets FENCED_INSTANCE_ID.
 * - v7+ returns the protocol type; v9 (KIP-814) may set skipAssignment for
 *   a static leader rejoining a stable group.
 * The request's `reason` (v8+) is logged by the coordinator only for leaves.
 * Spec: Kafka protocol guide "JoinGroup API", KIP-394, KIP-345, KIP-814.
 */
import { ERROR_TABLE, type ErrorCode } from "../../broker/index.ts";
import { JoinGroup } from "../generated/index.ts";
import type { JoinGroupRequest } from "../generated/join-group-request.ts";
import type { JoinGroupResponse } from "../generated/join-group-response.ts";
import type { Handler } from "./context.ts";

const code = (e: ErrorCode | null): number => (e === null ? 0 : ERROR_TABLE[e].kafka);

function errorAnswer(v: number, memberId: string, errorCode: number): JoinGroupResponse {
  return {
    throttleTimeMs: 0,
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: v >= 7 ? null : "",
    leader: "",
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export const handler: Handler<JoinGroupRequest, JoinGroupResponse> = {
  api: JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const r = await ctx.broker.groups.joinGroup({
      groupId: body.groupId,
      memberId: body.memberId,
      groupInstanceId: v >= 5 ? body.groupInstanceId : null,
      clientId: header.clientId ?? "",
      clientHost: `/${ctx.connection.remoteAddress}`,
      sessionTimeoutMs: body.sessionTimeoutMs,
      rebalanceTimeoutMs: v >= 1 ? body.rebalanceTimeoutMs : body.sessionTimeoutMs,
      protocolType: body.protocolType,
      protocols: body.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      requireKnownMemberId: v >= 4,
      reason: v >= 8 ? body.reason : null,
    });
    if (r.error !== null) return errorAnswer(v, r.memberId, code(r.error));
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: r.generationId,
      protocolType: v >= 7 ? r.protocolType : null,
      protocolName: r.protocolName ?? (v >= 7 ? null : ""),
      leader: r.leader,
      skipAssignment: v >= 9 && r.skipAssignment,
      memberId: r.memberId,
      members: r.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: v >= 5 ? m.groupInstanceId : null,
        metadata: m.metadata,
      })),
    };
  },
  errorResponse(body, errorCode, header) {
    return errorAnswer(header.apiVersion, body.memberId, errorCode);
  },
};
