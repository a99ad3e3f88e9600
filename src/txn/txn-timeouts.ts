/**
 * The transaction coordinator's background check: every checkIntervalMs
 * (against the injected clock's notion of now; 0 = no timer, tests call
 * run()) it aborts Ongoing transactions older than their
 * transaction.timeout.ms with a bumped epoch (the producer is fenced) and
 * retries completing those left in PrepareCommit/PrepareAbort. One sweep runs
 * at a time; a failure on one id is logged and retried on the next sweep.
 */
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { DEFAULT_TXN_CHECK_INTERVAL_MS, MAX_EPOCH_BEFORE_NEW_ID } from "./coordinator-options.ts";
import type { IdLocks } from "./id-locks.ts";
import type { TxnCompletion } from "./txn-completion.ts";
import type { TxnTable } from "./txn-table.ts";
import { TxnState } from "./types.ts";

export interface TxnTimeoutsOptions {
  clock: Clock;
  logger: Logger;
  checkIntervalMs?: number | undefined;
  table: TxnTable;
  locks: IdLocks;
  completion: TxnCompletion;
}

export class TxnTimeouts {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly o: TxnTimeoutsOptions) {}

  start(): void {
    const interval = this.o.checkIntervalMs ?? DEFAULT_TXN_CHECK_INTERVAL_MS;
    if (interval <= 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      void this.run().finally(() => this.start());
    }, interval);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Stop the timer and wait for a running sweep. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.sweeping;
  }

  /** Abort Ongoing transactions past their timeout (epoch bump), retry unfinished ends. Returns how many it ended. */
  run(): Promise<number> {
    this.sweeping ??= this.sweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweep(): Promise<number> {
    let ended = 0;
    for (const txn of [...this.o.table.values()]) {
      if (this.stopped) break;
      const id = txn.transactionalId;
      try {
        await this.o.locks.run(id, async () => {
          const now = this.o.clock.now();
          if (txn.state === TxnState.PREPARE_COMMIT || txn.state === TxnState.PREPARE_ABORT) {
            await this.o.completion.finish(txn);
            ended++;
          } else if (txn.state === TxnState.ONGOING && now - txn.startedAt > txn.timeoutMs) {
            this.o.logger.info("aborting timed-out transaction", {
              transactionalId: id,
              timeoutMs: txn.timeoutMs,
            });
            if (txn.producerEpoch < MAX_EPOCH_BEFORE_NEW_ID) txn.producerEpoch++;
            await this.o.completion.decide(txn, false);
            ended++;
          }
        });
      } catch (err) {
        this.o.logger.warn("transaction timeout check failed; will retry", { transactionalId: id, err });
      }
    }
    return ended;
  }
}
