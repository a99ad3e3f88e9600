/**
 * Idempotent and transactional producer state of one partition (pure: no
 * I/O; persistence is producer-snapshot.ts). Kafka's ProducerStateManager,
 * made small:
 *
 * - per producer id: the current epoch, the last 5 appended batches
 *   (firstSeq, lastSeq, baseOffset, lastOffset), the batch time of the last
 *   append, and the first offset of its open transaction (-1 = none);
 * - check() runs before an append (inside the partition's queue): a batch
 *   equal to one of the last 5 is a duplicate (answered with its original
 *   offsets); an older epoch is INVALID_PRODUCER_EPOCH; a new epoch must start
 *   at sequence 0; within an epoch the sequence must follow the last one
 *   (OUT_OF_ORDER_SEQUENCE otherwise);
 * - unknown producer ids are accepted at any sequence (KIP-360: the producer
 *   may have expired or had all its batches deleted by retention), as Kafka
 *   2.5+ does; UNKNOWN_PRODUCER_ID is therefore never returned;
 * - end-transaction markers close the producer's open transaction; an ABORT
 *   adds (producerId, firstOffset, lastOffset = marker offset) to the aborted
 *   index that read_committed fetches use;
 * - the first unstable offset (oldest open transaction) bounds the last
 *   stable offset;
 * - coordinator fencing (Kafka's WriteTxnMarkers check): per producer, the
 *   highest coordinator epoch of its markers (the leader epoch of the
 *   coordinator's __transaction_state partition; 0 on a single node).
 *   checkMarker() refuses a marker with an older one
 *   (TRANSACTION_COORDINATOR_FENCED: a deposed coordinator). A marker
 *   recorded without its epoch (a follower that did not decode it) leaves
 *   `pendingMarkerOffset` set: the leader reads that marker from the log
 *   before it checks (see src/broker/transactions.ts).
 */
import { EddyError, ErrorCode } from "../errors.ts";

/** How many batches per producer are remembered for duplicate detection (Kafka's window). */
export const SEQUENCE_WINDOW = 5;
const INT32_MAX = 2147483647;

export interface BatchMeta {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
}

export interface ProducerEntry {
  producerId: number;
  epoch: number;
  /** Oldest first, at most SEQUENCE_WINDOW. */
  batches: BatchMeta[];
  /** Max timestamp of the producer's last batch (for expiry). */
  lastTimestamp: number;
  /** First offset of the open transaction on this partition, or -1. */
  txnFirstOffset: number;
  /** Highest coordinator epoch of this producer's markers here, or -1 (none known). */
  coordinatorEpoch: number;
  /** Offset of a later marker whose coordinator epoch is not known yet, or -1. */
  pendingMarkerOffset: number;
}

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  /** Offset of the ABORT marker. */
  lastOffset: number;
}

/** What a producer batch's header says (from readBatchHeader). */
export interface ProducerBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  lastOffsetDelta: number;
  transactional: boolean;
}

export type AppendCheck = { duplicate: false } | { duplicate: true; baseOffset: number; lastOffset: number };

/** Sequence after `seq` advanced by `delta`, wrapping past INT32_MAX to 0 (as Kafka does). */
export function addSequence(seq: number, delta: number): number {
  return seq > INT32_MAX - delta ? delta - (INT32_MAX - seq) - 1 : seq + delta;
}

export class ProducerStateManager {
  readonly producers = new Map<number, ProducerEntry>();
  /** Aborted transactions in marker order (ascending lastOffset). */
  aborted: AbortedTxn[] = [];
  /** Producer batches and markers applied since the last snapshot. */
  changesSinceSnapshot = 0;
  /**
   * The state reflects the whole log (loaded from snapshot + replay, or the
   * log was empty). Until then no snapshot may be written over the stored one.
   */
  loaded = false;
  /** producerId -> first offset of its open transaction (the few entries with one). */
  private readonly ongoing = new Map<number, number>();

  constructor(private readonly where: string) {}

