/**
 * FindCoordinator (key 10), versions 0-4.
 *
 * A single node coordinates everything itself: it answers for every consumer
 * group (key type 0) and every transactional id (key type 1) with the
 * advertised host and port of its Kafka listener. In a cluster
 * (BrokerApi.findCoordinator) the coordinator is the leader of the key's
 * partition of __consumer_offsets / __transaction_state (Kafka's placement,
 * src/cluster/coordinator-placement.ts), answered with that node's Kafka
 * address; COORDINATOR_NOT_AVAILABLE while the partition has no leader (or
 * the coordinator's Kafka address is not configured on this node).
 * v4+ batches keys (KIP-699) and answers each in `coordinators`; v0-3 answer
 * the single `key`.
 * Errors: an unknown key type gets INVALID_REQUEST; an empty group id gets
 * INVALID_GROUP_ID (as Kafka). Share groups (key type 2, v6) are not served.
 * Spec: Kafka protocol guide "FindCoordinator API", KIP-699.
 */
import { ERROR_TABLE, ErrorCode } from "../../broker/index.ts";
import { FindCoordinator } from "../generated/index.ts";
import type { FindCoordinatorRequest } from "../generated/find-coordinator-request.ts";
import type { Coordinator, FindCoordinatorResponse } from "../generated/find-coordinator-response.ts";
import { type Handler, type HandlerContext, KafkaError } from "./context.ts";

const GROUP_KEY = 0;
const TRANSACTION_KEY = 1;
const INVALID_GROUP_ID = 24;

async function coordinatorFor(ctx: HandlerContext, key: string, keyType: number): Promise<Coordinator> {
  const base = { key, nodeId: -1, host: "", port: -1 };
  if (keyType !== GROUP_KEY && keyType !== TRANSACTION_KEY) {
    return { ...base, errorCode: KafkaError.INVALID_REQUEST, errorMessage: `unknown key type ${keyType}` };
  }
  if (keyType === GROUP_KEY && key === "") {
    return { ...base, errorCode: INVALID_GROUP_ID, errorMessage: "the group id is empty" };
  }
  const found = await ctx.broker.findCoordinator?.(keyType === GROUP_KEY ? "group" : "transaction", key);
  if (found) {
    const local = found.nodeId === ctx.nodeId;
    const host = found.host ?? (local ? ctx.advertisedHost : null);
    const port = found.port ?? (local ? ctx.advertisedPort : null);
    if (found.error !== null || host === null || port === null) {
      const error = found.error ?? ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return {
        ...base,
        errorCode: ERROR_TABLE[error].kafka,
        errorMessage: "the coordinator is not available yet",
      };
    }
    return { key, nodeId: found.nodeId, host, port, errorCode: KafkaError.NONE, errorMessage: null };
  }
  return {
    key,
    nodeId: ctx.nodeId,
    host: ctx.advertisedHost,
    port: ctx.advertisedPort,
    errorCode: KafkaError.NONE,
    errorMessage: null,
  };
}

function response(v: number, coordinators: Coordinator[]): FindCoordinatorResponse {
  const empty: FindCoordinatorResponse = {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    nodeId: 0,
    host: "",
    port: 0,
    coordinators: [],
  };
  if (v >= 4) return { ...empty, coordinators };
  const c = coordinators[0];
  if (!c) return empty;
  return {
    ...empty,
    errorCode: c.errorCode,
    errorMessage: v >= 1 ? c.errorMessage : null,
    nodeId: c.nodeId,
    host: c.host,
    port: c.port,
  };
}

export const handler: Handler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  api: FindCoordinator,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const keys = v >= 4 ? body.coordinatorKeys : [body.key];
    return response(v, await Promise.all(keys.map((k) => coordinatorFor(ctx, k, body.keyType))));
  },
  errorResponse(body, errorCode, header) {
    const keys = header.apiVersion >= 4 ? body.coordinatorKeys : [body.key];
    return response(
      header.apiVersion,
      keys.map((key) => ({ key, nodeId: -1, host: "", port: -1, errorCode, errorMessage: null })),
    );
  },
};
