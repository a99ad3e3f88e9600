/**
 * The broker's side of idempotence and transactions: builds the transaction
 * coordinator (markers go through the partitions' queues), loads every
 * partition's producer state on start (snapshot + log replay), aborts
 * transactions left hanging on a partition with no coordinator record,
 * snapshots producer state periodically and on close, and wraps coordinator
 * calls into protocol-neutral results (ErrorCode, never thrown).
 *
 * Cluster mode (ctx.coordinators): the coordinator's state lives in
 * __transaction_state (src/cluster/coordinator-txn-log.ts) and is loaded
 * when this node takes over a partition of it, not from the metadata store
 * at start; markers are written by each data partition's leader (here, or
 * over the peer transport: src/cluster/coordinator-rpc.ts); a committed
 * transaction's offsets go to each group's coordinator; a TxnOffsetCommit
 * that reaches the group's coordinator is passed on to the transaction's.
 * Transactions left open on a partition are not aborted at start (their
 * coordinator may be another node): the coordinator's timeout aborts them.
 * Markers carry the coordinator epoch (the leader epoch of the
 * transactional id's __transaction_state partition, taken when the
 * coordinator asks, so a deposed coordinator keeps its old epoch); the data
 * partition's leader refuses one older than the producer's last
 * (src/txn/markers.ts). A single node stamps and accepts epoch 0.
 */
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { MetadataStore } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { loadProducerState, saveProducerSnapshot } from "../txn/producer-snapshot.ts";
import { type MarkerRequest, TransactionCoordinator } from "../txn/coordinator.ts";
import { appendCheckedMarker, SINGLE_NODE_COORDINATOR_EPOCH } from "../txn/markers.ts";
import type {
  AddPartitionsToTxnOptions,
  AddPartitionsToTxnResult,
  InitProducerIdOptions,
  InitProducerIdResult,
  TxnError,
  TxnOffsetCommitOptions,
  TxnOffsetCommitResult,
} from "../txn/types.ts";
import type { ClusterCoordinators } from "../cluster/coordinator-service.ts";
import {
  type CoordinatorPeerHandlers,
  type CoordinatorPeerRequest,
  onLeader,
} from "../cluster/coordinator-rpc.ts";
import { decodeJson, type PeerRpc } from "../cluster/peer-protocol.ts";
import type { CommittedOffset } from "../metadata/types.ts";
import { withTimeout } from "./acks.ts";
import type { BrokerContext } from "./context.ts";
import { checkLeader } from "./epochs.ts";
import { commitOffsets } from "./group-offsets.ts";
import type { Partition } from "./partition.ts";
import type { TopicManager } from "./topics.ts";

/** Cluster mode: how long a marker or a transaction's offset commit looks for its node. */
const FORWARD_DEADLINE_MS = 10_000;

