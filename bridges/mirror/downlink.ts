/**
 * The downlink of one link: central topics (e.g. `commands`) mirrored down
 * into edge topics, where the MQTT reverse mapping delivers them to devices.
 *
 * One loop per link fetches every downlink partition at its own offset
 * (explicit offsets, read_committed; no consumer group), appends what came
 * to the same partition number of the edge topic with acks=all, and only
 * then saves the new central position in `__mirror_progress`
 * (`down:{link}/{topic}/{partition}` → `{offset, edge}`).
 *
 * No loss, no duplicates across restarts: each edge record carries
 * `eddy.downlink.src` = `{link}/{topic}/{partition}` and
 * `eddy.downlink.offset` = its central offset. A crash between the edge
 * append and the progress write leaves the position behind; on resume the
 * edge records after the saved `edge` mark are scanned for our headers and
 * the position moves past the newest one found.
 */
import type { BrokerApi, RecordHeader, RecordInput } from "../../src/broker/index.ts";
import { ErrorCode, isEddyError } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import { downlinkEdgeTopic, type MirrorLinkConfig, StartPosition, topicMatcher } from "./config.ts";
import { downlinkProgressKey, type ProgressStore } from "./progress.ts";
import type { RemoteCluster } from "./remote.ts";
import { type FetchedPartition, KAFKA_OFFSET_OUT_OF_RANGE } from "./remote-fetch.ts";
import { sleep } from "../../src/util/sleep.ts";
import {
  type MirrorDownlinkPartitionStatus,
  type MirrorError,
  MirrorState,
  type SkippedRange,
} from "./status.ts";

export const HEADER_DOWN_SOURCE = "eddy.downlink.src";
export const HEADER_DOWN_OFFSET = "eddy.downlink.offset";
const MAX_SKIPPED_KEPT = 10;
const EDGE_SCAN_PAGE = 5000;

export interface DownlinkDeps {
  broker: BrokerApi;
  remote: RemoteCluster;
  progress: ProgressStore;
  config: MirrorLinkConfig;
  logger: Logger;
  clock: Clock;
}

interface DownPartition {
  topic: string;
  partition: number;
  edgeTopic: string;
  key: string;
  src: Uint8Array;
  next: number;
  state: MirrorState;
  remoteHw: number | null;
  received: number;
  receivedBytes: number;
  skippedRecords: number;
  skipped: SkippedRange[];
  lastError: MirrorError | null;
  lastReceivedAt: number | null;
}

export class Downlink {
  private readonly parts = new Map<string, DownPartition>();
  private readonly matches: (topic: string) => boolean;
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private readonly enc = new TextEncoder();
  private loop: Promise<void> | undefined;
  private discovering: Promise<void> | undefined;
  private backoffMs: number;

  constructor(private readonly d: DownlinkDeps) {
    this.matches = topicMatcher(d.config.downlink?.topics ?? []);
    this.log = d.logger.child({ link: d.config.name, direction: "down" });
    this.backoffMs = d.config.retry_backoff_ms;
  }

  /** Does this central topic come down into the edge? (used to keep the uplink from looping it back). */
  mirrorsCentralTopic(topic: string): boolean {
    return this.matches(topic);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.discovering;
  }

