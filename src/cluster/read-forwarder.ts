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
import type { BrokerApi, IsolationLevel, StoredRecord } from "../broker/types.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import { sleep } from "../util/sleep.ts";
import { decodeJson, encodeJson, type PeerCall, PeerPath, type PeerRpc } from "./peer-protocol.ts";

type ReadRecordsRequest = Parameters<BrokerApi["readRecords"]>[0];
type ReadRecordsResult = Awaited<ReturnType<BrokerApi["readRecords"]>>;

/** Extra time a forwarded read may take beyond its own wait (transport, a replica to try after another). */
const READ_GRACE_MS = 5_000;
const RETRY_BACKOFF_MS = 50;
const RETRIABLE = new Set<string>([
  ErrorCode.NOT_LEADER,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.TIMEOUT,
  ErrorCode.UNKNOWN,
]);

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

interface WireHeader {
  key: string;
  value: string | null;
}
interface WireRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: WireHeader[];
}
interface WireRead {
  records: WireRecord[];
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
}

/** The local (non-forwarding) read operations the route serves with. */
export interface LocalReads {
  readRecords(req: ReadRecordsRequest): Promise<ReadRecordsResult>;
  waitForData(req: {
    topic: string;
    partition: number;
    offset: number;
    timeoutMs: number;
    signal?: AbortSignal | undefined;
  }): Promise<boolean>;
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
    return { ...wire, records: wire.records.map(fromWire) };
  }

  async waitForData(
    p: Partition,
    req: {
      topic: string;
      partition: number;
      offset: number;
      timeoutMs: number;
      signal?: AbortSignal | undefined;
    },
  ): Promise<boolean> {
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
          const wire: WireRead = { ...res, records: res.records.map(toWire) };
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
          if (!(err instanceof EddyError) || !RETRIABLE.has(err.code)) throw err;
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
      await sleep(Math.min(RETRY_BACKOFF_MS, left), signal);
      // The assignment may have changed meanwhile (the partition object is replaced on reconcile).
      p = ctx.topics.get(call.topic)?.partitions[call.partition] ?? p;
    }
  }
}

const b64 = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString("base64"));
const unb64 = (s: string | null): Uint8Array | null =>
  s === null ? null : new Uint8Array(Buffer.from(s, "base64"));

function toWire(r: StoredRecord): WireRecord {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: b64(r.key),
    value: b64(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: b64(h.value) })),
  };
}

function fromWire(r: WireRecord): StoredRecord {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: unb64(r.key),
    value: unb64(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: unb64(h.value) })),
  };
}
