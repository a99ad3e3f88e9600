/**
 * The transaction coordinator's state table: transactional.id → its current
 * transaction (producer id, epoch, state, partitions, groups, pending
 * offsets), the producer id → transactional.id index, and persistence. save()
 * writes a changed transaction to the metadata store (single node, fsynced)
 * or replicates it through the cluster hooks (__transaction_state, acks=all)
 * before the caller acts on it; when that fails it puts back the last
 * persisted state in memory and rethrows (the caller retries).
 */
import type { MetadataStore, TransactionRecord } from "../metadata/types.ts";
import type { TxnClusterHooks } from "./coordinator-options.ts";
import type { TxnState } from "./types.ts";

export type Txn = TransactionRecord & { state: TxnState };

export class TxnTable {
  private readonly txns = new Map<string, Txn>();
  private readonly byProducer = new Map<number, string>();
  /** The last state persisted per id (restored when persisting a change fails). */
  private readonly persisted = new Map<string, TransactionRecord>();

  constructor(private readonly o: { metadata: MetadataStore; cluster?: TxnClusterHooks | undefined }) {}

  get(transactionalId: string): Txn | undefined {
    return this.txns.get(transactionalId);
  }

  /** The transaction of a transactional producer id, if this coordinator knows it. */
  ofProducer(producerId: number): Txn | undefined {
    const id = this.byProducer.get(producerId);
    return id === undefined ? undefined : this.txns.get(id);
  }

  hasProducer(producerId: number): boolean {
    return this.byProducer.has(producerId);
  }

  /** Live iteration over the known transactions. */
  values(): IterableIterator<Txn> {
    return this.txns.values();
  }

  /** Take a persisted state as current (restart, coordinator takeover); it replaces what was known. */
  adopt(row: TransactionRecord): Txn {
    const old = this.txns.get(row.transactionalId);
    if (old) this.byProducer.delete(old.producerId);
    const txn: Txn = { ...copy(row), state: row.state as TxnState };
    this.txns.set(txn.transactionalId, txn);
    this.byProducer.set(txn.producerId, txn.transactionalId);
    this.persisted.set(txn.transactionalId, copy(txn));
    return txn;
  }

  /** Forget the ids `drop` selects. */
  drop(drop: (transactionalId: string) => boolean): void {
    for (const [id, txn] of [...this.txns]) {
      if (!drop(id)) continue;
      this.txns.delete(id);
      this.persisted.delete(id);
      if (this.byProducer.get(txn.producerId) === id) this.byProducer.delete(txn.producerId);
    }
  }

  /** A transaction moves to a new producer id: the old one no longer maps to it. */
  retireProducer(producerId: number): void {
    this.byProducer.delete(producerId);
  }

  /** Persist the transaction's new state; on failure, put back the last persisted one and rethrow. */
  async save(txn: Txn): Promise<void> {
    const id = txn.transactionalId;
    try {
      if (this.o.cluster) await this.o.cluster.persist(copy(txn));
      else this.o.metadata.saveTransaction(txn);
    } catch (err) {
      const before = this.persisted.get(id);
      if (before) {
        if (before.producerId !== txn.producerId) this.byProducer.delete(txn.producerId);
        Object.assign(txn, copy(before));
        this.txns.set(id, txn);
        this.byProducer.set(txn.producerId, id);
      } else if (this.txns.get(id) === txn) {
        this.txns.delete(id);
        this.byProducer.delete(txn.producerId);
      }
      throw err;
    }
    this.persisted.set(id, copy(txn));
    this.txns.set(id, txn);
    this.byProducer.set(txn.producerId, id);
  }
}

function copy<T extends TransactionRecord>(t: T): T {
  return {
    ...t,
    partitions: t.partitions.map((p) => ({ ...p })),
    groups: [...t.groups],
    pendingOffsets: t.pendingOffsets.map((o) => ({ ...o })),
  };
}
