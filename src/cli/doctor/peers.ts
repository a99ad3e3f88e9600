/**
 * Peers check of `eddy doctor`: every other node in [[cluster.peers]] is
 * pinged over the peer transport (HTTP/2: h2c for http:// on loopback, TLS
 * with the cluster's files for https://) with cluster.secret. Each answers
 * with its round-trip time, or says why not and what to fix: unreachable
 * (URL, firewall, eddy not running there), a secret mismatch (401), a TLS
 * failure (CA and certificate files), or a URL that reaches another node.
 */
import fs from "node:fs";
import type { EddyConfig } from "../../config/schema.ts";
import { type PeerPingResult, pingPeer } from "../../util/peer-ping.ts";
import { type CheckResult, CheckStatus } from "./types.ts";

export interface PeerCheckOptions {
  timeoutMs: number;
}

const TLS_FILES = [
  ["tls_ca_file", "ca"],
  ["tls_cert_file", "cert"],
  ["tls_key_file", "key"],
] as const;

/** One result per peer other than this node; none for a single node. */
export async function checkPeers(config: EddyConfig, o: PeerCheckOptions): Promise<CheckResult[]> {
  const cluster = config.cluster;
  const others = cluster.peers.filter((p) => p.id !== config.node_id);
  if (others.length === 0) return [];
  const tls: { ca?: string; cert?: string; key?: string } = {};
  const unreadable: CheckResult[] = [];
  for (const [key, field] of TLS_FILES) {
    const file = cluster[key];
    if (!file) continue;
    try {
      tls[field] = fs.readFileSync(file, "utf8");
    } catch (err) {
      unreadable.push({
        name: "peers",
        status: CheckStatus.FAIL,
        summary: `cannot read cluster.${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        fix: `point cluster.${key} at a readable PEM file (and let the eddy user read it)`,
      });
    }
  }
  if (unreadable.length > 0) return unreadable;
  const hasTls = Object.keys(tls).length > 0;
  return Promise.all(
    others.map(async (p) => {
      const r = await pingPeer({
        url: p.url,
        secret: cluster.secret || undefined,
        tls: hasTls ? tls : undefined,
        fromNode: config.node_id,
        timeoutMs: o.timeoutMs,
      });
      return judgePeer({ id: p.id, url: p.url, secretSet: cluster.secret !== "" }, r);
    }),
  );
}

/** What a ping result means for peer `id`, and what to do about it. */
export function judgePeer(
  peer: { id: number; url: string; secretSet: boolean },
  r: PeerPingResult,
): CheckResult {
  const name = `peer ${peer.id}`;
  const where = `${peer.url}`;
  if (r.ok) {
    if (r.node !== null && r.node !== peer.id) {
      return {
        name,
        status: CheckStatus.FAIL,
        summary: `${where} answers as node ${r.node}, not node ${peer.id}`,
        fix: `correct the url of [[cluster.peers]] id = ${peer.id} (or that node's node_id)`,
      };
    }
    return {
      name,
      status: CheckStatus.OK,
      summary: `${where} reachable, round trip ${r.rttMs.toFixed(1)} ms`,
    };
  }
  if (r.status === 401 || r.status === 403) {
    return {
      name,
      status: CheckStatus.FAIL,
      summary: `${where} refused the cluster secret (HTTP ${r.status})`,
      fix: peer.secretSet
        ? "cluster.secret differs between the nodes: set the same value on every node"
        : "set cluster.secret (the same value on every node), or a client certificate with cluster.tls_cert_file",
    };
  }
  if (r.status === 404) {
    return {
      name,
      status: CheckStatus.WARN,
      summary: `${where} accepted the secret but has no ping route`,
      fix: "that node runs an older eddy: upgrade it to the same release",
    };
  }
  if (r.status !== null) {
    return {
      name,
      status: CheckStatus.FAIL,
      summary: `${where} answered HTTP ${r.status}: ${r.message}`,
      fix: "check that eddy (the same release) runs there and its log",
    };
  }
  if (isTlsError(r.code, r.message)) {
    return {
      name,
      status: CheckStatus.FAIL,
      summary: `${where} TLS failed: ${r.code ?? r.message}`,
      fix:
        "cluster.tls_ca_file must sign the peer's certificate (for the URL's host name); " +
        "with mutual TLS, cluster.tls_cert_file/tls_key_file must be signed by the peer's CA",
    };
  }
  return {
    name,
    status: CheckStatus.FAIL,
    summary: `${where} unreachable: ${r.code ?? r.message}`,
    fix:
      "check the URL in [[cluster.peers]], the firewall, and that eddy serve runs there " +
      "with listeners.peer on that address",
  };
}

function isTlsError(code: string | null, message: string): boolean {
  if (code && /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|EPROTO|HOSTNAME_MISMATCH)/.test(code))
    return true;
  return /certificate|tls|ssl|handshake/i.test(message);
}
