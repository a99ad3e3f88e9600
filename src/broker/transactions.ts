/**
 * The broker's side of idempotence and transactions: builds the transaction
 * coordinator (markers go through the partitions' queues), loads every
 * partition's producer state on start (snapshot + log replay), aborts
 * transactions left hanging on a partition with no coordinator record,
 * snapshots producer state periodically and on close, and wraps coordinator
 * calls into protocol-neutral results (ErrorCode, never thrown).
 */
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { loadProducerState, saveProducerSnapshot } from "../txn/producer-snapshot.ts";
import { TransactionCoordinator } from "../txn/coordinator.ts";
import type {
  AddPartitionsToTxnOptions,
  AddPartitionsToTxnResult,
  InitProducerIdOptions,
  InitProducerIdResult,
  TxnError,
  TxnOffsetCommitOptions,
  TxnOffsetCommitResult,
} from "../txn/types.ts";
import type { BrokerContext } from "./context.ts";
import { commitOffsets } from "./group-offsets.ts";
import type { Partition } from "./partition.ts";
import type { TopicManager } from "./topics.ts";

/** Coordinator epoch stamped into markers (a single coordinator that never moves). */
const COORDINATOR_EPOCH = 0;

export function createCoordinator(opts: {
  metadata: MetadataStore;
  clock: Clock;
  logger: Logger;
  topics: TopicManager;
  /** The broker context, once built (for group offset commits). */
  ctx: () => BrokerContext;
  checkIntervalMs?: number | undefined;
  maxTimeoutMs?: number | undefined;
}): TransactionCoordinator {
  const { topics, clock } = opts;
  return new TransactionCoordinator({
    metadata: opts.metadata,
    clock,
    logger: opts.logger,
    checkIntervalMs: opts.checkIntervalMs,
    maxTimeoutMs: opts.maxTimeoutMs,
    requirePartition: (tp) => {
      topics.partition(tp.topic, tp.partition);
    },
    writeMarker: async (tp, m) => {
      const p = topics.partition(tp.topic, tp.partition);
      const info = await p.appendMarker({ ...m, coordinatorEpoch: COORDINATOR_EPOCH, now: clock.now() });
      await p.waitCommitted(info.lastOffset + 1);
    },
    commitOffsets: (group, offsets) => commitOffsets(opts.ctx(), group, offsets),
    fenceProducer: async (producerId, epoch) => {
      // Inside each partition's queue, so no append of the old epoch slips in between.
      await Promise.all(
        topics.allPartitions().map((p) => p.enqueue(async () => p.producers.bumpEpoch(producerId, epoch))),
      );
    },
  });
}

/** Start-up: producer state of every partition, then the coordinator, then hanging transactions. */
export async function openTransactions(ctx: BrokerContext, txn: TransactionCoordinator): Promise<void> {
  const partitions = ctx.topics.allPartitions();
  await Promise.all(
    partitions.map((p) =>
      p.enqueue(async () => {
        await loadProducerState(p, { metadata: ctx.metadata, logger: ctx.logger, now: ctx.clock.now() });
        p.refresh();
      }),
    ),
  );
  await txn.recover();
  for (const p of partitions) {
    for (const open of p.producers.openTxns()) {
      if (txn.ownsOpenTxn(open.producerId, { topic: p.topic, partition: p.id })) continue;
      ctx.logger.warn("aborting a transaction with no coordinator record", {
        topic: p.topic,
        partition: p.id,
        producerId: open.producerId,
        firstOffset: open.firstOffset,
      });
      const info = await p.appendMarker({
        producerId: open.producerId,
        producerEpoch: open.epoch,
        commit: false,
        coordinatorEpoch: COORDINATOR_EPOCH,
        now: ctx.clock.now(),
      });
      await p.waitCommitted(info.lastOffset + 1);
    }
  }
}

/** Snapshot a partition's producer state in its queue (periodic; errors are logged). */
export function scheduleSnapshot(ctx: BrokerContext, p: Partition): void {
  p.snapshotPending = true;
  p.enqueue(() => saveProducerSnapshot(p, ctx.metadata, ctx.clock.now()))
    .catch((err) => {
      if (
        err instanceof EddyError &&
        (err.code === ErrorCode.TOPIC_NOT_FOUND || err.code === ErrorCode.SHUTTING_DOWN)
      )
        return;
      ctx.logger.warn("producer state snapshot failed; will retry", { topic: p.topic, partition: p.id, err });
    })
    .finally(() => {
      p.snapshotPending = false;
      p.bytesSinceSnapshot = 0;
    });
}

/** Shutdown: stop the coordinator, then snapshot every partition (after its in-flight appends). */
export async function closeTransactions(ctx: BrokerContext, txn: TransactionCoordinator): Promise<void> {
  await txn.stop();
  const results = await Promise.allSettled(
    ctx.topics
      .allPartitions()
      .map((p) => p.enqueue(() => saveProducerSnapshot(p, ctx.metadata, ctx.clock.now()))),
  );
  for (const r of results) {
    if (r.status === "rejected")
      ctx.logger.warn("producer state snapshot on close failed", { err: r.reason });
  }
}

function failure(err: unknown): TxnError {
  const e = toEddyError(err);
  if (e.code === ErrorCode.SHUTTING_DOWN) throw e;
  return { error: e.code, errorMessage: e.message };
}

export async function initProducerId(
  txn: TransactionCoordinator,
  req: InitProducerIdOptions,
): Promise<InitProducerIdResult> {
  try {
    return { error: null, ...(await txn.initProducerId(req)) };
  } catch (err) {
    return { ...failure(err), producerId: -1, producerEpoch: -1 };
  }
}

export async function addPartitionsToTxn(
  txn: TransactionCoordinator,
  req: AddPartitionsToTxnOptions,
): Promise<AddPartitionsToTxnResult> {
  try {
    return { partitions: await txn.addPartitions(req) };
  } catch (err) {
    const f = failure(err);
    return { partitions: req.partitions.map((tp) => ({ topic: tp.topic, partition: tp.partition, ...f })) };
  }
}

export async function txnResult(work: () => Promise<void>): Promise<TxnError> {
  try {
    await work();
    return { error: null };
  } catch (err) {
    return failure(err);
  }
}

export async function txnOffsetCommit(
  txn: TransactionCoordinator,
  req: TxnOffsetCommitOptions,
): Promise<TxnOffsetCommitResult> {
  try {
    return { partitions: await txn.txnOffsetCommit(req) };
  } catch (err) {
    const f = failure(err);
    return { partitions: req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, ...f })) };
  }
}