export function createCoordinator(opts: {
  metadata: MetadataStore;
  clock: Clock;
  logger: Logger;
  topics: TopicManager;
  /** The broker context, once built (for group offset commits). */
  ctx: () => BrokerContext;
  checkIntervalMs?: number | undefined;
  maxTimeoutMs?: number | undefined;
  /** Cluster mode: coordinator placement and the peer RPC. */
  cluster?: { coordinators: ClusterCoordinators; rpc: PeerRpc } | undefined;
}): TransactionCoordinator {
  const { topics, clock } = opts;
  const common = {
    metadata: opts.metadata,
    clock,
    logger: opts.logger,
    checkIntervalMs: opts.checkIntervalMs,
    maxTimeoutMs: opts.maxTimeoutMs,
    requirePartition: (tp: { topic: string; partition: number }) => {
      topics.partition(tp.topic, tp.partition);
    },
  };
  const cl = opts.cluster;
  if (cl) {
    const coordinator = new TransactionCoordinator({
      ...common,
      writeMarker: async (tp, m) => {
        // Throws NOT_COORDINATOR once this node knows it no longer coordinates the id.
        const coordinatorEpoch = cl.coordinators.txnLog.coordinatorEpoch(m.transactionalId);
        const marker = markerFields(tp, m, coordinatorEpoch);
        await onLeader({
          what: `the transaction marker for ${tp.topic}-${tp.partition}`,
          clock,
          rpc: cl.rpc,
          deadlineMs: FORWARD_DEADLINE_MS,
          where: () => {
            const p = topics.partition(tp.topic, tp.partition);
            if (p.leads) return "local";
            const leader = p.assignment?.leader ?? -1;
            return leader >= 0 ? leader : null;
          },
          local: () => writeLocalMarker(topics, clock, marker),
          request: { op: "marker", ...marker },
        });
      },
      commitOffsets: (group, offsets) => {
        const now = clock.now();
        const rows = offsets.map((o) => ({ ...o, commitTimestamp: now }));
        return commitOnGroupCoordinator(cl, clock, group, rows);
      },
      cluster: {
        check: (id) => cl.coordinators.txnLog.partitions.check(id),
        persist: (txn) => cl.coordinators.txnLog.persist(txn),
      },
    });
    cl.coordinators.txnLog.bind({
      load: (rows) => coordinator.load(rows),
      unload: (drop) => coordinator.unload(drop),
    });
    return coordinator;
  }
  return new TransactionCoordinator({
    ...common,
    writeMarker: async (tp, m) => {
      const p = topics.partition(tp.topic, tp.partition);
      const marker = markerFields(tp, m, SINGLE_NODE_COORDINATOR_EPOCH);
      const info = await appendCheckedMarker(p, { ...marker, now: clock.now() });
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
  // Cluster mode: the coordinator loads from __transaction_state as it takes partitions over.
  if (ctx.coordinators) return;
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
        coordinatorEpoch: SINGLE_NODE_COORDINATOR_EPOCH,
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

// ---------------------------------------------------------------- cluster mode

type MarkerFields = Omit<Extract<CoordinatorPeerRequest, { op: "marker" }>, "op">;

function markerFields(
  tp: { topic: string; partition: number },
  m: MarkerRequest,
  coordinatorEpoch: number,
): Required<MarkerFields> {
  return {
    topic: tp.topic,
    partition: tp.partition,
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    commit: m.commit,
    coordinatorEpoch,
  };
}

/**
 * Write a marker on a partition this node leads and wait until it is
 * committed. Throws NOT_LEADER, or TRANSACTION_COORDINATOR_FENCED when a
 * newer coordinator already wrote a marker for the producer here.
 */
async function writeLocalMarker(topics: TopicManager, clock: Clock, m: MarkerFields): Promise<void> {
  const p = topics.partition(m.topic, m.partition);
  checkLeader(p);
  const info = await appendCheckedMarker(p, {
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    commit: m.commit,
    coordinatorEpoch: m.coordinatorEpoch ?? 0,
    now: clock.now(),
  });
  await withTimeout(
    p.waitCommitted(info.lastOffset + 1),
    FORWARD_DEADLINE_MS,
    `transaction marker on ${m.topic}-${m.partition}`,
  );
}

/** A committed transaction's offsets, on the group's coordinator (here or over the peer transport). */
function commitOnGroupCoordinator(
  cl: { coordinators: ClusterCoordinators; rpc: PeerRpc },
  clock: Clock,
  group: string,
  rows: CommittedOffset[],
): Promise<void> {
  const parts = cl.coordinators.offsets.partitions;
  return onLeader({
    what: `the transaction's offsets of group '${group}'`,
    clock,
    rpc: cl.rpc,
    deadlineMs: FORWARD_DEADLINE_MS,
    where: async () => {
      const error = parts.check(group);
      if (error === null) return "local";
      if (error !== ErrorCode.NOT_COORDINATOR) return null;
      const { leader } = await parts.locate(group);
      return leader >= 0 ? leader : null;
    },
    local: () => cl.coordinators.offsets.commit(group, rows),
    request: { op: "commit-offsets", group, rows },
  });
}

/** What other nodes' coordinators ask of this one (POST /cluster/v1/coordinator). */
export function peerHandlers(ctx: BrokerContext, txn: TransactionCoordinator): CoordinatorPeerHandlers {
  return {
    marker: (m: Extract<CoordinatorPeerRequest, { op: "marker" }>) =>
      writeLocalMarker(ctx.topics, ctx.clock, m),
    commitOffsets: async (group, rows) => {
      const co = ctx.coordinators;
      if (!co) throw new EddyError(ErrorCode.INVALID_REQUEST, "this broker is not in a cluster");
      await co.offsets.commit(group, rows);
    },
    txnOffsetCommit: (req) => txnOffsetCommit(txn, req),
  };
}

/**
 * Cluster mode TxnOffsetCommit: served by the transaction's coordinator; the
 * group's coordinator (where Kafka clients send it) passes it on there.
 */
export async function txnOffsetCommitAnywhere(
  ctx: BrokerContext,
  txn: TransactionCoordinator,
  rpc: PeerRpc | null,
  req: TxnOffsetCommitOptions,
): Promise<TxnOffsetCommitResult> {
  const co = ctx.coordinators;
  if (!co || !rpc || co.txnLog.partitions.check(req.transactionalId) !== ErrorCode.NOT_COORDINATOR) {
    return txnOffsetCommit(txn, req);
  }
  const all = (f: TxnError): TxnOffsetCommitResult => ({
    partitions: req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, ...f })),
  });
  const groupError = co.offsets.partitions.check(req.groupId);
  if (groupError !== null) return all({ error: groupError });
  try {
    return await onLeader({
      what: `TxnOffsetCommit of '${req.transactionalId}'`,
      clock: ctx.clock,
      rpc,
      deadlineMs: FORWARD_DEADLINE_MS,
      where: async () => {
        const error = co.txnLog.partitions.check(req.transactionalId);
        if (error === null) return "local";
        if (error !== ErrorCode.NOT_COORDINATOR) return null;
        const { leader } = await co.txnLog.partitions.locate(req.transactionalId);
        return leader >= 0 ? leader : null;
      },
      local: () => txnOffsetCommit(txn, req),
      request: { op: "txn-offset-commit", req },
      decode: (body) => decodeJson<TxnOffsetCommitResult>(body, "TxnOffsetCommit answer"),
    });
  } catch (err) {
    return all(failure(err));
  }
}
