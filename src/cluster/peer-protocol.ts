/**
 * The cluster's RPCs between peers, as bytes (sans-IO): src/main.ts carries
 * them over src/replication/transport (HTTP/2), tests may carry them in
 * memory. Requests are small JSON; a replica fetch answers with a JSON header
 * followed by the raw RecordBatch v2 bytes (data travels in response bodies:
 * followers pull, see the transport's notes on Bun's http2 client).
 *
 *   POST /raft/v1/message      a Raft message (src/cluster/raft/message-codec.ts)
 *   POST /cluster/v1/admin     an AdminRequest for the controller → {index}
 *   POST /replication/v1/fetch a follower's long-poll fetch → header + batches
 *   POST /replication/v1/epoch OffsetForLeaderEpoch → {epoch, endOffset}
 *   POST /peer/v1/ping         → {node} (src/util/peer-ping.ts; served by src/replication/peers.ts)
 *   POST /broker/v1/produce    a produce forwarded to the leader → {results} (produce-forwarder.ts)
 *   POST /broker/v1/read       records or a wait forwarded by a node without a replica (read-forwarder.ts)
 *   POST /broker/v1/watch      a long-poll on partitions' offsets by a node without a replica (remote-watch.ts)
 */
import { EddyError, ErrorCode } from "../errors.ts";

export const PeerPath = {
  RAFT: "/raft/v1/message",
  ADMIN: "/cluster/v1/admin",
  FETCH: "/replication/v1/fetch",
  EPOCH: "/replication/v1/epoch",
  PRODUCE: "/broker/v1/produce",
  READ: "/broker/v1/read",
  WATCH: "/broker/v1/watch",
} as const;

export interface PeerCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Take a 2xx response body as the chunks it arrived in (pushed here; the
   * call then resolves with null) instead of one joined copy. A carrier that
   * ignores this resolves with the body as usual: callers handle both.
   */
  sink?: Uint8Array[];
}

/** Call `path` on node `peer`; resolves with the response body (null for none). Throws EddyError. */
export type PeerRpc = (
  peer: number,
  path: string,
  body: Uint8Array,
  opts: PeerCallOptions,
) => Promise<Uint8Array | null>;

export interface PeerCall {
  /** The caller's node id as it says (authenticated by the transport). */
  from: number | null;
  body: Uint8Array;
  signal: AbortSignal;
}

/** A response body: bytes, or chunks the transport sends one after another without joining them. */
export type PeerBody = Uint8Array | readonly Uint8Array[];

export type PeerRouteHandler = (call: PeerCall) => Promise<PeerBody | null>;

export interface ReplicaFetchRequest {
  topic: string;
  partition: number;
  /** The follower's log end offset: everything below it is in the follower's log. */
  offset: number;
  /** The leader epoch the follower follows. */
  epoch: number;
  maxWaitMs: number;
  maxBytes: number;
}

export interface ReplicaFetchHeader {
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
}

export interface EpochQuery {
  topic: string;
  partition: number;
  /** The epoch whose end offset is asked for. */
  epoch: number;
  /** The leader epoch the follower follows (must be the leader's). */
  currentEpoch: number;
}

export interface EpochAnswer {
  /** The largest epoch <= the asked one the leader has; -1 if none. */
  epoch: number;
  /** First offset after that epoch in the leader's log (its log end offset for the current epoch). */
  endOffset: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

export function decodeJson<T>(body: Uint8Array | null, what: string): T {
  try {
    if (body === null) throw new Error("empty");
    return JSON.parse(dec.decode(body)) as T;
  } catch {
    throw new EddyError(ErrorCode.INVALID_REQUEST, `malformed ${what}: peers must run the same release`);
  }
}

export function encodeFetchResponse(header: ReplicaFetchHeader, records: Uint8Array): Uint8Array {
  const h = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.length + records.length);
  new DataView(out.buffer).setUint32(0, h.length);
  out.set(h, 4);
  out.set(records, 4 + h.length);
  return out;
}

/** The same bytes as encodeFetchResponse, as [length + header, records]: the log's bytes are not copied. */
export function encodeFetchResponseChunks(header: ReplicaFetchHeader, records: Uint8Array): Uint8Array[] {
  const h = enc.encode(JSON.stringify(header));
  const head = new Uint8Array(4 + h.length);
  new DataView(head.buffer).setUint32(0, h.length);
  head.set(h, 4);
  return records.length > 0 ? [head, records] : [head];
}

export function decodeFetchResponse(body: Uint8Array | null): {
  header: ReplicaFetchHeader;
  records: Uint8Array;
} {
  if (body === null || body.length < 4) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      "malformed replica fetch response: peers must run the same release",
    );
  }
  const n = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  const header = decodeJson<ReplicaFetchHeader>(body.subarray(4, 4 + n), "replica fetch response");
  return { header, records: body.subarray(4 + n) };
}
