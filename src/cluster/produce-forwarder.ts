/**
 * Produce forwarding (cluster mode): MQTT, CoAP, HTTP and the mirror
 * downlink may run on any node, so a produce (or appendBatch) on a node
 * that does not lead the partition is carried to the leader over the peer
 * transport (POST /broker/v1/produce) instead of failing NOT_LEADER. The
 * Kafka frontend opts out (`requireLeader`, src/broker/types.ts): Kafka
 * clients route themselves by Metadata.
 *
 * - Exactly once across retries: batches without a producer id are stamped
 *   with this node's own idempotent producer (one producer id per partition,
 *   from the transaction coordinator, sequences in send order), so a retry
 *   after a lost answer or a leader change is recognised as a duplicate by
 *   the leader, or by the new leader (followers keep producer state).
 *   Batches that already carry a producer id are sent as they are: the
 *   caller's idempotence protects them. After a failure that is given up
 *   on, the partition's forwarding producer is dropped (the next send starts
 *   a fresh producer id, so an unknown outcome never causes a sequence gap).
 * - Order: one send at a time per partition from this node (sequence order
 *   = arrival order); several batches of one call travel in one request
 *   when they fit (bodies stay under the transport's 1 MiB request limit;
 *   larger single batches are refused with RECORD_TOO_LARGE).
 * - Leader changes: the leader is taken from this node's metadata; NOT_LEADER,
 *   FENCED_LEADER_EPOCH, SHUTTING_DOWN and transport failures are retried
 *   with a refreshed leader after a short pause until the request's timeout
 *   (leader unknown: wait, as Kafka clients do); an in-flight request is
 *   abandoned (and resent) as soon as the metadata names another leader.
 *   If leadership moves to this node, the batches are appended here.
 * - acks: acks=1/-1 are carried to the leader and waited for there
 *   (acks=all: the ISR, min.insync.replicas). acks=0 through a forwarding
 *   node waits until the leader has committed the records (this node cannot
 *   otherwise tell when they become visible; bridges that watch the high
 *   watermark must never acknowledge early). Afterwards, when this node is
 *   an in-sync replica, it waits briefly for its own high watermark to reach
 *   the records (read-your-writes on this node; best effort).
 */
import { withTimeout, DEFAULT_PRODUCE_TIMEOUT_MS } from "../broker/acks.ts";
import { appendBatch } from "../broker/append-batch.ts";
import type { BrokerContext } from "../broker/context.ts";
import type { Partition } from "../broker/partition.ts";
import type { Acks, AppendBatchRequest, AppendBatchResult } from "../broker/types.ts";
import { partitionKey } from "../broker/waiters.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import { readBatchHeader } from "../log/record-batch.ts";
import { crc32c } from "../util/crc32c.ts";
import { currentPartition, isRetriableForward, pauseBeforeRetry } from "./forward-retry.ts";
import { decodeJson, encodeJson, type PeerCall, PeerPath, type PeerRpc } from "./peer-protocol.ts";

/** Largest forwarded request body (the peer server accepts 1 MiB; room for the header). */
export const FORWARD_MAX_BODY_BYTES = 1024 * 1024 - 16 * 1024;
/** produce() plans forwarded partitions' batches no larger than this. */
export const FORWARD_MAX_BATCH_BYTES = FORWARD_MAX_BODY_BYTES;
/** How often an in-flight forward checks whether the metadata names another leader. */
const LEADER_WATCH_MS = 50;
/** Read-your-writes wait for this node's own high watermark (best effort). */
const LOCAL_CATCH_UP_MAX_MS = 2_000;
const INT32_MAX = 2147483647;

export interface ForwardRequest {
  topic: string;
  partition: number;
  /** RecordBatch v2 bytes, appended in order. */
  batches: Uint8Array[];
  acks: Acks;
  timeoutMs?: number | undefined;
}

/** The wire header of a forwarded produce (followed by the batches' bytes). */
interface ForwardHeader {
  topic: string;
  partition: number;
  acks: Acks;
  timeoutMs: number;
  /** The leader epoch the forwarding node believes current (KIP-320 check at the leader). */
  leaderEpoch: number;
  sizes: number[];
}

