/**
 * SyncGroup (key 14), versions 0-5.
 *
 * After a rebalance the leader sends every member's assignment; each member
 * (leader included) gets its own once the leader's request arrived. In a
 * Stable group a member gets its current assignment at once.
 * Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS (join
 * again), FENCED_INSTANCE_ID (v3+ static members), INCONSISTENT_GROUP_PROTOCOL
 * (v5+ protocol type/name check).
 * Spec: Kafka protocol guide "SyncGroup API", KIP-345, KIP-559.
 */
import { ERROR_TABLE, type ErrorCode } from "../../broker/index.ts";
import { SyncGroup } from "../generated/index.ts";
import type { SyncGroupRequest } from "../generated/sync-group-request.ts";
import type { SyncGroupResponse } from "../generated/sync-group-response.ts";
import type { Handler } from "./context.ts";

const code = (e: ErrorCode | null): number => (e === null ? 0 : ERROR_TABLE[e].kafka);

function errorAnswer(errorCode: number): SyncGroupResponse {
  return {
    throttleTimeMs: 0,
    errorCode,
    protocolType: null,
    protocolName: null,
    assignment: new Uint8Array(0),
  };
}

export const handler: Handler<SyncGroupRequest, SyncGroupResponse> = {
  api: SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const r = await ctx.broker.groups.syncGroup({
      groupId: body.groupId,
      generationId: body.generationId,
      memberId: body.memberId,
      groupInstanceId: v >= 3 ? body.groupInstanceId : null,
      protocolType: v >= 5 ? body.protocolType : null,
      protocolName: v >= 5 ? body.protocolName : null,
      assignments: body.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    });
    if (r.error !== null) return errorAnswer(code(r.error));
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      protocolType: v >= 5 ? r.protocolType : null,
      protocolName: v >= 5 ? r.protocolName : null,
      assignment: r.assignment,
    };
  },
  errorResponse(_body, errorCode) {
    return errorAnswer(errorCode);
  },
};