  /** Look for central topics (and partitions) to mirror down; errors are recorded, not thrown. */
  discover(): Promise<void> {
    this.discovering ??= this.discoverOnce().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  status(): MirrorDownlinkPartitionStatus[] {
    return [...this.parts.values()]
      .map((p) => ({
        remoteTopic: p.topic,
        partition: p.partition,
        edgeTopic: p.edgeTopic,
        state: p.state,
        mirroredOffset: p.next,
        remoteHighWatermark: p.remoteHw,
        lagRecords: p.remoteHw === null ? 0 : Math.max(0, p.remoteHw - p.next),
        receivedRecords: p.received,
        receivedBytes: p.receivedBytes,
        skippedRecords: p.skippedRecords,
        skipped: [...p.skipped],
        lastError: p.lastError,
        lastReceivedAt: p.lastReceivedAt,
      }))
      .sort((a, b) =>
        a.remoteTopic < b.remoteTopic ? -1 : a.remoteTopic > b.remoteTopic ? 1 : a.partition - b.partition,
      );
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const c = this.d.config;
    while (!this.stopped) {
      if (this.parts.size === 0) {
        await this.discover();
        if (this.parts.size === 0) await sleep(Math.min(c.discovery_interval_ms, 1000), this.abort.signal);
        continue;
      }
      try {
        const parts = [...this.parts.values()];
        const started = this.d.clock.monotonic();
        const results = await this.d.remote.fetch(
          parts.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.next })),
          { maxWaitMs: c.downlink?.poll_wait_ms ?? 500, maxBytes: c.batch.max_bytes },
        );
        if (this.stopped) return;
        let failed = false;
        await Promise.all(
          results.map(async (r) => {
            const p = this.parts.get(keyOf(r.topic, r.partition));
            if (p === undefined) return;
            await this.deliver(p, r).catch((err: unknown) => {
              failed = true;
              this.partitionFailed(p, err);
            });
          }),
        );
        const idle = results.every((r) => r.records.length === 0);
        const early = (c.downlink?.poll_wait_ms ?? 500) - (this.d.clock.monotonic() - started);
        if (!failed && results.length > 0 && idle && early > 1) {
          await sleep(early, this.abort.signal); // a server that answers at once when there is nothing: no busy loop
        }
        if (failed || results.length === 0) {
          await sleep(this.backoffMs, this.abort.signal);
          this.backoffMs = Math.min(this.backoffMs * 2, c.max_backoff_ms);
        } else {
          this.backoffMs = c.retry_backoff_ms;
        }
      } catch (err) {
        if (this.stopped) return;
        for (const p of this.parts.values())
          this.fail(p, err, "fetching from the central cluster failed; retrying");
        await sleep(this.backoffMs, this.abort.signal);
        this.backoffMs = Math.min(this.backoffMs * 2, c.max_backoff_ms);
      }
    }
  }

  /** Append fetched records to the edge (acks=all), then save the new central position. */
  private async deliver(p: DownPartition, r: FetchedPartition): Promise<void> {
    if (r.highWatermark >= 0) p.remoteHw = r.highWatermark;
    if (r.errorCode === KAFKA_OFFSET_OUT_OF_RANGE) {
      await this.outOfRange(p);
      return;
    }
    if (r.errorCode !== 0) {
      throw new Error(
        `central cluster answered the fetch of ${p.topic}-${p.partition} with Kafka error ${r.errorCode}`,
      );
    }
    if (r.records.length === 0) {
      if (r.nextOffset > p.next) await this.save(p, r.nextOffset); // control records only
      p.state = MirrorState.IDLE;
      return;
    }
    let bytes = 0;
    const records = r.records.map((rec): RecordInput => {
      const headers: RecordHeader[] = rec.headers.map(([k, v]) => ({
        key: k === null ? "" : k.toString("utf8"),
        value: v,
      }));
      headers.push(
        { key: HEADER_DOWN_SOURCE, value: p.src },
        { key: HEADER_DOWN_OFFSET, value: this.enc.encode(String(rec.offset)) },
      );
      bytes += (rec.key?.length ?? 0) + (rec.value?.length ?? 0);
      return { key: rec.key, value: rec.value, headers, timestamp: rec.timestamp };
    });
    const produced = await this.d.broker.produce({
      topic: p.edgeTopic,
      partition: p.partition,
      acks: -1,
      records,
    });
    const edgeAfter = (produced.partitions[0]?.lastOffset ?? -1) + 1;
    await this.save(p, r.nextOffset, edgeAfter);
    p.received += records.length;
    p.receivedBytes += bytes;
    p.lastReceivedAt = this.d.clock.now();
    if (p.state === MirrorState.DOWN)
      this.log.info("central cluster reachable again; resuming", { topic: p.topic });
    p.state = MirrorState.FORWARDING;
    p.lastError = null;
  }

  /** Central retention deleted offsets the edge had not received: say which, move to the earliest. */
  private async outOfRange(p: DownPartition): Promise<void> {
    const earliest = await this.d.remote.offsetOf(p.topic, p.partition, "earliest");
    if (earliest <= p.next) {
      throw new Error(
        `central partition ${p.topic}-${p.partition} ends before offset ${p.next} that this link has reached (was it deleted and re-created?); remove the key '${p.key}' from __mirror_progress to start over`,
      );
    }
    const range: SkippedRange = { from: p.next, to: earliest, at: this.d.clock.now() };
    p.skipped.push(range);
    if (p.skipped.length > MAX_SKIPPED_KEPT) p.skipped.shift();
    p.skippedRecords += range.to - range.from;
    p.lastError = {
      message: `central retention deleted offsets ${range.from}..${range.to - 1} of ${p.topic}-${p.partition} before they came down`,
      at: range.at,
    };
    this.log.error(
      "central retention deleted records before the downlink fetched them; they never reach the edge",
      {
        topic: p.topic,
        partition: p.partition,
        skippedFrom: range.from,
        skippedTo: range.to,
      },
    );
    await this.save(p, earliest);
  }

  private async save(p: DownPartition, offset: number, edge?: number): Promise<void> {
    const edgeMark = edge ?? this.d.broker.partitionState(p.edgeTopic, p.partition).highWatermark;
    await this.d.progress.saveEntry(p.key, { offset, edge: edgeMark });
    p.next = offset;
  }

  private partitionFailed(p: DownPartition, err: unknown): void {
    if (
      isEddyError(err) &&
      (err.code === ErrorCode.TOPIC_NOT_FOUND || err.code === ErrorCode.PARTITION_NOT_FOUND)
    ) {
      // The edge topic was deleted: forget the partition; discovery creates the topic again.
      this.parts.delete(keyOf(p.topic, p.partition));
      this.log.warn("edge topic of a downlink partition is gone; it starts over at the next discovery", {
        topic: p.topic,
        edgeTopic: p.edgeTopic,
      });
      void this.d.progress.remove(p.key).catch(() => {});
      return;
    }
    this.fail(p, err, "delivering downlink records into the edge failed; retrying");
  }

  private fail(p: DownPartition, err: unknown, what: string): void {
    const message = err instanceof Error ? err.message : String(err);
    const repeated = p.state === MirrorState.DOWN && p.lastError?.message === message;
    p.state = MirrorState.DOWN;
    p.lastError = { message, at: this.d.clock.now() };
    const fields = { err: message, topic: p.topic, partition: p.partition, mirroredOffset: p.next };
    if (repeated) this.log.debug(what, fields);
    else this.log.warn(what, fields);
  }

  private async discoverOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      const topics = (await this.d.remote.listTopics()).filter((t) => this.matches(t)).sort();
      for (const topic of topics) {
        const count = await this.d.remote.topicPartitions(topic);
        if (count === 0 || this.stopped) continue;
        const edgeTopic = downlinkEdgeTopic(this.d.config, topic);
        await this.ensureEdgeTopic(edgeTopic, count);
        for (let partition = 0; partition < count; partition++) {
          if (this.stopped || this.parts.has(keyOf(topic, partition))) continue;
          const p = await this.initPartition(topic, partition, edgeTopic);
          this.parts.set(keyOf(topic, partition), p);
        }
      }
    } catch (err) {
      if (this.stopped) return;
      const message = err instanceof Error ? err.message : String(err);
      for (const p of this.parts.values()) this.fail(p, err, "downlink discovery failed; will retry");
      this.log.warn("downlink discovery failed; will retry", { err: message });
    }
  }

  private async ensureEdgeTopic(name: string, partitions: number): Promise<void> {
    let have = 0;
    try {
      have = (await this.d.broker.describeTopic(name)).partitions.length;
    } catch (err) {
      if (!isEddyError(err) || err.code !== ErrorCode.TOPIC_NOT_FOUND) throw err;
      try {
        await this.d.broker.createTopic({ name, partitions });
        this.log.info("created edge topic for the downlink", { topic: name, partitions });
        return;
      } catch (createErr) {
        if (!isEddyError(createErr) || createErr.code !== ErrorCode.TOPIC_EXISTS) throw createErr;
        have = (await this.d.broker.describeTopic(name)).partitions.length;
      }
    }
    if (have < partitions) await this.d.broker.createPartitions(name, partitions);
  }

  private async initPartition(topic: string, partition: number, edgeTopic: string): Promise<DownPartition> {
    const key = downlinkProgressKey(this.d.config.name, topic, partition);
    const p: DownPartition = {
      topic,
      partition,
      edgeTopic,
      key,
      src: this.enc.encode(`${this.d.config.name}/${topic}/${partition}`),
      next: 0,
      state: MirrorState.CONNECTING,
      remoteHw: null,
      received: 0,
      receivedBytes: 0,
      skippedRecords: 0,
      skipped: [],
      lastError: null,
      lastReceivedAt: null,
    };
    const stored = this.d.progress.entry(key);
    let scanFrom: number;
    if (stored !== undefined) {
      p.next = stored.offset;
      scanFrom = stored.edge ?? 0;
    } else {
      const latest = this.d.config.downlink?.start_position !== StartPosition.EARLIEST;
      const start = await this.d.remote.offsetOf(topic, partition, latest ? "latest" : "earliest");
      scanFrom = this.d.broker.partitionState(edgeTopic, partition).highWatermark;
      await this.d.progress.saveEntry(key, { offset: start, edge: scanFrom });
      p.next = start;
    }
    const found = await this.lastDelivered(edgeTopic, partition, scanFrom, p.src);
    if (found !== null && found + 1 > p.next) {
      this.log.info("the edge already has downlink records past the saved position; resuming after them", {
        topic,
        partition,
        from: p.next,
        to: found + 1,
      });
      await this.save(p, found + 1);
    }
    return p;
  }

  /** The newest central offset of `src` among edge records from `from` on (bounded: only what came after the last save). */
  private async lastDelivered(
    edgeTopic: string,
    partition: number,
    from: number,
    src: Uint8Array,
  ): Promise<number | null> {
    const state = this.d.broker.partitionState(edgeTopic, partition);
    let offset = Math.max(from, state.logStartOffset);
    const want = Buffer.from(src);
    let best: number | null = null;
    while (offset < state.highWatermark) {
      const page = await this.d.broker.readRecords({
        topic: edgeTopic,
        partition,
        offset,
        maxRecords: EDGE_SCAN_PAGE,
      });
      for (const r of page.records) {
        let mine = false;
        let central = -1;
        for (const h of r.headers) {
          if (h.key === HEADER_DOWN_SOURCE && h.value !== null && want.equals(h.value)) mine = true;
          else if (h.key === HEADER_DOWN_OFFSET && h.value !== null)
            central = Number(Buffer.from(h.value).toString());
        }
        if (mine && Number.isSafeInteger(central) && (best === null || central > best)) best = central;
      }
      if (page.nextOffset <= offset) break;
      offset = page.nextOffset;
    }
    return best;
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}
