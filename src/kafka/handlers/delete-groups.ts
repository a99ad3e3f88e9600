/**
 * DeleteGroups (key 42), versions 0-2.
 *
 * Deletes groups without members, with their committed offsets. Per group:
 * NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND for a group with
 * neither members nor offsets, INVALID_GROUP_ID for an empty id.
 * Spec: Kafka protocol guide "DeleteGroups API", KIP-229.
 */
import { ERROR_TABLE } from "../../broker/index.ts";
import { DeleteGroups } from "../generated/index.ts";
import type { DeleteGroupsRequest } from "../generated/delete-groups-request.ts";
import type { DeleteGroupsResponse } from "../generated/delete-groups-response.ts";
import type { Handler } from "./context.ts";

export const handler: Handler<DeleteGroupsRequest, DeleteGroupsResponse> = {
  api: DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, _header, body) {
    const results = await ctx.broker.groups.deleteGroups(body.groupsNames);
    return {
      throttleTimeMs: 0,
      results: results.map((r) => ({
        groupId: r.groupId,
        errorCode: r.error === null ? 0 : ERROR_TABLE[r.error].kafka,
      })),
    };
  },
  errorResponse(body, errorCode) {
    return { throttleTimeMs: 0, results: body.groupsNames.map((groupId) => ({ groupId, errorCode })) };
  },
};
