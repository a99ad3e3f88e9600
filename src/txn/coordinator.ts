/**
 * The transaction coordinator (Kafka's TransactionCoordinator, one node):
 * transactional.id → producer id, epoch, state, the partitions and groups in
 * the current transaction, and its pending TxnOffsetCommits. Every change is
 * written to the metadata store (table transactions, fsynced) before it is
 * acted on, so a restart completes a transaction whose commit/abort was
 * decided (PrepareCommit/PrepareAbort → markers written again, offsets
 * applied) and keeps an Ongoing one until its producer ends it or it times out.
 *
 * - InitProducerId: a new id (epoch 0), or the same id with epoch + 1, which
 *   fences older instances (idempotent producers naming their id and epoch:
 *   idempotent-epochs.ts); an Ongoing transaction is aborted first (markers
 *   carry the new epoch). Epoch 32766 rolls over to a new producer id.
 * - AddPartitionsToTxn / AddOffsetsToTxn start the transaction (Ongoing).
 * - EndTxn: PrepareX (persisted) → COMMIT/ABORT markers on every partition
 *   (waiting until they are committed) → on commit, the pending offsets are
 *   committed to their groups → CompleteX. Retrying the same EndTxn is fine.
 * - Timeouts: an Ongoing transaction older than its transaction.timeout.ms is
 *   aborted with a bumped epoch (the producer is fenced), checked every
 *   checkIntervalMs against the injected clock (runTimeouts() for tests).
 * - verifyTxnPartition: a transactional batch is accepted only on a partition
 *   added to its producer's Ongoing transaction (KIP-890's goal: no hanging
 *   transactions), else INVALID_TXN_STATE.
 *
 * Operations on one transactional.id are serialised; different ids run in parallel.
 * A state change that cannot be persisted is rolled back in memory (the
 * caller gets the error and retries).
 *
 * Cluster mode (`cluster` hooks, src/cluster/coordinator-txn-log.ts): this
 * node coordinates only the transactional ids whose __transaction_state
 * partition it leads (others get NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
 * / COORDINATOR_NOT_AVAILABLE); state changes are appended there with
 * acks=all instead of the metadata store. When it takes over a partition it
 * loads the latest state of its ids (`load`), completes those in
 * PrepareCommit/PrepareAbort (markers again, offsets) and lets Ongoing ones
 * time out (abort, epoch bump); when it loses one, `unload` forgets them.
 * Transactional batches of producers coordinated elsewhere are not verified
 * here (the partition leader does not know that coordinator's state).
 * Markers carry the coordinator epoch (the leader epoch of the id's
 * __transaction_state partition), so a deposed coordinator that is still
 * running cannot write markers once its successor has (Kafka's
 * TRANSACTION_COORDINATOR_FENCED; checked by the data partition's leader).
 * Not implemented: transactional.id expiration.
 *
 * This file holds the request handlers and the state checks; the state table
 * and its persistence are in txn-table.ts, marker writing and completion in
 * txn-completion.ts, the timeout check in txn-timeouts.ts, per-id
 * serialisation in id-locks.ts, options and hooks in coordinator-options.ts.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { TransactionRecord } from "../metadata/types.ts";
import {
  type CoordinatorOptions,
  DEFAULT_MAX_TRANSACTION_TIMEOUT_MS,
  MAX_EPOCH_BEFORE_NEW_ID,
} from "./coordinator-options.ts";
import { IdLocks } from "./id-locks.ts";
import { IdempotentEpochs } from "./idempotent-epochs.ts";
import * as check from "./txn-checks.ts";
import { TxnCompletion } from "./txn-completion.ts";
import { type Txn, TxnTable } from "./txn-table.ts";
import { TxnTimeouts } from "./txn-timeouts.ts";
import {
  type AddOffsetsToTxnOptions,
  type AddPartitionsToTxnOptions,
  type EndTxnOptions,
  type InitProducerIdOptions,
  type TopicPartitionRef,
  type TransactionDescription,
  type TxnOffsetCommitOptions,
  type TxnPartitionResult,
  TxnState,
} from "./types.ts";

export {
  type CoordinatorOptions,
  DEFAULT_MAX_TRANSACTION_TIMEOUT_MS,
  DEFAULT_TXN_CHECK_INTERVAL_MS,
  type MarkerRequest,
  type TxnClusterHooks,
} from "./coordinator-options.ts";

export class TransactionCoordinator {
  private readonly table: TxnTable;
  private readonly locks = new IdLocks();
  private readonly completion: TxnCompletion;
  private readonly timeouts: TxnTimeouts;
  private readonly maxTimeoutMs: number;
  private readonly idempotent: IdempotentEpochs;

  constructor(private readonly o: CoordinatorOptions) {
    this.maxTimeoutMs = o.maxTimeoutMs ?? DEFAULT_MAX_TRANSACTION_TIMEOUT_MS;
    this.table = new TxnTable({ metadata: o.metadata, cluster: o.cluster });
    this.completion = new TxnCompletion(o, this.table);
    this.timeouts = new TxnTimeouts({
      clock: o.clock,
      logger: o.logger,
      checkIntervalMs: o.checkIntervalMs,
      table: this.table,
      locks: this.locks,
      completion: this.completion,
    });
    this.idempotent = new IdempotentEpochs({
      allocateProducerId: () => o.metadata.allocateProducerId(),
      isTransactional: (id) => this.table.hasProducer(id),
      ...(o.fenceProducer ? { fenceProducer: o.fenceProducer } : {}),
    });
  }

  /** Load persisted transactions and finish those whose outcome was decided. */
  async recover(): Promise<void> {
    for (const row of this.o.metadata.listTransactions()) this.table.adopt(row);
    for (const txn of this.table.values()) {
      if (txn.state !== TxnState.PREPARE_COMMIT && txn.state !== TxnState.PREPARE_ABORT) continue;
      await this.locks
        .run(txn.transactionalId, () => this.completion.finish(txn))
        .catch((err) =>
          this.o.logger.error("could not complete a transaction after restart; will retry", {
            transactionalId: txn.transactionalId,
            err,
          }),
        );
    }
  }

  /**
   * Cluster mode: this node took over the ids of a __transaction_state
   * partition. Their latest states replace what it knew; decided ones are
   * completed in the background (requests for them wait behind that).
   */
  load(rows: TransactionRecord[]): void {
    for (const row of rows) this.table.adopt(row);
    for (const row of rows) {
      const id = row.transactionalId;
      void this.locks
        .run(id, async () => {
          const txn = this.table.get(id);
          if (!txn || (txn.state !== TxnState.PREPARE_COMMIT && txn.state !== TxnState.PREPARE_ABORT)) return;
          this.o.logger.info("completing a transaction after a coordinator failover", {
            transactionalId: id,
            state: txn.state,
          });
          await this.completion.finish(txn);
        })
        .catch((err) =>
          this.o.logger.warn("could not complete a transaction after a failover; the timeout check retries", {
            transactionalId: id,
            err,
          }),
        );
    }
  }

  /** Cluster mode: forget the ids `drop` selects (another node coordinates them now). */
  unload(drop: (transactionalId: string) => boolean): void {
    this.table.drop(drop);
  }

  start(): void {
    this.timeouts.start();
  }

  /** Stop the timer and wait for running operations. */
  async stop(): Promise<void> {
    await this.timeouts.stop();
    await this.locks.idle();
  }

  async initProducerId(req: InitProducerIdOptions): Promise<{ producerId: number; producerEpoch: number }> {
    // Idempotent producer: a fresh id, or (KIP-360, id and epoch given) the same id with epoch + 1.
    if (req.transactionalId === null) return this.idempotent.init(req);
    const id = check.transactionalId(req.transactionalId);
    this.checkOwner(id);
    check.timeout(req.transactionTimeoutMs, this.maxTimeoutMs);
    return this.locks.run(id, async () => {
      const now = this.o.clock.now();
      let txn = this.table.get(id);
      if (txn === undefined) {
        txn = {
          transactionalId: id,
          producerId: this.o.metadata.allocateProducerId(),
          producerEpoch: 0,
          timeoutMs: req.transactionTimeoutMs,
          state: TxnState.EMPTY,
          partitions: [],
          groups: [],
          pendingOffsets: [],
          startedAt: -1,
          updatedAt: now,
        };
        await this.table.save(txn);
        return { producerId: txn.producerId, producerEpoch: txn.producerEpoch };
      }
      const known = req.producerId ?? -1;
      if (known >= 0 && (known !== txn.producerId || req.producerEpoch !== txn.producerEpoch)) {
        throw check.fenced(id, txn, { producerId: known, producerEpoch: req.producerEpoch ?? -1 });
      }
      if (txn.state === TxnState.PREPARE_COMMIT || txn.state === TxnState.PREPARE_ABORT)
        await this.completion.finish(txn);
      if (txn.state === TxnState.ONGOING) {
        // Fence the old instance: abort with a bumped epoch, then hand that epoch out.
        txn.producerEpoch = Math.min(txn.producerEpoch + 1, MAX_EPOCH_BEFORE_NEW_ID + 1);
        await this.completion.decide(txn, false);
      } else {
        txn.producerEpoch++;
      }
      if (txn.producerEpoch > MAX_EPOCH_BEFORE_NEW_ID) {
        this.table.retireProducer(txn.producerId);
        txn.producerId = this.o.metadata.allocateProducerId();
        txn.producerEpoch = 0;
      }
      txn.state = TxnState.EMPTY;
      txn.timeoutMs = req.transactionTimeoutMs;
      txn.updatedAt = now;
      await this.table.save(txn);
      return { producerId: txn.producerId, producerEpoch: txn.producerEpoch };
    });
  }

  async addPartitions(req: AddPartitionsToTxnOptions): Promise<TxnPartitionResult[]> {
    this.checkOwner(req.transactionalId);
    return this.locks.run(req.transactionalId, async () => {
      const txn = this.active(req);
      const results: TxnPartitionResult[] = req.partitions.map((tp) => {
        try {
          this.o.requirePartition(tp);
          return { topic: tp.topic, partition: tp.partition, error: null };
        } catch (err) {
          const e = err instanceof EddyError ? err : new EddyError(ErrorCode.UNKNOWN, String(err));
          return { topic: tp.topic, partition: tp.partition, error: e.code, errorMessage: e.message };
        }
      });
      if (results.some((r) => r.error !== null)) {
        for (const r of results) if (r.error === null) r.error = ErrorCode.OPERATION_NOT_ATTEMPTED;
        return results;
      }
      this.begin(txn);
      for (const tp of req.partitions) {
        if (!txn.partitions.some((p) => p.topic === tp.topic && p.partition === tp.partition)) {
          txn.partitions.push({ topic: tp.topic, partition: tp.partition });
        }
      }
      await this.table.save(txn);
      return results;
    });
  }

  async addOffsets(req: AddOffsetsToTxnOptions): Promise<void> {
    const group = check.groupId(req.groupId);
    this.checkOwner(req.transactionalId);
    await this.locks.run(req.transactionalId, async () => {
      const txn = this.active(req);
      this.begin(txn);
      if (!txn.groups.includes(group)) txn.groups.push(group);
      await this.table.save(txn);
    });
  }

  async txnOffsetCommit(req: TxnOffsetCommitOptions): Promise<TxnPartitionResult[]> {
    const group = check.groupId(req.groupId);
    this.checkOwner(req.transactionalId);
    return this.locks.run(req.transactionalId, async () => {
      const txn = this.active(req);
      if (txn.state !== TxnState.ONGOING || !txn.groups.includes(group)) {
        throw new EddyError(
          ErrorCode.INVALID_TXN_STATE,
          `transaction '${txn.transactionalId}' has not added group '${group}' (AddOffsetsToTxn) in its current transaction`,
        );
      }
      const results: TxnPartitionResult[] = [];
      for (const o of req.offsets) {
        const r: TxnPartitionResult = { topic: o.topic, partition: o.partition, error: null };
        results.push(r);
        try {
          this.o.requirePartition(o);
          check.offset(o);
        } catch (err) {
          const e = err instanceof EddyError ? err : new EddyError(ErrorCode.UNKNOWN, String(err));
          r.error = e.code;
          r.errorMessage = e.message;
          continue;
        }
        const pending = {
          group,
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          leaderEpoch: o.leaderEpoch ?? -1,
          metadata: o.metadata ?? "",
        };
        const at = txn.pendingOffsets.findIndex(
          (p) => p.group === group && p.topic === o.topic && p.partition === o.partition,
        );
        if (at >= 0) txn.pendingOffsets[at] = pending;
        else txn.pendingOffsets.push(pending);
      }
      await this.table.save(txn);
      return results;
    });
  }

  async endTxn(req: EndTxnOptions): Promise<void> {
    this.checkOwner(req.transactionalId);
    await this.locks.run(req.transactionalId, async () => {
      const txn = this.require(req);
      const wanted = req.commit ? TxnState.COMPLETE_COMMIT : TxnState.COMPLETE_ABORT;
      const preparing = req.commit ? TxnState.PREPARE_COMMIT : TxnState.PREPARE_ABORT;
      if (txn.state === TxnState.ONGOING) return this.completion.decide(txn, req.commit);
      if (txn.state === preparing) return this.completion.finish(txn);
      if (txn.state === wanted) return;
      throw new EddyError(
        ErrorCode.INVALID_TXN_STATE,
        `cannot ${req.commit ? "commit" : "abort"} transaction '${txn.transactionalId}' in state ${txn.state}`,
        { state: txn.state },
      );
    });
  }

  /**
   * Is a transactional batch of (producerId, epoch) allowed on this partition?
   * Throws INVALID_TXN_STATE (not in an Ongoing transaction containing it) or
   * INVALID_PRODUCER_EPOCH (an older epoch).
   */
  verifyTxnPartition(producerId: number, producerEpoch: number, tp: TopicPartitionRef): void {
    const txn = this.table.ofProducer(producerId);
    // Cluster mode: another node coordinates this producer's transaction.
    if (txn === undefined && this.o.cluster) return;
    if (txn !== undefined && producerEpoch < txn.producerEpoch) {
      throw new EddyError(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `producer ${producerId} epoch ${producerEpoch} was fenced by epoch ${txn.producerEpoch}`,
      );
    }
    const added = txn?.partitions.some((p) => p.topic === tp.topic && p.partition === tp.partition) ?? false;
    if (
      txn === undefined ||
      txn.state !== TxnState.ONGOING ||
      producerEpoch !== txn.producerEpoch ||
      !added
    ) {
      throw new EddyError(
        ErrorCode.INVALID_TXN_STATE,
        `transactional batch from producer ${producerId} for ${tp.topic}-${tp.partition}, which is not part of an ongoing transaction of that producer: call AddPartitionsToTxn first`,
      );
    }
  }

  /** Is (producerId) in a transaction that contains this partition and is not yet complete? */
  ownsOpenTxn(producerId: number, tp: TopicPartitionRef): boolean {
    const txn = this.table.ofProducer(producerId);
    if (txn === undefined) return false;
    const open =
      txn.state === TxnState.ONGOING ||
      txn.state === TxnState.PREPARE_COMMIT ||
      txn.state === TxnState.PREPARE_ABORT;
    return open && txn.partitions.some((p) => p.topic === tp.topic && p.partition === tp.partition);
  }

  /** Abort Ongoing transactions past their timeout (epoch bump), retry unfinished ends. Returns how many it ended. */
  runTimeouts(): Promise<number> {
    return this.timeouts.run();
  }

  describe(): TransactionDescription[] {
    return [...this.table.values()].map((t) => ({
      transactionalId: t.transactionalId,
      producerId: t.producerId,
      producerEpoch: t.producerEpoch,
      state: t.state,
      timeoutMs: t.timeoutMs,
      startedAt: t.startedAt,
      partitions: t.partitions.map((p) => ({ ...p })),
      groups: [...t.groups],
    }));
  }

  /** Move a fresh or completed transaction to Ongoing. */
  private begin(txn: Txn): void {
    if (txn.state === TxnState.ONGOING) return;
    if (txn.state === TxnState.PREPARE_COMMIT || txn.state === TxnState.PREPARE_ABORT) {
      throw new EddyError(
        ErrorCode.CONCURRENT_TRANSACTIONS,
        `transaction '${txn.transactionalId}' is still completing: retry shortly`,
      );
    }
    txn.state = TxnState.ONGOING;
    txn.startedAt = this.o.clock.now();
    txn.partitions = [];
    txn.groups = [];
    txn.pendingOffsets = [];
  }

  private require(req: { transactionalId: string; producerId: number; producerEpoch: number }): Txn {
    const txn = this.table.get(req.transactionalId);
    if (txn === undefined || txn.producerId !== req.producerId) {
      throw new EddyError(
        ErrorCode.INVALID_PRODUCER_ID_MAPPING,
        `transactional id '${req.transactionalId}' is not mapped to producer ${req.producerId}: call InitProducerId first`,
      );
    }
    if (txn.producerEpoch !== req.producerEpoch) throw check.fenced(req.transactionalId, txn, req);
    return txn;
  }

  /** require() plus: not in the middle of completing. */
  private active(req: { transactionalId: string; producerId: number; producerEpoch: number }): Txn {
    const txn = this.require(req);
    if (txn.state === TxnState.PREPARE_COMMIT || txn.state === TxnState.PREPARE_ABORT) {
      throw new EddyError(
        ErrorCode.CONCURRENT_TRANSACTIONS,
        `transaction '${txn.transactionalId}' is still completing: retry shortly`,
      );
    }
    return txn;
  }

  private checkOwner(transactionalId: string): void {
    const error = this.o.cluster?.check(transactionalId) ?? null;
    if (error === null) return;
    throw new EddyError(
      error,
      error === ErrorCode.NOT_COORDINATOR
        ? `this node is not the transaction coordinator of '${transactionalId}': find the coordinator again and retry there`
        : error === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
          ? `the transaction coordinator of '${transactionalId}' is still loading: retry shortly`
          : `the transaction coordinator of '${transactionalId}' is not available right now: retry shortly`,
      { transactionalId },
    );
  }
}
