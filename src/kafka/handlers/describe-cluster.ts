/**
 * DescribeCluster (key 60), versions 0-1 (KIP-700, KIP-919).
 *
 * The cluster id, this node as the only broker (at its advertised address)
 * and as the controller. Asking for controller endpoints (endpoint_type 2,
 * v1) gets UNSUPPORTED_ENDPOINT_TYPE: Eddy has no separate controllers.
 * Deviation: authorized operations are not computed (INT32_MIN).
 */
import { DescribeCluster } from "../generated/index.ts";
import type { DescribeClusterRequest } from "../generated/describe-cluster-request.ts";
import type { DescribeClusterResponse } from "../generated/describe-cluster-response.ts";
import { type Handler, KafkaError } from "./context.ts";

const NO_OPERATIONS = -2147483648;
const BROKERS = 1;

export const handler: Handler<DescribeClusterRequest, DescribeClusterResponse> = {
  api: DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, header, body) {
    const base: DescribeClusterResponse = {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      endpointType: BROKERS,
      clusterId: ctx.clusterId,
      controllerId: ctx.nodeId,
      brokers: [{ brokerId: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort, rack: null }],
      clusterAuthorizedOperations: NO_OPERATIONS,
    };
    if (header.apiVersion >= 1 && body.endpointType !== BROKERS) {
      return {
        ...base,
        errorCode: KafkaError.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: "Eddy has no separate controllers: ask for broker endpoints (endpoint type 1)",
        brokers: [],
        controllerId: -1,
      };
    }
    return base;
  },
  errorResponse: (_body, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage: null,
    endpointType: BROKERS,
    clusterId: "",
    controllerId: -1,
    brokers: [],
    clusterAuthorizedOperations: NO_OPERATIONS,
  }),
};
