/**
 * One edge partition's forwarder: read records from the edge log
 * (BrokerApi.readRecords), send them to the central cluster (acks=all, in the
 * link's transactions, see txn-sender.ts), and only after their transaction
 * committed persist the new position in `__mirror_progress` and move the
 * retention floor up to it.
 *
 * Exactly-once across outages, restarts and leadership changes: a send whose
 * outcome is unknown (error, timeout, crash before the progress write) may
 * have reached central. Before sending again, the forwarder fences every
 * older holder of the partition's transactional.id (this process's replaced
 * producer, an earlier run, or the partition's previous leader on an edge
 * cluster: their open transaction is aborted and nothing they send later can
 * commit) and reconciles: it scans the committed tail of the remote
 * partition(s) for the newest record carrying its own `eddy.mirror.src`
 * header and resumes after that record's `eddy.mirror.offset`. Records below
 * the persisted progress are never sent again; records above it are sent
 * only if central does not have them committed. A partition that central
 * keeps rejecting fails only its own transactions: it retries alone, with
 * backoff (`failedAttempts` in its status), and the others go on.
 *
 * Edge cluster: every record also carries the edge leader epoch it was sent
 * under. If the scan finds a newer epoch than this node's, a newer leader has
 * taken the partition over while this node still thinks it leads (cut off
 * from the controller): the forwarder stands down (sends and fences nothing)
 * until this node leads under a newer epoch, or the link stops it.
 *
 * If size retention deleted owed records anyway (the operator's disk cap),
 * the forwarder logs the exact skipped range, records it in its status and
 * moves on from the new log start.
 */
import type { BrokerApi, StoredRecord } from "../../src/broker/index.ts";
import { ErrorCode, isEddyError } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import { type MirrorLinkConfig, PartitionMapping, StartPosition } from "./config.ts";
import type { SendGate } from "./gate.ts";
import { sleep } from "../../src/util/sleep.ts";
import type { ProgressStore } from "./progress.ts";
import { toRemoteMessages } from "./messages.ts";
import type { RemoteCluster, RemoteMessage } from "./remote.ts";
import type { TxnChannel } from "./txn-channel.ts";
import { type MirrorError, type MirrorPartitionStatus, MirrorState, type SkippedRange } from "./status.ts";
import { errorText, isFencedError } from "./error-text.ts";

const IDLE_POLL_MS = 500;
/**
 * Cluster mode: after another holder of the partition's transactional.id
 * fenced us, wait this long before fencing back, so that a new leader's
 * first transaction commits and our next scan sees its newer epoch (else two
 * nodes that both think they lead keep aborting each other's transactions).
 */
const FENCED_YIELD_MS = 1_000;
/** How long stop() waits for the last progress write. */
const STOP_SAVE_WAIT_MS = 1_000;
type Page = Awaited<ReturnType<BrokerApi["readRecords"]>>;
const MAX_SKIPPED_KEPT = 10;

export interface ForwarderDeps {
  broker: BrokerApi;
  remote: RemoteCluster;
  progress: ProgressStore;
  gate: SendGate;
  config: MirrorLinkConfig;
  logger: Logger;
  clock: Clock;
  /** `{source.id}` of this edge. */
  sourceId: string;
  /** Called once when the edge partition is gone (topic deleted); the forwarder has stopped. */
  onGone?: () => void;
  /** Cluster mode: does this node still lead the partition? Nothing is sent while it does not. */
  leads?: (() => boolean) | undefined;
  /** The partition's transactional.id at central (`transactionalIdOf` in link.ts). */
  transactionalId: string;
}

export interface ForwarderTarget {
  topic: string;
  /** The edge topic's id (tells a re-created topic of the same name apart). */
  topicId: string;
  partition: number;
  remoteTopic: string;
  priority: number;
}

