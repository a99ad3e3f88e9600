/**
 * ListTransactions (key 66), versions 0-1 (KIP-664, KIP-994).
 *
 * Every transactional.id the coordinator knows, with its producer id and
 * state, narrowed by the filters: state names (names Kafka does not know
 * come back in unknown_state_filters), producer ids, and (v1) transactions
 * open longer than duration_filter ms (-1 = no filter; as in Kafka, the
 * duration counts from the current transaction's start).
 * Used by kafka-transactions.sh `list` and `find-hanging`.
 * Deviations: none known.
 * Spec: KIP-664, KIP-994; Kafka protocol guide "ListTransactions API".
 */
import { ListTransactions } from "../generated/index.ts";
import type { ListTransactionsRequest } from "../generated/list-transactions-request.ts";
import type { ListTransactionsResponse } from "../generated/list-transactions-response.ts";
import { type Handler, KafkaError } from "./context.ts";

/** Kafka's transaction state names (TransactionState in the Java coordinator); Eddy's TxnState values are these. */
const KAFKA_TXN_STATES: ReadonlySet<string> = new Set([
  "Empty",
  "Ongoing",
  "PrepareCommit",
  "PrepareAbort",
  "CompleteCommit",
  "CompleteAbort",
  "Dead",
  "PrepareEpochFence",
]);

export const handler: Handler<ListTransactionsRequest, ListTransactionsResponse> = {
  api: ListTransactions,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, _header, body) {
    const states = new Set(body.stateFilters);
    const producerIds = new Set(body.producerIdFilters);
    const now = ctx.clock.now();
    const transactionStates = ctx.broker
      .describeTransactions()
      .filter(
        (t) =>
          (states.size === 0 || states.has(t.state)) &&
          (producerIds.size === 0 || producerIds.has(t.producerId)) &&
          (body.durationFilter < 0 || now - t.startedAt > body.durationFilter),
      )
      .map((t) => ({
        transactionalId: t.transactionalId,
        producerId: t.producerId,
        transactionState: t.state,
      }));
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      unknownStateFilters: body.stateFilters.filter((s) => !KAFKA_TXN_STATES.has(s)),
      transactionStates,
    };
  },
  errorResponse: (_body, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    unknownStateFilters: [],
    transactionStates: [],
  }),
};
