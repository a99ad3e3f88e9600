/**
 * AddOffsetsToTxn (key 25), versions 0-3.
 *
 * Adds a consumer group to the producer's transaction (starting it), so that
 * TxnOffsetCommit may stage offsets for it; they are committed to the group
 * only if the transaction commits (exactly-once consume-transform-produce).
 * Errors: INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (v2+;
 * INVALID_PRODUCER_EPOCH below), INVALID_GROUP_ID, CONCURRENT_TRANSACTIONS.
 * Spec: Kafka protocol guide "AddOffsetsToTxn API", KIP-98.
 */
import { AddOffsetsToTxn } from "../generated/index.ts";
import type { AddOffsetsToTxnRequest } from "../generated/add-offsets-to-txn-request.ts";
import type { AddOffsetsToTxnResponse } from "../generated/add-offsets-to-txn-response.ts";
import type { Handler } from "./context.ts";
import { txnErrorCode } from "./txn-errors.ts";

export const handler: Handler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  api: AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, header, body) {
    const { error } = await ctx.broker.addOffsetsToTxn({
      transactionalId: body.transactionalId,
      producerId: body.producerId,
      producerEpoch: body.producerEpoch,
      groupId: body.groupId,
    });
    return { throttleTimeMs: 0, errorCode: txnErrorCode(error, header.apiVersion, 2) };
  },
  errorResponse(_body, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};
