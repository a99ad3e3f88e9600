/**
 * Heartbeat (key 12), versions 0-4.
 *
 * Keeps a member's session alive. REBALANCE_IN_PROGRESS tells the member to
 * join again; ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID that it is no longer
 * part of the current generation / group; FENCED_INSTANCE_ID (v3+) that
 * another process took over its group.instance.id.
 * Spec: Kafka protocol guide "Heartbeat API".
 */
import { ERROR_TABLE } from "../../broker/index.ts";
import { Heartbeat } from "../generated/index.ts";
import type { HeartbeatRequest } from "../generated/heartbeat-request.ts";
import type { HeartbeatResponse } from "../generated/heartbeat-response.ts";
import type { Handler } from "./context.ts";

export const handler: Handler<HeartbeatRequest, HeartbeatResponse> = {
  api: Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, header, body) {
    const { error } = await ctx.broker.groups.heartbeat({
      groupId: body.groupId,
      generationId: body.generationId,
      memberId: body.memberId,
      groupInstanceId: header.apiVersion >= 3 ? body.groupInstanceId : null,
    });
    return { throttleTimeMs: 0, errorCode: error === null ? 0 : ERROR_TABLE[error].kafka };
  },
  errorResponse(_body, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};
