/**
 * EndTxn (key 26), versions 0-3.
 *
 * Commits or aborts the producer's transaction: the decision is persisted,
 * a COMMIT/ABORT control batch is written to every partition of the
 * transaction (the response waits until they are committed), and on commit
 * the staged TxnOffsetCommit offsets are committed to their groups. Retrying
 * the same decision succeeds; the opposite one, or ending a transaction that
 * never started, is INVALID_TXN_STATE.
 * Errors: INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (v2+;
 * INVALID_PRODUCER_EPOCH below), INVALID_TXN_STATE.
 * Deviation: markers are written synchronously, so CONCURRENT_TRANSACTIONS is
 * only seen while a transaction's completion is being retried.
 * Spec: Kafka protocol guide "EndTxn API", KIP-98.
 */
import { EndTxn } from "../generated/index.ts";
import type { EndTxnRequest } from "../generated/end-txn-request.ts";
import type { EndTxnResponse } from "../generated/end-txn-response.ts";
import type { Handler } from "./context.ts";
import { txnErrorCode } from "./txn-errors.ts";

export const handler: Handler<EndTxnRequest, EndTxnResponse> = {
  api: EndTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, header, body) {
    const { error } = await ctx.broker.endTxn({
      transactionalId: body.transactionalId,
      producerId: body.producerId,
      producerEpoch: body.producerEpoch,
      commit: body.committed,
    });
    return {
      throttleTimeMs: 0,
      errorCode: txnErrorCode(error, header.apiVersion, 2),
      producerId: -1,
      producerEpoch: -1,
    };
  },
  errorResponse(_body, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
};
