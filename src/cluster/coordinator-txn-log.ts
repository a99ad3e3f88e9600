/**
 * Cluster mode: transaction coordinator state lives in `__transaction_state`,
 * as in Kafka. The coordinator of transactional.id T (the leader of T's
 * partition, see coordinator-placement.ts) appends every state transition of
 * T with acks=all before acting on it (src/txn/coordinator.ts `persist`).
 *
 * Record format (JSON, UTF-8; compacted: the latest record of a key is the state):
 *   key   {"type":"txn","id":T}
 *   value the TransactionRecord (producer id and epoch, state, timeout,
 *         partitions, groups, pending offsets, timestamps)
 *
 * A node that becomes the leader of a partition reads it to the high
 * watermark and hands the latest record of every id to the coordinator
 * (`bind`), which completes transactions left in PrepareCommit/PrepareAbort
 * and lets Ongoing ones run into their timeout (then aborts them).
 *
 * Coordinator epoch: the leader epoch of T's partition while this node
 * coordinates it (`coordinatorEpoch`). Markers carry it; a data partition
 * refuses markers from an older epoch than it has seen for the producer, so
 * a deposed coordinator still running cannot complete transactions.
 */
import type { TransactionRecord } from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { StoredRecord } from "../log/types.ts";
import type { TopicManager } from "../broker/topics.ts";
import { ErrorCode } from "../errors.ts";
import { CoordinatorPartitions, coordinatorError } from "./coordinator-partitions.ts";
import { TRANSACTION_STATE_TOPIC } from "./coordinator-placement.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ClusterTxnLogOptions {
  topics: TopicManager;
  dataNodes: () => number[];
  clock: Clock;
  logger: Logger;
  appendTimeoutMs?: number;
}

/** What the transaction coordinator does with a partition's state. */
export interface TxnStateHandler {
  load(txns: TransactionRecord[]): void;
  unload(inPartition: (transactionalId: string) => boolean): void;
}

export class ClusterTxnLog {
  readonly partitions: CoordinatorPartitions;
  private handler: TxnStateHandler | null = null;
  private readonly topics: TopicManager;

  constructor(o: ClusterTxnLogOptions) {
    this.topics = o.topics;
    this.partitions = new CoordinatorPartitions({
      topic: TRANSACTION_STATE_TOPIC,
      topics: o.topics,
      dataNodes: o.dataNodes,
      clock: o.clock,
      logger: o.logger,
      appendTimeoutMs: o.appendTimeoutMs,
      load: async (_k, records) => this.handler?.load(latestTxns(records)),
      unload: (k) => this.handler?.unload((id) => this.partitions.partitionFor(id) === k),
    });
  }

  /** The transaction coordinator that loads and unloads partitions' state. */
  bind(handler: TxnStateHandler): void {
    this.handler = handler;
  }

  /**
   * The coordinator epoch of `transactionalId` here: the leader epoch of its
   * __transaction_state partition, which this node leads (loaded, or
   * loading: a coordinator completes the transactions it loads before it
   * serves requests). Throws NOT_COORDINATOR etc. when it does not lead it.
   */
  coordinatorEpoch(transactionalId: string): number {
    const error = this.partitions.check(transactionalId);
    if (error !== null && error !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS)
      throw coordinatorError(error, TRANSACTION_STATE_TOPIC, transactionalId);
    const p =
      this.topics.get(TRANSACTION_STATE_TOPIC)?.partitions[this.partitions.partitionFor(transactionalId)];
    if (p === undefined || !p.leads)
      throw coordinatorError(ErrorCode.NOT_COORDINATOR, TRANSACTION_STATE_TOPIC, transactionalId);
    return p.leaderEpoch;
  }

  /** Append the transaction's new state (acks=all). Throws NOT_COORDINATOR etc. */
  async persist(txn: TransactionRecord): Promise<void> {
    const k = this.partitions.require(txn.transactionalId);
    await this.partitions.append(k, [
      { key: txnKey(txn.transactionalId), value: enc.encode(JSON.stringify(txn)) },
    ]);
  }
}

function txnKey(id: string): Uint8Array {
  return enc.encode(JSON.stringify({ type: "txn", id }));
}

/** The latest state of every transactional.id in the records (tombstoned ids left out). */
function latestTxns(records: StoredRecord[]): TransactionRecord[] {
  const latest = new Map<string, TransactionRecord | null>();
  for (const r of records) {
    if (r.key === null) continue;
    let id: string;
    try {
      const k = JSON.parse(dec.decode(r.key)) as { type?: unknown; id?: unknown };
      if (k.type !== "txn" || typeof k.id !== "string") continue;
      id = k.id;
    } catch {
      continue;
    }
    if (r.value === null) {
      latest.set(id, null);
      continue;
    }
    try {
      const v = JSON.parse(dec.decode(r.value)) as TransactionRecord;
      if (v.transactionalId === id && Number.isSafeInteger(v.producerId)) latest.set(id, v);
    } catch {
      // A record this release cannot read: skipped.
    }
  }
  return [...latest.values()].filter((t): t is TransactionRecord => t !== null);
}