interface ForwardSession {
  producerId: number;
  producerEpoch: number;
  nextSeq: number;
}

export interface ProduceForwarderOptions {
  nodeId: number;
  ctx: () => BrokerContext;
  rpc: PeerRpc;
}

export class ProduceForwarder {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly sessions = new Map<string, ForwardSession>();

  constructor(private readonly o: ProduceForwarderOptions) {}

  /** Forward unless the caller requires the leader, or this node leads (then the caller appends here). */
  shouldForward(partition: Partition, requireLeader: boolean | undefined): boolean {
    return requireLeader !== true && !partition.leads;
  }

  /** BrokerApi.appendBatch for a partition another node leads. */
  async appendBatch(req: AppendBatchRequest): Promise<AppendBatchResult> {
    if (!(req.batch instanceof Uint8Array))
      throw new EddyError(ErrorCode.INVALID_REQUEST, "batch must be bytes");
    const batch = req.batch.slice(); // the caller may reuse its memory once onAppended runs
    const [result] = await this.forward(
      {
        topic: req.topic,
        partition: req.partition,
        batches: [batch],
        acks: req.acks ?? -1,
        timeoutMs: req.timeoutMs,
      },
      req.onAppended,
    );
    return result!;
  }

  /**
   * Append `batches` at the partition's leader, in order, after every earlier
   * forward to this partition from this node; one result per batch.
   */
  forward(req: ForwardRequest, onAppended?: () => void): Promise<AppendBatchResult[]> {
    const ctx = this.o.ctx();
    const timeoutMs = req.timeoutMs ?? DEFAULT_PRODUCE_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `timeoutMs must be a non-negative number, got ${timeoutMs}`,
      );
    }
    for (const b of req.batches) {
      if (b.length > FORWARD_MAX_BODY_BYTES) {
        throw new EddyError(
          ErrorCode.RECORD_TOO_LARGE,
          `a record batch of ${b.length} bytes for ${req.topic}-${req.partition} is too large to forward to its leader (limit ${FORWARD_MAX_BODY_BYTES}): send it to the partition's leader directly or send smaller records`,
          { topic: req.topic, size: b.length, limit: FORWARD_MAX_BODY_BYTES },
        );
      }
    }
    const deadline = ctx.clock.monotonic() + timeoutMs;
    const key = partitionKey(req.topic, req.partition);
    const prev = this.queues.get(key) ?? Promise.resolve();
    // A send that finishes its leader round trip releases the queue; its local catch-up wait does not hold it.
    const sent = prev.then(() => this.send(ctx, key, req, deadline));
    const tail = sent.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return sent.then(async (results) => {
      onAppended?.();
      const last = results.at(-1);
      if (last) await this.catchUpLocally(ctx, req, last.lastOffset + 1, deadline);
      return results;
    });
  }

  /** The peer route: append forwarded batches here (this node must lead). */
  routes(): Map<string, (call: PeerCall) => Promise<Uint8Array | null>> {
    return new Map([
      [
        PeerPath.PRODUCE,
        async (call: PeerCall) => {
          const { header, batches } = decodeForward(call.body);
          const results = await appendForwarded(this.o.ctx(), { ...header, batches });
          return encodeJson({ results });
        },
      ],
    ]);
  }

  private async send(
    ctx: BrokerContext,
    key: string,
    req: ForwardRequest,
    deadline: number,
  ): Promise<AppendBatchResult[]> {
    const stamped = await this.stamp(ctx, key, req.batches);
    try {
      const results: AppendBatchResult[] = [];
      for (const chunk of chunks(stamped.batches)) {
        results.push(...(await this.deliver(ctx, req, chunk, deadline)));
      }
      if (stamped.session) stamped.session.nextSeq += stamped.records;
      return results;
    } catch (err) {
      // Outcome unknown: the next forward starts a fresh producer (no sequence gap at the leader).
      if (stamped.session && this.sessions.get(key) === stamped.session) this.sessions.delete(key);
      throw err;
    }
  }

  /** Stamp producer-less batches with this node's forwarding producer for the partition. */
  private async stamp(
    ctx: BrokerContext,
    key: string,
    batches: Uint8Array[],
  ): Promise<{ batches: Uint8Array[]; session: ForwardSession | null; records: number }> {
    const headers = batches.map((b) => readBatchHeader(b, 0));
    if (headers.some((h) => h.producerId >= 0)) return { batches, session: null, records: 0 };
    const records = headers.reduce((n, h) => n + h.lastOffsetDelta + 1, 0);
    let session = this.sessions.get(key);
    if (!session || session.nextSeq + records > INT32_MAX) {
      const id = await ctx.txn.initProducerId({ transactionalId: null, transactionTimeoutMs: 60_000 });
      session = { producerId: id.producerId, producerEpoch: id.producerEpoch, nextSeq: 0 };
      this.sessions.set(key, session);
    }
    let seq = session.nextSeq;
    const out = batches.map((b, i) => {
      const stampedBatch = stampProducer(b, session.producerId, session.producerEpoch, seq);
      seq += headers[i]!.lastOffsetDelta + 1;
      return stampedBatch;
    });
    return { batches: out, session, records };
  }

  /** Send one request's worth of batches to the current leader, retrying across leader changes. */
  private async deliver(
    ctx: BrokerContext,
    req: ForwardRequest,
    batches: Uint8Array[],
    deadline: number,
  ): Promise<AppendBatchResult[]> {
    let lastError: unknown = null;
    for (;;) {
      if (ctx.closing())
        throw new EddyError(
          ErrorCode.SHUTTING_DOWN,
          "the broker is shutting down: retry against a running broker",
        );
      const left = deadline - ctx.clock.monotonic();
      if (left <= 0) {
        throw (
          lastError ??
          new EddyError(
            ErrorCode.TIMEOUT,
            `forwarding to ${req.topic}-${req.partition}'s leader timed out: retry`,
          )
        );
      }
      const p = ctx.topics.partition(req.topic, req.partition);
      try {
        // Leave the leader a little time to answer before our own deadline.
        const leaderTimeout = Math.max(1, left - Math.min(200, left / 10));
        if (p.leads) {
          return await appendForwarded(ctx, {
            topic: req.topic,
            partition: req.partition,
            acks: req.acks,
            timeoutMs: leaderTimeout,
            leaderEpoch: p.leaderEpoch,
            batches,
          });
        }
        const leader = p.assignment?.leader ?? -1;
        if (leader < 0 || leader === this.o.nodeId) {
          throw new EddyError(
            ErrorCode.NOT_LEADER,
            `${req.topic}-${req.partition} has no leader right now: retry once the cluster elects one`,
          );
        }
        const header: ForwardHeader = {
          topic: req.topic,
          partition: req.partition,
          acks: req.acks,
          timeoutMs: leaderTimeout,
          leaderEpoch: p.leaderEpoch,
          sizes: batches.map((b) => b.length),
        };
        const body = await this.call(ctx, p, leader, encodeForward(header, batches), left);
        return decodeJson<{ results: AppendBatchResult[] }>(body, "forwarded produce response").results;
      } catch (err) {
        if (!isRetriableForward(err)) throw err;
        lastError = err;
      }
      await pauseBeforeRetry(deadline - ctx.clock.monotonic());
    }
  }

  /** One RPC to `leader`, abandoned when this node's metadata moves the leadership meanwhile. */
  private async call(
    ctx: BrokerContext,
    p: Partition,
    leader: number,
    body: Uint8Array,
    timeoutMs: number,
  ): Promise<Uint8Array | null> {
    const epoch = p.leaderEpoch;
    const ac = new AbortController();
    const watch = setInterval(() => {
      const now = currentPartition(ctx, p.topic, p.id);
      if (!now || now.leads || now.assignment?.leader !== leader || now.leaderEpoch !== epoch) {
        ac.abort(
          new EddyError(ErrorCode.NOT_LEADER, `${p.topic}-${p.id} changed leader while forwarding: retry`),
        );
      }
    }, LEADER_WATCH_MS);
    try {
      return await this.o.rpc(leader, PeerPath.PRODUCE, body, { timeoutMs, signal: ac.signal });
    } catch (err) {
      if (ac.signal.aborted && ac.signal.reason instanceof EddyError) throw ac.signal.reason;
      throw err;
    } finally {
      clearInterval(watch);
    }
  }

  /** Read-your-writes: an in-sync replica here waits (briefly) for its high watermark to reach `end`. */
  private async catchUpLocally(ctx: BrokerContext, req: ForwardRequest, end: number, deadline: number) {
    const until = Math.min(deadline, ctx.clock.monotonic() + LOCAL_CATCH_UP_MAX_MS);
    const key = partitionKey(req.topic, req.partition);
    for (;;) {
      const p = currentPartition(ctx, req.topic, req.partition);
      if (!p || p.leads || !p.assignment?.isr.includes(this.o.nodeId)) return;
      if (p.tracker.highWatermark >= end || ctx.closing()) return;
      const left = until - ctx.clock.monotonic();
      if (left <= 0) return;
      await ctx.waiters.wait([key], left);
    }
  }
}

