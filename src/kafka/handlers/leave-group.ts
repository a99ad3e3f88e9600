/**
 * LeaveGroup (key 13), versions 0-5.
 *
 * v0-2: one member leaves (its error is the response's error). v3+ (KIP-345)
 * batches members, each with its own error; a member given only by its
 * group.instance.id (member id "") is a static member removed by an admin.
 * v5 carries a reason, which is logged. A leave triggers a rebalance of the
 * remaining members; the last one leaving makes the group Empty.
 * Spec: Kafka protocol guide "LeaveGroup API", KIP-345, KIP-800.
 */
import { ERROR_TABLE, type ErrorCode } from "../../broker/index.ts";
import { LeaveGroup } from "../generated/index.ts";
import type { LeaveGroupRequest } from "../generated/leave-group-request.ts";
import type { LeaveGroupResponse } from "../generated/leave-group-response.ts";
import type { Handler } from "./context.ts";

const code = (e: ErrorCode | null): number => (e === null ? 0 : ERROR_TABLE[e].kafka);

export const handler: Handler<LeaveGroupRequest, LeaveGroupResponse> = {
  api: LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const members =
      v >= 3
        ? body.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            reason: v >= 5 ? m.reason : null,
          }))
        : [{ memberId: body.memberId, groupInstanceId: null }];
    const r = await ctx.broker.groups.leaveGroup({ groupId: body.groupId, members });
    if (v < 3) {
      return { throttleTimeMs: 0, errorCode: code(r.error ?? r.members[0]?.error ?? null), members: [] };
    }
    return {
      throttleTimeMs: 0,
      errorCode: code(r.error),
      members: r.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        errorCode: code(m.error),
      })),
    };
  },
  errorResponse(_body, errorCode) {
    return { throttleTimeMs: 0, errorCode, members: [] };
  },
};