export class PartitionForwarder {
  private state: MirrorState = MirrorState.CONNECTING;
  /** Durable progress: everything below it was acknowledged by central and the position is saved. */
  private next = 0;
  /** Everything below it was committed at central (its progress write may still be on the way). */
  private committedPos = 0;
  /** Everything below it was produced (acknowledged inside a transaction that may not have committed yet). */
  private sendPos = 0;
  /** Settles (never rejects) once the commit of the last produced chunk is decided. */
  private lastCommit: Promise<void> = Promise.resolve();
  private commitError: { err: unknown; generation: number } | null = null;
  private saving: Promise<void> = Promise.resolve();
  private saveError: unknown = null;
  private prefetch: Promise<Page | null> | null = null;
  private lastError: MirrorError | null = null;
  private lastSentAt: number | null = null;
  private sentRecords = 0;
  private sentBytes = 0;
  private skippedRecords = 0;
  private readonly skipped: SkippedRange[] = [];
  private owedTimestamp: number | null = null;
  private backoffMs: number;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private ready: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly source: Buffer;
  private readonly owner: string;
  private readonly channel: TxnChannel;
  /** Failed attempts in a row (reconcile, produce, commit) since the last acknowledged send. */
  private failedAttempts = 0;
  /** Cluster mode: a newer edge leader epoch found at central; nothing is sent until this node leads under a newer one. */
  private deposedBy: number | null = null;

  constructor(
    private readonly d: ForwarderDeps,
    readonly target: ForwarderTarget,
  ) {
    this.log = d.logger.child({ link: d.config.name, topic: target.topic, partition: target.partition });
    this.source = Buffer.from(`${d.sourceId}/${target.topic}/${target.partition}`);
    this.owner = `mirror:${d.config.name}`;
    this.backoffMs = d.config.retry_backoff_ms;
    this.channel = d.remote.channel(d.transactionalId);
  }

  /** Start forwarding; resolves once the retention floor is set (the central cluster need not answer). */
  start(): Promise<void> {
    if (this.ready === undefined) {
      let initialised!: () => void;
      this.ready = new Promise<void>((resolve) => {
        initialised = resolve;
      });
      this.loop = this.run(initialised);
    }
    return this.ready;
  }

