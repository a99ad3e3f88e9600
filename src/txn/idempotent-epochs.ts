/**
 * KIP-360 epoch bump for idempotent (non-transactional) producers: an
 * InitProducerId (v3+) without a transactional id that names the producer id
 * and epoch the client holds keeps that id and bumps the epoch, and every
 * partition that knows the producer moves to the new epoch, so late batches
 * of the old epoch get INVALID_PRODUCER_EPOCH.
 *
 * Deviation from Kafka (whose coordinator always hands an idempotent
 * producer a fresh id; the Java client bumps its epoch locally): a client
 * that cannot bump locally gets the same protection from the broker.
 *
 * The coordinator remembers the last epoch it handed out per bumped id (the
 * newest MAX_TRACKED, in memory). A pair that does not match it is
 * PRODUCER_FENCED (another instance bumped first). An id it does not track
 * (never bumped, forgotten, or before a restart) is trusted at the epoch the
 * client names, as partitions accept unknown producer ids. Epoch 32766 rolls
 * over to a new producer id (the old id is fenced at 32767).
 *
 * (0, 0) means "none" (@platformatic/kafka sends it for a fresh producer), so
 * idempotent producers never get producer id 0.
 */
import { EddyError, ErrorCode } from "../errors.ts";

const MAX_EPOCH_BEFORE_NEW_ID = 32766;
/** Bumped producer ids remembered (oldest forgotten first). */
export const MAX_TRACKED = 10_000;

export interface IdempotentEpochsOptions {
  allocateProducerId(): number;
  /** Is this producer id owned by a transactional id? */
  isTransactional(producerId: number): boolean;
  /** Move every partition that knows `producerId` to `epoch` (see ProducerStateManager.bumpEpoch). */
  fenceProducer?(producerId: number, epoch: number): Promise<void>;
}

export class IdempotentEpochs {
  private readonly epochs = new Map<number, number>();

  constructor(private readonly o: IdempotentEpochsOptions) {}

  /** InitProducerId without a transactional id. */
  async init(req: { producerId?: number; producerEpoch?: number }): Promise<{
    producerId: number;
    producerEpoch: number;
  }> {
    const id = req.producerId ?? -1;
    const epoch = req.producerEpoch ?? -1;
    // @platformatic/kafka sends (0, 0) for "no producer yet": id 0 is never an idempotent producer's.
    if (id < 0 || (id === 0 && epoch === 0)) return { producerId: this.fresh(), producerEpoch: 0 };
    if (!Number.isSafeInteger(id) || epoch < 0 || epoch > MAX_EPOCH_BEFORE_NEW_ID) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `InitProducerId named producer id ${id} with epoch ${epoch}: send both (epoch 0..${MAX_EPOCH_BEFORE_NEW_ID}) or neither (-1)`,
      );
    }
    if (this.o.isTransactional(id)) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `producer id ${id} belongs to a transactional id: re-initialise it with its transactional.id`,
      );
    }
    const current = this.epochs.get(id);
    if (current !== undefined && current !== epoch) {
      throw new EddyError(
        ErrorCode.PRODUCER_FENCED,
        `producer ${id} epoch ${epoch} was fenced: its current epoch is ${current} (another instance re-initialised it); close this producer`,
        { currentProducerId: id, currentEpoch: current },
      );
    }
    // Decide synchronously, so a concurrent bump with the same pair is fenced.
    this.epochs.delete(id);
    let result: { producerId: number; producerEpoch: number };
    if (epoch + 1 > MAX_EPOCH_BEFORE_NEW_ID) {
      result = { producerId: this.fresh(), producerEpoch: 0 };
    } else {
      result = { producerId: id, producerEpoch: epoch + 1 };
      this.remember(id, epoch + 1);
    }
    await this.o.fenceProducer?.(id, epoch + 1);
    return result;
  }

  /** The epoch last handed out for `producerId` by a bump, if remembered. */
  epochOf(producerId: number): number | undefined {
    return this.epochs.get(producerId);
  }

  /** A new producer id, never 0 (see init). */
  private fresh(): number {
    const id = this.o.allocateProducerId();
    return id === 0 ? this.o.allocateProducerId() : id;
  }

  private remember(id: number, epoch: number): void {
    this.epochs.set(id, epoch);
    while (this.epochs.size > MAX_TRACKED) {
      const oldest = this.epochs.keys().next();
      if (oldest.done) break;
      this.epochs.delete(oldest.value);
    }
  }
}
