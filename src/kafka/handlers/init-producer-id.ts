/**
 * InitProducerId (key 22), versions 0-4.
 *
 * Without a transactional id: a fresh producer id at epoch 0 (idempotent
 * producer). With one: the coordinator's producer id for it, with the epoch
 * bumped, which fences every older instance; an ongoing transaction of the
 * old instance is aborted first. v3+ (KIP-360) may name the producer id and
 * epoch the client holds: a stale pair gets PRODUCER_FENCED. Epoch 32766
 * rolls over to a new producer id. Without a transactional id, a named pair
 * keeps the id and bumps the epoch (Eddy deviation, src/txn/idempotent-epochs.ts;
 * (0, 0) counts as none).
 * Errors: INVALID_TRANSACTION_TIMEOUT (timeout outside 1..transaction.max.timeout.ms),
 * INVALID_REQUEST (empty transactional id), PRODUCER_FENCED (v4; INVALID_PRODUCER_EPOCH below).
 * Cluster mode: a transactional id is served only by its coordinator (the
 * leader of its __transaction_state partition): NOT_COORDINATOR elsewhere,
 * COORDINATOR_LOAD_IN_PROGRESS while that node loads the partition,
 * COORDINATOR_NOT_AVAILABLE while it has no leader. v5 (KIP-890 part 2) is not served.
 * Spec: Kafka protocol guide "InitProducerId API", KIP-98, KIP-360, KIP-588.
 */
import { InitProducerId } from "../generated/index.ts";
import type { InitProducerIdRequest } from "../generated/init-producer-id-request.ts";
import type { InitProducerIdResponse } from "../generated/init-producer-id-response.ts";
import type { Handler } from "./context.ts";
import { txnErrorCode } from "./txn-errors.ts";

export const handler: Handler<InitProducerIdRequest, InitProducerIdResponse> = {
  api: InitProducerId,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    const r = await ctx.broker.initProducerId({
      transactionalId: body.transactionalId,
      transactionTimeoutMs: body.transactionTimeoutMs,
      producerId: v >= 3 ? body.producerId : -1,
      producerEpoch: v >= 3 ? body.producerEpoch : -1,
    });
    return {
      throttleTimeMs: 0,
      errorCode: txnErrorCode(r.error, v, 4),
      producerId: r.producerId,
      producerEpoch: r.producerEpoch,
    };
  },
  errorResponse(_body, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
};