/**
 * Leader side: append forwarded batches in order through appendBatch (every
 * check of a local produce, idempotent duplicates answered with their
 * original offsets), the next one once the previous is in the log; then wait
 * for the acknowledgement (acks=0: until the records are committed).
 */
export async function appendForwarded(
  ctx: BrokerContext,
  req: Omit<ForwardHeader, "sizes"> & { batches: Uint8Array[] },
): Promise<AppendBatchResult[]> {
  const pending: Promise<AppendBatchResult>[] = [];
  for (const batch of req.batches) {
    let appended!: () => void;
    const inLog = new Promise<void>((resolve) => {
      appended = resolve;
    });
    const run = appendBatch(ctx, {
      topic: req.topic,
      partition: req.partition,
      batch,
      acks: req.acks,
      timeoutMs: req.timeoutMs,
      expectedLeaderEpoch: req.leaderEpoch,
      requireLeader: true,
      onAppended: appended,
    });
    pending.push(run);
    let failed = false;
    await Promise.race([
      inLog,
      run.then(
        () => undefined,
        () => {
          failed = true;
        },
      ),
    ]);
    if (failed) break;
  }
  const results = await Promise.all(pending);
  const last = results.at(-1);
  if (req.acks === 0 && last) {
    const p = ctx.topics.partition(req.topic, req.partition);
    await withTimeout(
      p.waitCommitted(last.lastOffset + 1),
      req.timeoutMs,
      `forwarded batch to ${req.topic}-${req.partition}`,
    );
  }
  return results;
}

