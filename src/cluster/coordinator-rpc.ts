/**
 * Cluster mode: what a coordinator asks other nodes to do, over the peer
 * transport (POST /cluster/v1/coordinator, JSON):
 *
 *   marker             write a transaction's COMMIT/ABORT marker on a data
 *                      partition this node leads and wait until it is
 *                      committed (Kafka's WriteTxnMarkers); it carries the
 *                      coordinator epoch, and a marker from an older
 *                      coordinator than the producer's last one is refused
 *                      with TRANSACTION_COORDINATOR_FENCED
 *   commit-offsets     commit a committed transaction's offsets on the
 *                      group's coordinator (replicated in __consumer_offsets)
 *   txn-offset-commit  a TxnOffsetCommit that reached the group's coordinator,
 *                      passed on to the transaction's coordinator (Eddy stages
 *                      transactional offsets in the transaction's state)
 *   group              a BrokerApi group call (HTTP, CLI) made on another
 *                      node, run here as the group's coordinator
 *                      (src/broker/group-offsets.ts); `list` answers for the
 *                      __consumer_offsets partitions this node coordinates
 *
 * `onLeader` runs an operation where it belongs: here when this node is the
 * right one, else on the node that is (retrying while leadership moves,
 * until the deadline).
 */
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";
import type { OffsetCommit } from "../broker/types.ts";
import type { CommittedOffset } from "../metadata/types.ts";
import type { TxnOffsetCommitOptions } from "../txn/types.ts";
import type { Clock } from "../util/clock.ts";
import { sleep } from "../util/sleep.ts";
import {
  decodeJson,
  encodeJson,
  type PeerCall,
  type PeerRouteHandler,
  type PeerRpc,
} from "./peer-protocol.ts";

export const COORDINATOR_PEER_PATH = "/cluster/v1/coordinator";

export type CoordinatorPeerRequest =
  | {
      op: "marker";
      topic: string;
      partition: number;
      producerId: number;
      producerEpoch: number;
      commit: boolean;
      /** The coordinator's epoch (leader epoch of its __transaction_state partition); absent = 0. */
      coordinatorEpoch?: number;
    }
  | { op: "commit-offsets"; group: string; rows: CommittedOffset[] }
  | { op: "txn-offset-commit"; req: TxnOffsetCommitOptions }
  | { op: "group"; call: GroupCall };

/** A BrokerApi group call carried to the group's coordinator. */
export type GroupCall =
  | { fn: "commit"; group: string; offsets: OffsetCommit[] }
  | { fn: "fetch"; group: string; topic?: string | undefined }
  | { fn: "lag"; group: string }
  | { fn: "delete"; group: string }
  /** The groups of those of `partitions` this node coordinates, and which of them it served. */
  | { fn: "list"; partitions: number[] };

/** The answer to a `list` GroupCall. */
export interface GroupListAnswer {
  groups: string[];
  served: number[];
}

export interface CoordinatorPeerHandlers {
  marker(req: Extract<CoordinatorPeerRequest, { op: "marker" }>): Promise<void>;
  commitOffsets(group: string, rows: CommittedOffset[]): Promise<void>;
  txnOffsetCommit(req: TxnOffsetCommitOptions): Promise<unknown>;
  /** Run a group call here (never forwarded again); its JSON answer (null for none). */
  group?(call: GroupCall): Promise<unknown>;
}

export function coordinatorRoute(h: CoordinatorPeerHandlers): PeerRouteHandler {
  return async (call: PeerCall) => {
    const req = decodeJson<CoordinatorPeerRequest>(call.body, "coordinator request");
    switch (req.op) {
      case "marker":
        await h.marker(req);
        return null;
      case "commit-offsets":
        await h.commitOffsets(req.group, req.rows);
        return null;
      case "txn-offset-commit":
        return encodeJson(await h.txnOffsetCommit(req.req));
      case "group": {
        if (!h.group) break;
        const answer = await h.group(req.call);
        return answer === undefined ? null : encodeJson(answer);
      }
    }
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      "unknown coordinator request: peers must run the same release",
    );
  };
}

/** Errors that mean "not here / not yet": look for the right node again. */
const MOVED = new Set<string>([
  ErrorCode.NOT_LEADER,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.TIMEOUT,
  ErrorCode.SHUTTING_DOWN,
]);

export interface OnLeaderOptions<T> {
  what: string;
  clock: Clock;
  rpc: PeerRpc;
  deadlineMs: number;
  /** Where it must run now: "local", a node id, or null (nobody yet). */
  where: () => "local" | number | null | Promise<"local" | number | null>;
  local: () => Promise<T>;
  request: CoordinatorPeerRequest;
  decode?: (body: Uint8Array | null) => T;
}

export async function onLeader<T>(o: OnLeaderOptions<T>): Promise<T> {
  const until = o.clock.monotonic() + o.deadlineMs;
  let last: unknown = null;
  for (;;) {
    try {
      const at = await o.where();
      if (at === "local") return await o.local();
      if (at !== null) {
        const left = Math.max(100, until - o.clock.monotonic());
        const body = await o.rpc(at, COORDINATOR_PEER_PATH, encodeJson(o.request), { timeoutMs: left });
        return o.decode ? o.decode(body) : (undefined as T);
      }
      last = new EddyError(ErrorCode.COORDINATOR_NOT_AVAILABLE, `no node can take ${o.what} right now`);
    } catch (err) {
      if (!MOVED.has(toEddyError(err).code)) throw err;
      last = err;
    }
    if (o.clock.monotonic() >= until) {
      const e = toEddyError(last);
      throw new EddyError(
        e.code === ErrorCode.NOT_LEADER ? ErrorCode.COORDINATOR_NOT_AVAILABLE : e.code,
        `${o.what} did not reach its node in ${o.deadlineMs} ms (${e.message}): retry`,
      );
    }
    await sleep(50);
  }
}
