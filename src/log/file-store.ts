/**
 * LogStore over one data directory: one FileLog per `<topic>-<partition>`
 * directory, all sharing one group-commit loop.
 */
import fs from "node:fs";
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { FileLog } from "./file-log.ts";
import { parsePartitionDirName, partitionDirName } from "./format.ts";
import { GroupCommitter } from "./group-commit.ts";
import { defaultIo, type LogIo } from "./io.ts";
import type { LogConfig, LogObserver, LogStore, PartitionLog } from "./types.ts";

export interface FileLogStoreOptions {
  dataDir: string;
  clock: Clock;
  logger: Logger;
  observer?: LogObserver;
  /** Background flush period of write-policy logs, ms (default 5). */
  flushIntervalMs?: number;
  /** Flush early once this many bytes wait (default 1 MiB). */
  flushBytes?: number;
  /** Background flush period of memory-policy logs, ms (default 1000). */
  lazyFlushMs?: number;
  /** Recovery-point checkpoint period, ms (default 5000). */
  checkpointIntervalMs?: number;
  /** Replace file operations (tests: a full disk, a failing fsync). */
  io?: Partial<LogIo>;
}

export interface FileLogStore extends LogStore {
  readonly dataDir: string;
  /**
   * For crash tests only: drop every log as a killed process would — close
   * the file descriptors, write no checkpoint and no clean-shutdown marker.
   */
  abandon(): void;
}

export function createFileLogStore(opts: FileLogStoreOptions): FileLogStore {
  return new Store(opts);
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function validate(topic: string, partition: number): void {
  if (
    topic.length === 0 ||
    topic.length > 249 ||
    !/^[A-Za-z0-9._-]+$/.test(topic) ||
    topic === "." ||
    topic === ".."
  ) {
    throw new EddyError(
      ErrorCode.INVALID_TOPIC,
      `invalid topic name ${JSON.stringify(topic)}: use 1-249 characters from [A-Za-z0-9._-], not "." or ".."`,
    );
  }
  if (!Number.isInteger(partition) || partition < 0 || partition > 999_999_999) {
    throw new EddyError(ErrorCode.INVALID_PARTITIONS, `invalid partition ${partition}: use an integer >= 0`);
  }
}

class Store implements FileLogStore {
  readonly dataDir: string;
  private readonly logs = new Map<string, FileLog>();
  private readonly committer: GroupCommitter;
  private readonly io: LogIo;
  private closed = false;

  constructor(private readonly opts: FileLogStoreOptions) {
    this.dataDir = opts.dataDir;
    fs.mkdirSync(opts.dataDir, { recursive: true });
    this.io = { ...defaultIo, ...opts.io };
    this.committer = new GroupCommitter({
      clock: opts.clock,
      logger: opts.logger,
      io: this.io,
      observer: opts.observer,
      flushIntervalMs: opts.flushIntervalMs,
      flushBytes: opts.flushBytes,
      lazyFlushMs: opts.lazyFlushMs,
      checkpointIntervalMs: opts.checkpointIntervalMs,
    });
  }

  async open(topic: string, partition: number, config: LogConfig): Promise<PartitionLog> {
    if (this.closed) throw new EddyError(ErrorCode.SHUTTING_DOWN, "the log store is closed");
    validate(topic, partition);
    const k = key(topic, partition);
    const existing = this.logs.get(k);
    if (existing) {
      existing.reconfigure(config);
      return existing;
    }
    let log: FileLog;
    try {
      log = new FileLog({
        dir: `${this.dataDir}/${partitionDirName(topic, partition)}`,
        topic,
        partition,
        config,
        clock: this.opts.clock,
        logger: this.opts.logger.child({ topic, partition }),
        io: this.io,
        committer: this.committer,
        observer: this.opts.observer,
        onClosed: (l) => {
          if (this.logs.get(k) === l) this.logs.delete(k);
        },
      });
    } catch (err) {
      throw toEddyError(err);
    }
    this.logs.set(k, log);
    return log;
  }

  async list(): Promise<Array<{ topic: string; partition: number }>> {
    const out = new Map<string, { topic: string; partition: number }>();
    for (const entry of fs.readdirSync(this.dataDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const parsed = parsePartitionDirName(entry.name);
      if (parsed) out.set(key(parsed.topic, parsed.partition), parsed);
    }
    for (const log of this.logs.values())
      out.set(key(log.topic, log.partition), { topic: log.topic, partition: log.partition });
    return [...out.values()];
  }

  abandon(): void {
    this.closed = true;
    this.committer.stop();
    for (const log of [...this.logs.values()]) log.abandon();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    for (const log of [...this.logs.values()]) {
      try {
        await log.close();
      } catch (err) {
        errors.push(err);
        this.opts.logger.error("could not close a partition log cleanly", {
          topic: log.topic,
          partition: log.partition,
          error: err,
        });
      }
    }
    await this.committer.close();
    if (errors.length > 0) throw toEddyError(errors[0]);
  }
}