/** A copy of `batch` with producer id, epoch and base sequence set (and its CRC-32C recomputed). */
export function stampProducer(
  batch: Uint8Array,
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
): Uint8Array {
  const out = batch.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigInt64(43, BigInt(producerId));
  view.setInt16(51, producerEpoch);
  view.setInt32(53, baseSequence);
  view.setUint32(17, crc32c(out, 21, out.length));
  return out;
}

function* chunks(batches: Uint8Array[]): Generator<Uint8Array[]> {
  let chunk: Uint8Array[] = [];
  let size = 0;
  for (const b of batches) {
    if (chunk.length > 0 && size + b.length > FORWARD_MAX_BODY_BYTES) {
      yield chunk;
      chunk = [];
      size = 0;
    }
    chunk.push(b);
    size += b.length;
  }
  if (chunk.length > 0) yield chunk;
}

function encodeForward(header: ForwardHeader, batches: Uint8Array[]): Uint8Array {
  const h = encodeJson(header);
  const total = batches.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(4 + h.length + total);
  new DataView(out.buffer).setUint32(0, h.length);
  out.set(h, 4);
  let pos = 4 + h.length;
  for (const b of batches) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

function decodeForward(body: Uint8Array): { header: ForwardHeader; batches: Uint8Array[] } {
  const bad = (): never => {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      "malformed forwarded produce: peers must run the same release",
    );
  };
  if (body.length < 4) bad();
  const n = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  const header = decodeJson<ForwardHeader>(body.subarray(4, 4 + n), "forwarded produce");
  if (!Array.isArray(header.sizes)) bad();
  const batches: Uint8Array[] = [];
  let pos = 4 + n;
  for (const size of header.sizes) {
    if (!Number.isSafeInteger(size) || size < 0 || pos + size > body.length) bad();
    batches.push(body.subarray(pos, pos + size));
    pos += size;
  }
  if (pos !== body.length) bad();
  return { header, batches };
}