  /** Validate a producer batch before it is appended. Throws EddyError; never mutates. */
  check(b: ProducerBatch): AppendCheck {
    if (b.producerEpoch < 0 || b.baseSequence < 0) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `batch for ${this.where} has producer id ${b.producerId} but epoch ${b.producerEpoch} and base sequence ${b.baseSequence}: an idempotent batch needs both`,
      );
    }
    const entry = this.producers.get(b.producerId);
    if (entry === undefined) return { duplicate: false };
    if (b.producerEpoch < entry.epoch) {
      throw new EddyError(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `producer ${b.producerId} epoch ${b.producerEpoch} is older than the current epoch ${entry.epoch} on ${this.where}: this producer was fenced; re-initialise it`,
        { producerId: b.producerId, epoch: b.producerEpoch, currentEpoch: entry.epoch },
      );
    }
    const lastSeq = addSequence(b.baseSequence, b.lastOffsetDelta);
    if (b.producerEpoch === entry.epoch) {
      const dup = entry.batches.find((m) => m.firstSeq === b.baseSequence && m.lastSeq === lastSeq);
      if (dup) return { duplicate: true, baseOffset: dup.baseOffset, lastOffset: dup.lastOffset };
      const last = entry.batches.at(-1);
      if (last !== undefined && b.baseSequence !== addSequence(last.lastSeq, 1)) {
        throw new EddyError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE,
          `producer ${b.producerId} sent sequence ${b.baseSequence} to ${this.where}, expected ${addSequence(last.lastSeq, 1)}`,
          { producerId: b.producerId, sequence: b.baseSequence, expected: addSequence(last.lastSeq, 1) },
        );
      }
    } else if (b.baseSequence !== 0) {
      throw new EddyError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE,
        `producer ${b.producerId} started epoch ${b.producerEpoch} on ${this.where} at sequence ${b.baseSequence}: a new epoch starts at 0`,
        { producerId: b.producerId, sequence: b.baseSequence },
      );
    }
    if (!b.transactional && entry.txnFirstOffset >= 0) {
      throw new EddyError(
        ErrorCode.INVALID_TXN_STATE,
        `producer ${b.producerId} has an open transaction on ${this.where} but sent a non-transactional batch`,
      );
    }
    return { duplicate: false };
  }

  /** Record an appended data batch of a producer (after check, or while replaying the log). */
  onData(b: ProducerBatch, baseOffset: number, timestamp: number): void {
    const entry = this.entry(b.producerId, b.producerEpoch);
    entry.batches.push({
      firstSeq: b.baseSequence,
      lastSeq: addSequence(b.baseSequence, b.lastOffsetDelta),
      baseOffset,
      lastOffset: baseOffset + b.lastOffsetDelta,
    });
    if (entry.batches.length > SEQUENCE_WINDOW) entry.batches.shift();
    entry.lastTimestamp = Math.max(entry.lastTimestamp, timestamp);
    if (b.transactional && entry.txnFirstOffset < 0) {
      entry.txnFirstOffset = baseOffset;
      this.ongoing.set(b.producerId, baseOffset);
    }
    this.changesSinceSnapshot++;
  }

  /**
   * Before a marker is appended (on the partition leader): throws
   * TRANSACTION_COORDINATOR_FENCED when `coordinatorEpoch` is older than the
   * epoch of a marker this partition already holds for the producer. Call
   * after resolving any pendingMarkerOffset. Never mutates.
   */
  checkMarker(m: { producerId: number; coordinatorEpoch: number }): void {
    const entry = this.producers.get(m.producerId);
    if (entry === undefined || m.coordinatorEpoch >= entry.coordinatorEpoch) return;
    throw new EddyError(
      ErrorCode.TRANSACTION_COORDINATOR_FENCED,
      `transaction marker for producer ${m.producerId} on ${this.where} comes from coordinator epoch ${m.coordinatorEpoch}, but epoch ${entry.coordinatorEpoch} already wrote one: this coordinator was deposed; the current coordinator completes the transaction`,
      { producerId: m.producerId, coordinatorEpoch: m.coordinatorEpoch, current: entry.coordinatorEpoch },
    );
  }

  /** The offset of a marker of `producerId` whose coordinator epoch must be read from the log, or -1. */
  pendingMarker(producerId: number): number {
    return this.producers.get(producerId)?.pendingMarkerOffset ?? -1;
  }

  /** Record the coordinator epoch read from the pending marker at `offset` (-1 when the log no longer has it). */
  resolveMarker(producerId: number, offset: number, coordinatorEpoch: number): void {
    const entry = this.producers.get(producerId);
    if (entry === undefined || entry.pendingMarkerOffset !== offset) return;
    entry.pendingMarkerOffset = -1;
    entry.coordinatorEpoch = Math.max(entry.coordinatorEpoch, coordinatorEpoch);
    this.changesSinceSnapshot++;
  }

  /**
   * Record an appended COMMIT/ABORT marker at `offset`. `coordinatorEpoch`
   * is the control record's; when the caller did not decode it, the marker's
   * offset is kept so the leader can read it later (pendingMarker()).
   */
  onMarker(m: {
    producerId: number;
    producerEpoch: number;
    commit: boolean;
    offset: number;
    timestamp: number;
    coordinatorEpoch?: number | undefined;
  }): void {
    const entry = this.entry(m.producerId, m.producerEpoch);
    if (m.coordinatorEpoch === undefined) entry.pendingMarkerOffset = m.offset;
    else {
      entry.coordinatorEpoch = Math.max(entry.coordinatorEpoch, m.coordinatorEpoch);
      entry.pendingMarkerOffset = -1;
    }
    if (entry.txnFirstOffset >= 0 && !m.commit) {
      this.aborted.push({
        producerId: m.producerId,
        firstOffset: entry.txnFirstOffset,
        lastOffset: m.offset,
      });
    }
    entry.txnFirstOffset = -1;
    this.ongoing.delete(m.producerId);
    entry.lastTimestamp = Math.max(entry.lastTimestamp, m.timestamp);
    this.changesSinceSnapshot++;
  }

  /**
   * KIP-360 epoch bump of an idempotent producer (InitProducerId with its
   * current id and epoch): if this partition knows the producer at an older
   * epoch, move it to `epoch` (sequences restart at 0), so late batches of the
   * old epoch get INVALID_PRODUCER_EPOCH. Not logged: a restart before the
   * next snapshot forgets it here (until the new epoch appends a batch).
   */
  bumpEpoch(producerId: number, epoch: number): boolean {
    const entry = this.producers.get(producerId);
    if (entry === undefined || epoch <= entry.epoch || entry.txnFirstOffset >= 0) return false;
    entry.epoch = epoch;
    // A placeholder "sequence -1" batch: the new epoch must start at sequence 0
    // (never a duplicate; DescribeProducers shows lastSequence -1, as Kafka does).
    entry.batches = [{ firstSeq: -1, lastSeq: -1, baseOffset: -1, lastOffset: -1 }];
    this.changesSinceSnapshot++;
    return true;
  }

  /** Does `producerId` have an open transaction here? */
  hasOpenTxn(producerId: number): boolean {
    return (this.producers.get(producerId)?.txnFirstOffset ?? -1) >= 0;
  }

  /** Producers with an open transaction here, with its first offset. */
  openTxns(): Array<{ producerId: number; epoch: number; firstOffset: number }> {
    const out: Array<{ producerId: number; epoch: number; firstOffset: number }> = [];
    for (const e of this.producers.values()) {
      if (e.txnFirstOffset >= 0)
        out.push({ producerId: e.producerId, epoch: e.epoch, firstOffset: e.txnFirstOffset });
    }
    return out;
  }

  /** First offset of the oldest open transaction, or null. */
  firstUnstableOffset(): number | null {
    let min: number | null = null;
    for (const first of this.ongoing.values()) if (min === null || first < min) min = first;
    return min;
  }

  /** Add a producer entry as loaded from a snapshot. */
  restoreEntry(entry: ProducerEntry): void {
    this.producers.set(entry.producerId, entry);
    if (entry.txnFirstOffset >= 0) this.ongoing.set(entry.producerId, entry.txnFirstOffset);
    else this.ongoing.delete(entry.producerId);
  }

  /** Aborted transactions overlapping [from, to) (Kafka's collectAbortedTxns). */
  abortedBetween(from: number, to: number): AbortedTxn[] {
    // `aborted` is in marker order, so ascending lastOffset: skip the ones ending before `from`.
    let lo = 0;
    let hi = this.aborted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.aborted[mid]!.lastOffset < from) lo = mid + 1;
      else hi = mid;
    }
    const out: AbortedTxn[] = [];
    for (let i = lo; i < this.aborted.length; i++) {
      const a = this.aborted[i]!;
      if (a.firstOffset < to) out.push(a);
    }
    return out;
  }

  /** Is the transactional batch of `producerId` at `offset` part of an aborted transaction? */
  isAborted(producerId: number, offset: number): boolean {
    return this.aborted.some(
      (a) => a.producerId === producerId && a.firstOffset <= offset && offset < a.lastOffset,
    );
  }

  /**
   * Forget what retention made irrelevant: aborted transactions that end
   * below the log start, and idle producers (no open transaction) whose last
   * batch is older than `expireBefore` (Kafka's producer.id.expiration.ms).
   */
  prune(logStartOffset: number, expireBefore: number): void {
    this.aborted = this.aborted.filter((a) => a.lastOffset >= logStartOffset);
    for (const [id, e] of this.producers) {
      if (e.txnFirstOffset < 0 && e.lastTimestamp < expireBefore) this.producers.delete(id);
    }
  }

  clear(): void {
    this.producers.clear();
    this.ongoing.clear();
    this.aborted = [];
  }

  private entry(producerId: number, epoch: number): ProducerEntry {
    let entry = this.producers.get(producerId);
    if (entry === undefined) {
      entry = {
        producerId,
        epoch,
        batches: [],
        lastTimestamp: -1,
        txnFirstOffset: -1,
        coordinatorEpoch: -1,
        pendingMarkerOffset: -1,
      };
      this.producers.set(producerId, entry);
    } else if (epoch > entry.epoch) {
      // A new epoch (InitProducerId bump or a coordinator marker) restarts sequences.
      entry.epoch = epoch;
      entry.batches = [];
    }
    return entry;
  }
}
