/**
 * The peer network of one node, as src/main.ts wires it: a PeerServer on
 * `listeners.peer` serving the broker's cluster routes (Raft, admin
 * forwarding, replica fetch, leader-epoch queries) and a PeerClient that
 * carries the broker's calls to the other peers. TLS files are read here;
 * the transport refuses cleartext off loopback and listeners without a
 * shared secret or a client CA (server.ts).
 */
import fs from "node:fs";
import { EddyError, ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { PeerRouteHandler, PeerRpc } from "../broker/index.ts";
import { PEER_PING_PATH } from "../util/peer-ping.ts";
import { PeerClient } from "./transport/client.ts";
import { PeerServer } from "./transport/server.ts";

export interface PeerNetworkOptions {
  nodeId: number;
  /** Every cluster node, this one included: id and base URL of its peer listener. */
  peers: ReadonlyArray<{ id: number; url: string }>;
  host: string;
  port: number;
  secret?: string;
  /** PEM files: this node's certificate and key, and the CA that signs peers' certificates. */
  tlsFiles?: { certFile?: string; keyFile?: string; caFile?: string };
  logger: Logger;
}

export interface PeerNetwork {
  readonly rpc: PeerRpc;
  /** The listener's address (the real port when 0 was asked). */
  readonly url: string;
  serve(routes: ReadonlyMap<string, PeerRouteHandler>): void;
  close(): Promise<void>;
}

export function startPeerNetwork(o: PeerNetworkOptions): PeerNetwork {
  const read = (file: string | undefined, what: string): string | undefined => {
    if (!file) return undefined;
    try {
      return fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new EddyError(
        ErrorCode.INVALID_CONFIG,
        `cannot read the peer ${what} file ${file}: ${String(err)}`,
      );
    }
  };
  const cert = read(o.tlsFiles?.certFile, "TLS certificate");
  const key = read(o.tlsFiles?.keyFile, "TLS key");
  const ca = read(o.tlsFiles?.caFile, "TLS CA");
  if ((cert === undefined) !== (key === undefined)) {
    throw new EddyError(
      ErrorCode.INVALID_CONFIG,
      "cluster.tls_cert_file and cluster.tls_key_file go together: set both or neither",
    );
  }
  const others = o.peers.filter((p) => p.id !== o.nodeId);
  const server = new PeerServer({
    hostname: o.host,
    port: o.port,
    secret: o.secret || undefined,
    tls: cert && key ? { cert, key, ca } : undefined,
    logger: o.logger,
  });
  // `eddy doctor` on another node checks reachability, secret and TLS with this (src/util/peer-ping.ts).
  const pong = new TextEncoder().encode(JSON.stringify({ node: o.nodeId }));
  server.route(PEER_PING_PATH, async () => pong);
  const client = new PeerClient({
    nodeId: o.nodeId,
    peers: new Map(others.map((p) => [p.id, p.url])),
    secret: o.secret || undefined,
    tls: cert || ca ? { ca, cert, key } : undefined,
    logger: o.logger,
    retries: 1,
  });
  server.start();
  return {
    rpc: (peer, path, body, opts) => client.request(peer, path, body, opts),
    url: server.url,
    serve: (routes) => {
      for (const [path, handler] of routes) server.route(path, handler);
    },
    close: async () => {
      client.close();
      await server.stop();
    },
  };
}
