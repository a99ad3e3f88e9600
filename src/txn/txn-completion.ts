/**
 * Completing a transaction whose outcome is decided: decide() persists
 * PrepareCommit/PrepareAbort, finish() writes the COMMIT/ABORT marker on every
 * partition of the transaction (waiting until each is committed; a partition
 * that is gone is skipped), on commit applies the pending TxnOffsetCommits to
 * their groups, then persists CompleteCommit/CompleteAbort. finish() is safe
 * to run again (restart, failover, retried EndTxn). A marker refused with
 * TRANSACTION_COORDINATOR_FENCED means a newer coordinator took over: the
 * caller gets NOT_COORDINATOR. Callers hold the transactional id's lock.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { TransactionRecord } from "../metadata/types.ts";
import type { CoordinatorOptions, MarkerRequest } from "./coordinator-options.ts";
import type { Txn, TxnTable } from "./txn-table.ts";
import { TxnState } from "./types.ts";

export type TxnCompletionOptions = Pick<
  CoordinatorOptions,
  "clock" | "logger" | "writeMarker" | "requirePartition" | "commitOffsets"
>;

export class TxnCompletion {
  constructor(
    private readonly o: TxnCompletionOptions,
    private readonly table: TxnTable,
  ) {}

  /** Persist the decision, then write markers and apply offsets. */
  async decide(txn: Txn, commit: boolean): Promise<void> {
    txn.state = commit ? TxnState.PREPARE_COMMIT : TxnState.PREPARE_ABORT;
    txn.updatedAt = this.o.clock.now();
    await this.table.save(txn);
    await this.finish(txn);
  }

  /** Write the markers of a PrepareCommit/PrepareAbort transaction, apply its offsets, complete it. */
  async finish(txn: Txn): Promise<void> {
    const commit = txn.state === TxnState.PREPARE_COMMIT;
    const marker: MarkerRequest = {
      transactionalId: txn.transactionalId,
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      commit,
    };
    await Promise.all(
      txn.partitions.map(async (tp) => {
        try {
          await this.o.writeMarker(tp, marker);
        } catch (err) {
          if (err instanceof EddyError && err.code === ErrorCode.TRANSACTION_COORDINATOR_FENCED) {
            // A newer coordinator already wrote markers for this producer: this node was deposed.
            this.o.logger.warn("transaction marker refused: a newer coordinator took over", {
              ...tp,
              transactionalId: txn.transactionalId,
            });
            throw new EddyError(
              ErrorCode.NOT_COORDINATOR,
              `a newer transaction coordinator of '${txn.transactionalId}' has taken over: find the coordinator again and retry there`,
              { transactionalId: txn.transactionalId },
              { cause: err },
            );
          }
          const gone =
            err instanceof EddyError &&
            (err.code === ErrorCode.TOPIC_NOT_FOUND || err.code === ErrorCode.PARTITION_NOT_FOUND);
          if (!gone) throw err;
          this.o.logger.warn("transaction partition is gone; no marker written", {
            ...tp,
            transactionalId: txn.transactionalId,
          });
        }
      }),
    );
    if (commit) await this.applyOffsets(txn);
    txn.state = commit ? TxnState.COMPLETE_COMMIT : TxnState.COMPLETE_ABORT;
    txn.partitions = [];
    txn.groups = [];
    txn.pendingOffsets = [];
    txn.updatedAt = this.o.clock.now();
    await this.table.save(txn);
  }

  private async applyOffsets(txn: Txn): Promise<void> {
    const byGroup = new Map<string, TransactionRecord["pendingOffsets"]>();
    for (const o of txn.pendingOffsets) {
      try {
        this.o.requirePartition(o);
      } catch {
        continue;
      }
      const list = byGroup.get(o.group) ?? [];
      list.push(o);
      byGroup.set(o.group, list);
    }
    for (const [group, offsets] of byGroup) await this.o.commitOffsets(group, offsets);
  }
}
