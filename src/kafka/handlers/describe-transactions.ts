/**
 * DescribeTransactions (key 65), version 0 (KIP-664).
 *
 * Per transactional.id: the coordinator's state (Empty, Ongoing,
 * PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort), the
 * transaction timeout, when the current transaction started (-1 when none
 * is open), the producer id and epoch, and the partitions in the
 * transaction, grouped by topic. Unknown ids get TRANSACTIONAL_ID_NOT_FOUND.
 * Used by kafka-transactions.sh `describe`.
 * Deviations: none known (consumer groups added with AddOffsetsToTxn are not
 * listed, as in Kafka, which lists only the topic partitions).
 * Spec: KIP-664; Kafka protocol guide "DescribeTransactions API".
 */
import type { TransactionDescription } from "../../broker/index.ts";
import { DescribeTransactions } from "../generated/index.ts";
import type { DescribeTransactionsRequest } from "../generated/describe-transactions-request.ts";
import type {
  DescribeTransactionsResponse,
  TransactionState,
} from "../generated/describe-transactions-response.ts";
import { type Handler, KafkaError } from "./context.ts";

const TRANSACTIONAL_ID_NOT_FOUND = 105;

function missing(transactionalId: string, errorCode: number): TransactionState {
  return {
    errorCode,
    transactionalId,
    transactionState: "",
    transactionTimeoutMs: 0,
    transactionStartTimeMs: -1,
    producerId: -1,
    producerEpoch: -1,
    topics: [],
  };
}

function describe(t: TransactionDescription): TransactionState {
  const byTopic = new Map<string, number[]>();
  for (const p of t.partitions) {
    const list = byTopic.get(p.topic) ?? [];
    list.push(p.partition);
    byTopic.set(p.topic, list);
  }
  const open = t.state === "Ongoing" || t.state === "PrepareCommit" || t.state === "PrepareAbort";
  return {
    errorCode: KafkaError.NONE,
    transactionalId: t.transactionalId,
    transactionState: t.state,
    transactionTimeoutMs: t.timeoutMs,
    transactionStartTimeMs: open ? t.startedAt : -1,
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    topics: [...byTopic].map(([topic, partitions]) => ({
      topic,
      partitions: partitions.sort((a, b) => a - b),
    })),
  };
}

export const handler: Handler<DescribeTransactionsRequest, DescribeTransactionsResponse> = {
  api: DescribeTransactions,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, _header, body) {
    const known = new Map(ctx.broker.describeTransactions().map((t) => [t.transactionalId, t]));
    return {
      throttleTimeMs: 0,
      transactionStates: body.transactionalIds.map((id) => {
        const t = known.get(id);
        return t === undefined ? missing(id, TRANSACTIONAL_ID_NOT_FOUND) : describe(t);
      }),
    };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    transactionStates: body.transactionalIds.map((id) => missing(id, errorCode)),
  }),
};
