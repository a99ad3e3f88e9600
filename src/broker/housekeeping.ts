/**
 * The periodic retention + compaction loop. Each pass walks every partition
 * and, through the partition's mutation queue (so it never races an append),
 * applies time/size retention and, for compacted topics, compaction, using
 * the injected clock's time. Runs every `intervalMs` (0 = never on its own;
 * tests call runOnce); passes never overlap; stop() waits for the current one.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { SafeObserver } from "./observer.ts";
import type { Partition } from "./partition.ts";

export interface HousekeepingOptions {
  clock: Clock;
  logger: Logger;
  observer: SafeObserver;
  intervalMs: number;
  partitions: () => Partition[];
}

export interface HousekeepingReport {
  partitions: number;
  deletedSegments: number;
  deletedBytes: number;
  compactedRecords: number;
  errors: number;
}

export class Housekeeping {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<HousekeepingReport> | undefined;
  private stopped = false;

  constructor(private readonly o: HousekeepingOptions) {}

  start(): void {
    if (this.o.intervalMs > 0 && !this.stopped) this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass over all partitions; concurrent callers share the pass in progress. */
  runOnce(): Promise<HousekeepingReport> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runOnce().then(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.o.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async pass(): Promise<HousekeepingReport> {
    const report: HousekeepingReport = {
      partitions: 0,
      deletedSegments: 0,
      deletedBytes: 0,
      compactedRecords: 0,
      errors: 0,
    };
    for (const p of this.o.partitions()) {
      if (this.stopped) break;
      report.partitions++;
      try {
        await p.enqueue(async () => {
          const now = this.o.clock.now();
          const config = p.log.config();
          const retention = await p.log.applyRetention(now);
          if (retention.deletedSegments > 0) {
            report.deletedSegments += retention.deletedSegments;
            report.deletedBytes += retention.deletedBytes;
            this.o.observer.onRetention(p.topic, p.id, retention);
            this.o.logger.debug("retention deleted segments", {
              topic: p.topic,
              partition: p.id,
              ...retention,
            });
          }
          if (config.cleanupPolicy !== "delete") {
            const compaction = await p.log.compact(now);
            report.compactedRecords += compaction.removedRecords;
            if (compaction.removedRecords > 0) {
              this.o.observer.onCompaction(p.topic, p.id, compaction);
              this.o.logger.debug("compacted partition", { topic: p.topic, partition: p.id, ...compaction });
            }
          }
          p.refresh();
        });
      } catch (err) {
        if (err instanceof EddyError && err.code === ErrorCode.SHUTTING_DOWN) continue;
        report.errors++;
        this.o.logger.error("housekeeping failed for partition; will retry next pass", {
          topic: p.topic,
          partition: p.id,
          err,
        });
      }
    }
    return report;
  }
}
