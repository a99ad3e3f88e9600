/**
 * Producer ids, producer-state snapshots and transaction coordinator rows.
 * The producer id counter lives in `settings` ("producer.id.next") and is
 * bumped inside one transaction, so an id is never handed out twice, even
 * across restarts.
 */
import type { Database } from "bun:sqlite";
import { and, asc, eq, sql } from "drizzle-orm";
import { EddyError, ErrorCode } from "../errors.ts";
import type { Db } from "./db.ts";
import { producerState, settings, transactions } from "./schema.ts";
import type { ProducerStateRecord, TransactionRecord } from "./types.ts";

const NEXT_PRODUCER_ID = "producer.id.next";

export interface TxnOps {
  allocateProducerId(): number;
  getProducerState(topic: string, partition: number): ProducerStateRecord | null;
  saveProducerState(state: ProducerStateRecord): void;
  listTransactions(): TransactionRecord[];
  saveTransaction(txn: TransactionRecord): void;
  deleteTransaction(transactionalId: string): void;
}

type TxnRow = typeof transactions.$inferSelect;

export function createTxnOps(client: Database, db: Db): TxnOps {
  const selectState = db
    .select()
    .from(producerState)
    .where(
      and(
        eq(producerState.topic, sql.placeholder("topic")),
        eq(producerState.partition, sql.placeholder("partition")),
      ),
    )
    .prepare();

  const allocate = client.transaction((): number => {
    const row = db.select().from(settings).where(eq(settings.key, NEXT_PRODUCER_ID)).get();
    const next = row === undefined ? 0 : Number(row.value);
    if (!Number.isSafeInteger(next) || next < 0) {
      throw new EddyError(
        ErrorCode.STORAGE_ERROR,
        `the stored producer id counter is invalid (${row?.value}): restore the metadata database from a backup`,
      );
    }
    db.insert(settings)
      .values({ key: NEXT_PRODUCER_ID, value: String(next + 1) })
      .onConflictDoUpdate({ target: settings.key, set: { value: String(next + 1) } })
      .run();
    return next;
  });

  return {
    allocateProducerId: () => allocate.immediate(),
    getProducerState: (topic, partition) => selectState.get({ topic, partition }) ?? null,
    saveProducerState: (s) => {
      db.insert(producerState)
        .values(s)
        .onConflictDoUpdate({
          target: [producerState.topic, producerState.partition],
          set: {
            snapshotOffset: s.snapshotOffset,
            producers: s.producers,
            aborted: s.aborted,
            updatedAt: s.updatedAt,
          },
        })
        .run();
    },
    listTransactions: () =>
      db.select().from(transactions).orderBy(asc(transactions.transactionalId)).all().map(fromRow),
    saveTransaction: (t) => {
      const row = toRow(t);
      const { transactionalId: _, ...set } = row;
      db.insert(transactions)
        .values(row)
        .onConflictDoUpdate({ target: transactions.transactionalId, set })
        .run();
    },
    deleteTransaction: (transactionalId) => {
      db.delete(transactions).where(eq(transactions.transactionalId, transactionalId)).run();
    },
  };
}

function toRow(t: TransactionRecord): TxnRow {
  return {
    transactionalId: t.transactionalId,
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    timeoutMs: t.timeoutMs,
    state: t.state,
    partitions: JSON.stringify(t.partitions),
    groups: JSON.stringify(t.groups),
    pendingOffsets: JSON.stringify(t.pendingOffsets),
    startedAt: t.startedAt,
    updatedAt: t.updatedAt,
  };
}

function fromRow(r: TxnRow): TransactionRecord {
  return {
    transactionalId: r.transactionalId,
    producerId: r.producerId,
    producerEpoch: r.producerEpoch,
    timeoutMs: r.timeoutMs,
    state: r.state,
    partitions: JSON.parse(r.partitions) as TransactionRecord["partitions"],
    groups: JSON.parse(r.groups) as string[],
    pendingOffsets: JSON.parse(r.pendingOffsets) as TransactionRecord["pendingOffsets"],
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
  };
}
