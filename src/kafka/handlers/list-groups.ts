/**
 * ListGroups (key 16), versions 0-5.
 *
 * Every group with members or committed offsets, with its protocol type,
 * state (v4+) and type (v5+, always "classic"). v4+ filters by state (case
 * insensitive, KIP-518); v5+ by type (KIP-848: only "classic" matches).
 * Spec: Kafka protocol guide "ListGroups API", KIP-518, KIP-848.
 */
import { ListGroups } from "../generated/index.ts";
import type { ListGroupsRequest } from "../generated/list-groups-request.ts";
import type { ListGroupsResponse } from "../generated/list-groups-response.ts";
import type { Handler } from "./context.ts";

export const handler: Handler<ListGroupsRequest, ListGroupsResponse> = {
  api: ListGroups,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const states = v >= 4 ? body.statesFilter : [];
    const types = v >= 5 ? body.typesFilter.map((t) => t.toLowerCase()) : [];
    const listed = await ctx.broker.groups.listGroups({ states });
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: listed
        .filter((g) => types.length === 0 || types.includes(g.type))
        .map((g) => ({
          groupId: g.groupId,
          protocolType: g.protocolType,
          groupState: v >= 4 ? g.state : "",
          groupType: v >= 5 ? g.type : "",
        })),
    };
  },
  errorResponse(_body, errorCode) {
    return { throttleTimeMs: 0, errorCode, groups: [] };
  },
};
