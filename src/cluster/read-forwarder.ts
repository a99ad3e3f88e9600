/**
 * Reads on a node that holds no replica of a partition (cluster mode, RF <
 * nodes): readRecords and waitForData are carried over the peer transport
 * (POST /broker/v1/read) to the leader, or to another replica when the
 * leader is unknown or does not answer. The serving node answers from its
 * local replica exactly as a local call would (committed records only:
 * below its high watermark, or its last stable offset for read_committed).
 * Nodes holding a replica never forward: they serve their own replica
 * (src/broker/read-records.ts).
 *
 * Records travel as JSON with base64 keys, values and header values (reads
 * are paged by maxRecords/maxBytes; bulk replication uses the fetch route).
 */
import type { BrokerContext } from "../broker/context.ts";
import type { Partition } from "../broker/partition.ts";
import type { BrokerApi, IsolationLevel } from "../broker/types.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import { type Base64Record, recordFromBase64, recordToBase64 } from "../util/base64-record.ts";
import { currentPartition, isRetriableForward, pauseBeforeRetry } from "./forward-retry.ts";
import { decodeJson, encodeJson, type PeerCall, PeerPath, type PeerRpc } from "./peer-protocol.ts";

type ReadRecordsRequest = Parameters<BrokerApi["readRecords"]>[0];
type ReadRecordsResult = Awaited<ReturnType<BrokerApi["readRecords"]>>;
type WaitRequest = {
  topic: string;
  partition: number;
  offset: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
};

/** Extra time a forwarded read may take beyond its own wait (transport, a replica to try after another). */
const READ_GRACE_MS = 5_000;

type ReadCall =
  | {
      op: "records";
      topic: string;
      partition: number;
      offset: number;
      maxRecords?: number | undefined;
      maxBytes?: number | undefined;
      maxWaitMs?: number | undefined;
      isolation?: IsolationLevel | undefined;
    }
  | { op: "wait"; topic: string; partition: number; offset: number; timeoutMs: number };

interface WireRead {
  records: Base64Record[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/** The local (non-forwarding) read operations the route serves with. */
export interface LocalReads {
  readRecords(req: ReadRecordsRequest): Promise<ReadRecordsResult>;
  waitForData(req: WaitRequest): Promise<boolean>;
}

export interface ReadForwarderOptions {
  nodeId: number;
  ctx: () => BrokerContext;
  rpc: PeerRpc;
  local: LocalReads;
  /** Told of every read forwarded from here (keeps the partition's remote watch alive). */
  onRemoteRead?: (topic: string, partition: number) => void;
}

export class ReadForwarder {
  constructor(private readonly o: ReadForwarderOptions) {}

  async readRecords(p: Partition, req: ReadRecordsRequest): Promise<ReadRecordsResult> {
    this.o.onRemoteRead?.(req.topic, req.partition);
    const call: ReadCall = {
      op: "records",
      topic: req.topic,
      partition: req.partition,
      offset: req.offset,
      maxRecords: req.maxRecords,
      maxBytes: req.maxBytes,
      maxWaitMs: req.maxWaitMs,
      isolation: req.isolation,
    };
    const body = await this.call(p, call, req.maxWaitMs ?? 0, req.signal);
    const wire = decodeJson<WireRead>(body, "forwarded read response");
    return { ...wire, records: wire.records.map(recordFromBase64) };
  }

  async waitForData(p: Partition, req: WaitRequest): Promise<boolean> {
    this.o.onRemoteRead?.(req.topic, req.partition);
    const call: ReadCall = {
      op: "wait",
      topic: req.topic,
      partition: req.partition,
      offset: req.offset,
      timeoutMs: req.timeoutMs,
    };
    try {
      const body = await this.call(p, call, req.timeoutMs, req.signal);
      return decodeJson<{ ok: boolean }>(body, "forwarded wait response").ok;
    } catch (err) {
      if (req.signal?.aborted || this.o.ctx().closing()) return false;
      throw err;
    }
  }

  /** The peer route: serve a read from this node's replica (never forwarded again). */
  routes(): Map<string, (call: PeerCall) => Promise<Uint8Array | null>> {
    return new Map([
      [
        PeerPath.READ,
        async (peer: PeerCall) => {
          const c = decodeJson<ReadCall>(peer.body, "forwarded read");
          if (c.op === "wait") {
            const ok = await this.o.local.waitForData({ ...c, signal: peer.signal });
            return encodeJson({ ok });
          }
          const res = await this.o.local.readRecords({ ...c, signal: peer.signal });
          const wire: WireRead = { ...res, records: res.records.map(recordToBase64) };
          return encodeJson(wire);
        },
      ],
    ]);
  }

  /** Try the leader, then the other replicas, until one answers or the time is up. */
  private async call(p: Partition, call: ReadCall, waitMs: number, signal: AbortSignal | undefined) {
    const ctx = this.o.ctx();
    const deadline = ctx.clock.monotonic() + waitMs + READ_GRACE_MS;
    let lastError: unknown = null;
    for (;;) {
      const a = p.assignment;
      const candidates = [...new Set([a?.leader ?? -1, ...(a?.isr ?? []), ...(a?.replicas ?? [])])].filter(
        (id) => id >= 0 && id !== this.o.nodeId,
      );
      for (const peer of candidates) {
        const left = deadline - ctx.clock.monotonic();
        if (left <= 0 || signal?.aborted || ctx.closing()) break;
        try {
          return await this.o.rpc(peer, PeerPath.READ, encodeJson(call), { timeoutMs: left, signal });
        } catch (err) {
          if (!isRetriableForward(err)) throw err;
          lastError = err;
        }
      }
      const left = deadline - ctx.clock.monotonic();
      if (left <= 0 || signal?.aborted || ctx.closing()) {
        throw (
          lastError ??
          new EddyError(
            ErrorCode.NOT_LEADER,
            `this node holds no replica of ${call.topic}-${call.partition} and none is reachable: retry later`,
            { topic: call.topic, partition: call.partition },
          )
        );
      }
      await pauseBeforeRetry(left, signal);
      // The assignment may have changed meanwhile.
      p = currentPartition(ctx, call.topic, call.partition) ?? p;
    }
  }
}
