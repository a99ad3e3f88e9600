/**
 * One cluster id for the whole cluster, agreed through the metadata log.
 *
 * Every node starts with the id in its metadata store (`cluster.id`; a
 * single node generates one on first start). The first controller proposes
 * its own id (commands.ts SET_CLUSTER_ID); the first such entry in the log
 * wins, and every node adopts it: it overwrites its stored id and marks it
 * agreed (`cluster.id.agreed`). From then on BrokerApi.clusterId, Kafka
 * Metadata and DescribeCluster report the same id on every node.
 *
 * A node whose stored id is agreed belongs to that cluster for good: if its
 * peers (IDENTITY_PATH, asked before Raft starts), the controller (in the
 * answer to its first barrier) or the metadata log name another id, it
 * refuses to join with an error that says what to do (wipe its data
 * directory to join as a new node, or fix cluster.peers).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { MetadataStore } from "../metadata/types.ts";
import { decodeJson, type PeerRpc } from "./peer-protocol.ts";

/** POST → {nodeId, clusterId}: the id this node agreed with its cluster (null if none yet). */
export const IDENTITY_PATH = "/cluster/v1/identity";
/** The node's cluster id (shared with src/broker/broker.ts, which generates it). */
export const NODE_CLUSTER_ID_SETTING = "cluster.id";
export const AGREED_SETTING = "cluster.id.agreed";

export interface Identity {
  nodeId: number;
  clusterId: string | null;
}

/** The id this node agreed with its cluster, or null before agreement. */
export function agreedClusterId(store: MetadataStore): string | null {
  if (store.getSetting(AGREED_SETTING) !== "true") return null;
  return store.getSetting(NODE_CLUSTER_ID_SETTING);
}

/** The id this node proposes when it is the first controller. */
export function proposedClusterId(store: MetadataStore): string {
  const stored = store.getSetting(NODE_CLUSTER_ID_SETTING);
  if (stored) return stored;
  const id = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");
  store.setSetting(NODE_CLUSTER_ID_SETTING, id);
  return id;
}

/** Adopt the log's id; returns the refusal when this node already belongs to another cluster. */
export function adoptClusterId(store: MetadataStore, nodeId: number, logId: string): EddyError | null {
  const mine = agreedClusterId(store);
  if (mine !== null && mine !== logId) return mismatch(nodeId, mine, logId, "the cluster's metadata log");
  if (mine === logId) return null;
  store.setSetting(NODE_CLUSTER_ID_SETTING, logId);
  store.setSetting(AGREED_SETTING, "true");
  return null;
}

/** The refusal for a node of cluster `mine` among peers of cluster `theirs`. */
export function mismatch(nodeId: number, mine: string, theirs: string, who: string): EddyError {
  return new EddyError(
    ErrorCode.INVALID_CONFIG,
    `node ${nodeId} belongs to cluster ${mine} (its data directory says so), but ${who} is in cluster ${theirs}: refusing to join. Point cluster.peers at this node's own cluster, or wipe this node's data directory to join cluster ${theirs} as a new node`,
    { clusterId: mine, peerClusterId: theirs },
  );
}

/**
 * Before Raft starts: ask every reachable peer for its agreed id and throw
 * if one names another cluster than this node's agreed id. Peers that do not
 * answer (down, or an older release) are skipped.
 */
export async function checkPeerIdentities(o: {
  nodeId: number;
  store: MetadataStore;
  peers: readonly number[];
  rpc: PeerRpc;
  timeoutMs: number;
}): Promise<void> {
  const mine = agreedClusterId(o.store);
  if (mine === null) return;
  const answers = await Promise.allSettled(
    o.peers.map(async (peer) => {
      const body = await o.rpc(peer, IDENTITY_PATH, new Uint8Array(0), { timeoutMs: o.timeoutMs });
      return decodeJson<Identity>(body, "identity");
    }),
  );
  for (const [i, a] of answers.entries()) {
    if (a.status !== "fulfilled") continue;
    const theirs = a.value.clusterId;
    if (typeof theirs === "string" && theirs !== mine) {
      throw mismatch(o.nodeId, mine, theirs, `peer node ${o.peers[i]}`);
    }
  }
}
