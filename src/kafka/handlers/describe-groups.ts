/**
 * DescribeGroups (key 15), versions 0-5.
 *
 * Per group: state (Empty, PreparingRebalance, CompletingRebalance, Stable,
 * or Dead for an unknown group, with no error, as Kafka up to v5), protocol
 * type, the selected protocol and each member's metadata and assignment
 * (only while Stable), client id and host, group.instance.id (v4+).
 * Groups known only by committed offsets are Empty. v3+ authorized
 * operations: Eddy has no ACLs, so a requesting client is told it may READ,
 * DESCRIBE and DELETE.
 * Spec: Kafka protocol guide "DescribeGroups API", KIP-430.
 */
import { ERROR_TABLE } from "../../broker/index.ts";
import { DescribeGroups } from "../generated/index.ts";
import type { DescribeGroupsRequest } from "../generated/describe-groups-request.ts";
import type { DescribedGroup, DescribeGroupsResponse } from "../generated/describe-groups-response.ts";
import type { Handler } from "./context.ts";

const NOT_REQUESTED = -2147483648;
/** AclOperation bits: READ (3), DELETE (6), DESCRIBE (8). */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

function failed(groupId: string, errorCode: number): DescribedGroup {
  return {
    errorCode,
    groupId,
    groupState: "",
    protocolType: "",
    protocolData: "",
    members: [],
    authorizedOperations: NOT_REQUESTED,
  };
}

export const handler: Handler<DescribeGroupsRequest, DescribeGroupsResponse> = {
  api: DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const described = await ctx.broker.groups.describeGroups(body.groups);
    const ops = v >= 3 && body.includeAuthorizedOperations ? GROUP_OPERATIONS : NOT_REQUESTED;
    return {
      throttleTimeMs: 0,
      groups: described.map((d) => {
        if (d.error !== null) return failed(d.groupId, ERROR_TABLE[d.error].kafka);
        return {
          errorCode: 0,
          groupId: d.groupId,
          groupState: d.state,
          protocolType: d.protocolType,
          protocolData: d.protocol,
          members: d.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: v >= 4 ? m.groupInstanceId : null,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations: ops,
        };
      }),
    };
  },
  errorResponse(body, errorCode) {
    return { throttleTimeMs: 0, groups: body.groups.map((g) => failed(g, errorCode)) };
  },
};