  /** Stop; with `releaseFloor` also drop this link's retention floor (the link is going away). */
  async stop(opts: { releaseFloor?: boolean } = {}): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.lastCommit;
    // A progress write the edge cannot complete (a cut-off node) is not waited for: it is only a
    // lower bound of what central holds, and the next owner reconciles from central anyway.
    await Promise.race([this.saving, sleep(STOP_SAVE_WAIT_MS)]);
    await this.channel.close();
    if (opts.releaseFloor) this.releaseFloor();
  }

  status(): MirrorPartitionStatus {
    const t = this.target;
    let highWatermark = this.next;
    try {
      highWatermark = this.d.broker.partitionState(t.topic, t.partition).highWatermark;
    } catch {
      // topic deleted or broker closing: report what we know
    }
    const lagRecords = Math.max(0, highWatermark - this.next);
    const avg = this.sentRecords > 0 ? this.sentBytes / this.sentRecords : 0;
    return {
      topic: t.topic,
      partition: t.partition,
      remoteTopic: t.remoteTopic,
      remotePartition: this.sameMapping() ? t.partition : null,
      priority: t.priority,
      state: this.state,
      mirroredOffset: this.next,
      highWatermark,
      lagRecords,
      lagBytes: Math.round(lagRecords * avg),
      lagAgeMs:
        lagRecords > 0 && this.owedTimestamp !== null
          ? Math.max(0, this.d.clock.now() - this.owedTimestamp)
          : 0,
      sentRecords: this.sentRecords,
      sentBytes: this.sentBytes,
      skippedRecords: this.skippedRecords,
      skipped: [...this.skipped],
      lastError: this.lastError,
      lastSentAt: this.lastSentAt,
      failedAttempts: this.failedAttempts,
    };
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private sameMapping(): boolean {
    return this.d.config.partition_mapping === PartitionMapping.SAME;
  }

  private async run(initialised: () => void): Promise<void> {
    try {
      try {
        await this.init();
      } finally {
        initialised();
      }
      await this.reconcile();
      while (!this.stopped) await this.step();
    } catch (err) {
      if (this.stopped) return;
      if (isGone(err)) {
        this.abort.abort();
        void this.channel.close();
        this.releaseFloor();
        this.log.info("edge topic deleted; its mirror forwarder stopped", { mirroredOffset: this.next });
        this.d.onGone?.();
        return;
      }
      void this.channel.close();
      this.fail(err, "mirror forwarder stopped on an unexpected error; restart the link");
    }
  }

  private releaseFloor(): void {
    try {
      this.d.broker.setRetentionFloor(this.target.topic, this.target.partition, this.owner, null);
    } catch {
      // the topic is gone (or the broker closing): nothing is held
    }
  }

  private async init(): Promise<void> {
    const t = this.target;
    const stored = this.d.progress.get(this.d.config.name, t.topic, t.partition);
    const state = this.d.broker.partitionState(t.topic, t.partition);
    if (stored !== undefined) {
      this.next = stored;
    } else {
      this.next =
        this.d.config.start_position === StartPosition.LATEST ? state.highWatermark : state.logStartOffset;
      await this.d.progress.save(this.d.config.name, t.topic, t.partition, this.next);
    }
    this.sendPos = this.next;
    this.committedPos = this.next;
    this.d.broker.setRetentionFloor(t.topic, t.partition, this.owner, this.next);
  }

  /** Find what central already has from us; retry until it answers. */
  private async reconcile(): Promise<void> {
    const t = this.target;
    while (!this.stopped) {
      const { leaderEpoch } = this.d.broker.partitionState(t.topic, t.partition); // throws once the edge topic is deleted
      if (this.d.leads !== undefined && (!this.d.leads() || (this.deposedBy ?? -1) >= leaderEpoch)) {
        // Led elsewhere (the link stops this forwarder), or a newer leader forwards it: fence nothing.
        await sleep(IDLE_POLL_MS, this.abort.signal);
        continue;
      }
      this.deposedBy = null;
      try {
        const need = this.sameMapping() ? t.partition + 1 : 1;
        const info = await this.d.remote.ensureTopic(t.remoteTopic, need);
        if (info.partitions < need) {
          throw new Error(
            `central topic '${t.remoteTopic}' has ${info.partitions} partitions but partition ${t.partition} is mirrored with partition_mapping "same": add partitions on the central cluster or use "by-key"`,
          );
        }
        // Fence older holders of the partition's transactional.id before the scan: their open
        // transaction is aborted, so what they sent and nobody heard back about cannot become visible.
        await this.channel.fence();
        const found = await this.d.remote.lastMirrored({
          topic: t.remoteTopic,
          partitions: this.sameMapping() ? [t.partition] : range(info.partitions),
          source: this.source.toString(),
          edgeTopicId: t.topicId,
          scanLimit: this.d.config.reconcile_scan_records,
        });
        if (found?.epoch != null && this.d.leads !== undefined && found.epoch > leaderEpoch) {
          await this.standDown(found.epoch, leaderEpoch);
          continue;
        }
        if (found !== null && found.offset + 1 > this.committedPos) {
          this.log.info("central already has records this link had not recorded; resuming after them", {
            from: this.committedPos,
            to: found.offset + 1,
          });
          // Committed at central: go on from there; the position is saved in the background, in order.
          this.committedPos = found.offset + 1;
          this.sendPos = this.committedPos;
          this.queueSave(this.committedPos);
        }
        if (this.state === MirrorState.DOWN) {
          this.log.info("central cluster reachable again; resuming", { mirroredOffset: this.next });
        }
        this.state = MirrorState.IDLE;
        return; // the backoff resets on the next acknowledged send, not here (a poisoned partition backs off)
      } catch (err) {
        if (this.stopped) return;
        this.fail(err, "cannot reach the central cluster; retrying");
        await this.backoff();
      }
    }
  }

  /**
   * Central holds records of this partition sent under a newer edge leader
   * epoch: another node leads it now, although this one has not heard (cut
   * off from the controller). Our fence just now may have aborted one open
   * transaction of the new leader, which it recovers from by fencing us
   * again; from here on we send and fence nothing until this node leads the
   * partition under a newer epoch.
   */
  private async standDown(newer: number, ours: number): Promise<void> {
    this.deposedBy = newer;
    this.sendPos = this.committedPos;
    // The new leader fences this producer again; should this node lead once more, it starts with a fresh one.
    await this.channel.reset(this.channel.generation);
    const message = `node with edge leader epoch ${newer} forwards this partition now (this node's epoch is ${ours}): standing down until this node leads it again`;
    if (this.lastError?.message !== message) this.log.warn(message, { mirroredOffset: this.next });
    this.state = MirrorState.DOWN;
    this.lastError = { message, at: this.d.clock.now() };
  }

  /**
   * One batch: read (or take the batch read ahead), produce it with acks=all
   * into the link's open transaction, and queue the progress write for when
   * the transaction commits. While a batch is on the wire the next one is
   * read from the edge; once it is acknowledged the next one may join the
   * same transaction; one produce per partition is in flight, so records
   * reach central in edge order whatever the server.
   */
  private async step(): Promise<void> {
    const t = this.target;
    const c = this.d.config;
    if (this.saveError !== null) {
      // The edge could not store the position (a progress-topic leader change, a cut-off node):
      // nothing is lost (central committed the records), so retry the write and go on.
      const err = this.saveError;
      this.saveError = null;
      this.fail(err, "could not save the mirror position at the edge; retrying");
      await this.backoff();
      this.queueSave(this.committedPos);
      return;
    }
    if (this.commitError !== null) {
      const { err, generation } = this.commitError;
      await this.recover(err, generation);
      return;
    }
    let page: Page | null;
    if (this.prefetch !== null) {
      page = await this.prefetch;
      this.prefetch = null;
    } else {
      await this.checkSkipped();
      page = await this.read(this.sendPos, IDLE_POLL_MS);
    }
    if (page === null || this.stopped) return;
    if (page.records.length === 0) {
      await this.lastCommit; // caught up: let the open transaction commit, then make the position durable
      if (this.commitError !== null) return;
      if (page.nextOffset > this.sendPos) {
        // only control records: nothing to send
        this.sendPos = page.nextOffset;
        this.committedPos = Math.max(this.committedPos, page.nextOffset);
        this.queueSave(page.nextOffset);
      }
      await this.saving;
      this.owedTimestamp = null;
      if (this.state !== MirrorState.DOWN) {
        this.state = MirrorState.IDLE;
        this.failedAttempts = 0;
      }
      return;
    }
    let records = page.records;
    let nextOffset = page.nextOffset;
    let highWatermark = page.highWatermark;
    if (records.length < c.batch.max_records && c.batch.linger_ms > 0) {
      await sleep(c.batch.linger_ms, this.abort.signal);
      const more = await this.d.broker.readRecords({
        topic: t.topic,
        partition: t.partition,
        offset: nextOffset,
        maxRecords: c.batch.max_records - records.length,
        maxBytes: c.batch.max_bytes,
      });
      records = records.concat(more.records);
      nextOffset = more.nextOffset;
      highWatermark = more.highWatermark;
    }
    this.owedTimestamp = records[0]?.timestamp ?? null;
    if (this.d.leads !== undefined && !this.d.leads()) {
      // Led elsewhere now: send nothing more (the link stops this forwarder; the new leader goes on).
      await this.dropPrefetch();
      await sleep(IDLE_POLL_MS, this.abort.signal);
      return;
    }
    const { messages, bytes } = this.toMessages(records);
    const release = await this.d.gate.acquire(t.priority, bytes);
    // A backlog: the next chunk follows right after this one is produced (it may join the same transaction).
    const ticket = this.channel.submit(messages, { more: nextOffset < highWatermark });
    const ahead = this.read(nextOffset, 0);
    ahead.catch(() => {}); // awaited (and its error seen) by the next step
    this.prefetch = ahead;
    try {
      await ticket.produced;
    } catch (err) {
      release();
      await this.recover(err, ticket.generation);
      return;
    }
    release();
    this.sentRecords += records.length;
    this.sentBytes += bytes;
    this.lastSentAt = this.d.clock.now();
    this.lastError = null;
    this.failedAttempts = 0;
    this.backoffMs = c.retry_backoff_ms;
    this.sendPos = nextOffset;
    this.lastCommit = ticket.committed.then(
      () => {
        this.committedPos = Math.max(this.committedPos, nextOffset);
        this.queueSave(nextOffset);
      },
      (err: unknown) => {
        this.commitError ??= { err, generation: ticket.generation };
      },
    );
    this.state = MirrorState.FORWARDING;
  }

  /**
   * A produce or commit failed: what was produced in the open transaction is
   * in doubt. Wait for every outstanding commit to be decided, go back to the
   * committed position, replace the producer, and reconcile (which fences
   * the old producer before scanning central).
   */
  private async dropPrefetch(): Promise<void> {
    const ahead = this.prefetch;
    this.prefetch = null;
    await ahead?.catch(() => null);
  }

  private async recover(err: unknown, generation: number): Promise<void> {
    await this.dropPrefetch();
    await this.lastCommit;
    this.commitError = null;
    this.sendPos = this.committedPos;
    if (this.stopped) return;
    this.fail(err, "sending to the central cluster failed; will reconcile and retry");
    await this.channel.reset(generation);
    if (this.d.leads !== undefined && isFencedError(err)) await sleep(FENCED_YIELD_MS, this.abort.signal);
    await this.backoff();
    await this.reconcile();
  }

  /** Committed records from `offset`, or null after an out-of-range read (handled here, never spinning). */
  private async read(offset: number, maxWaitMs: number): Promise<Page | null> {
    const t = this.target;
    const c = this.d.config;
    try {
      return await this.d.broker.readRecords({
        topic: t.topic,
        partition: t.partition,
        offset,
        maxRecords: c.batch.max_records,
        maxBytes: c.batch.max_bytes,
        maxWaitMs,
        signal: this.abort.signal,
      });
    } catch (err) {
      if (!isEddyError(err) || err.code !== ErrorCode.OFFSET_OUT_OF_RANGE) throw err;
      // Below the log start: checkSkipped moves on next time. Past the end: the edge log lost records
      // we had already mirrored (restored from an older backup?); wait for new ones, never spin.
      const { highWatermark } = this.d.broker.partitionState(t.topic, t.partition);
      if (offset > highWatermark) {
        this.fail(
          err,
          `the edge log ends at ${highWatermark}, before the mirrored position ${offset}; records up to ${offset} are not sent again`,
        );
      }
      await sleep(IDLE_POLL_MS, this.abort.signal);
      return null;
    }
  }

  /** Central committed everything below `offset`: persist it in the background (in order). */
  private queueSave(offset: number): void {
    this.saving = this.saving
      .then(() => this.advance(offset))
      .catch((err: unknown) => {
        this.saveError ??= err;
      });
  }

  /** Persist the new position (central acknowledged everything below it), then raise the floor. */
  private async advance(offset: number): Promise<void> {
    const t = this.target;
    await this.d.progress.save(this.d.config.name, t.topic, t.partition, offset);
    this.next = Math.max(this.next, offset);
    if (this.committedPos < this.next) this.committedPos = this.next;
    if (this.sendPos < this.next) this.sendPos = this.next;
    this.d.broker.setRetentionFloor(t.topic, t.partition, this.owner, this.next);
  }

  /** Retention (forced by size) deleted records we still owed: say exactly which, then go on. */
  private async checkSkipped(): Promise<void> {
    const t = this.target;
    const { logStartOffset } = this.d.broker.partitionState(t.topic, t.partition);
    if (logStartOffset <= this.sendPos) return;
    await this.lastCommit;
    await this.saving;
    const range: SkippedRange = { from: this.sendPos, to: logStartOffset, at: this.d.clock.now() };
    this.skipped.push(range);
    if (this.skipped.length > MAX_SKIPPED_KEPT) this.skipped.shift();
    this.skippedRecords += range.to - range.from;
    this.log.error(
      "retention deleted records before the mirror delivered them; they are lost for the central cluster. Raise retention.bytes or the disk cap",
      { skippedFrom: range.from, skippedTo: range.to, skippedRecords: range.to - range.from },
    );
    this.lastError = {
      message: `retention deleted offsets ${range.from}..${range.to - 1} before they were mirrored`,
      at: range.at,
    };
    await this.advance(logStartOffset);
  }

  private toMessages(records: StoredRecord[]): { messages: RemoteMessage[]; bytes: number } {
    const t = this.target;
    return toRemoteMessages(records, {
      remoteTopic: t.remoteTopic,
      partition: this.sameMapping() ? t.partition : undefined,
      source: this.source,
      topicId: t.topicId,
      // Cluster mode: the edge leader epoch this node sends under (a deposed leader sees a newer one at central).
      epoch:
        this.d.leads === undefined ? null : this.d.broker.partitionState(t.topic, t.partition).leaderEpoch,
    });
  }

  private fail(err: unknown, what: string): void {
    const message = errorText(err);
    const repeated = this.state === MirrorState.DOWN && this.lastError?.message === message;
    this.failedAttempts++;
    this.state = MirrorState.DOWN;
    this.lastError = { message, at: this.d.clock.now() };
    // Loud once per new failure; quiet while the same outage goes on.
    const fields = { err: message, mirroredOffset: this.next };
    if (repeated) this.log.debug(what, fields);
    else this.log.warn(what, fields);
  }

  private async backoff(): Promise<void> {
    await sleep(this.backoffMs, this.abort.signal);
    this.backoffMs = Math.min(this.backoffMs * 2, this.d.config.max_backoff_ms);
  }
}

function isGone(err: unknown): boolean {
  return (
    isEddyError(err) && (err.code === ErrorCode.TOPIC_NOT_FOUND || err.code === ErrorCode.PARTITION_NOT_FOUND)
  );
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
