/**
 * The peer transport's wire constants and its cheapest call, shared by the
 * transport (src/replication/transport) and `eddy doctor` (src/cli), which
 * may not import the transport: `POST /peer/v1/ping` with the shared secret
 * over one `node:http2` session (h2c for http:// URLs, TLS for https://),
 * answered by every node's peer listener with `{"node": <its node_id>}`.
 */
import http2 from "node:http2";

export const SECRET_HEADER = "x-eddy-peer-secret";
export const NODE_HEADER = "x-eddy-node";
export const PEER_PING_PATH = "/peer/v1/ping";

export interface PeerPingOptions {
  /** The peer listener's base URL, "http://127.0.0.1:9093" or "https://host:9093". */
  url: string;
  secret?: string;
  /** PEM texts: the CA that signs the peer's certificate, and this node's client certificate and key. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** The caller's node id, sent as x-eddy-node. */
  fromNode?: number;
  timeoutMs: number;
}

export type PeerPingResult =
  | { ok: true; status: number; node: number | null; rttMs: number }
  /** status: the HTTP status when the peer answered with an error; code: the socket/TLS error code. */
  | { ok: false; status: number | null; code: string | null; message: string };

/** Ping a peer once; never throws. rttMs is the request's round trip on a fresh session (connect excluded). */
export function pingPeer(o: PeerPingOptions): Promise<PeerPingResult> {
  return new Promise((resolve) => {
    let session: http2.ClientHttp2Session | undefined;
    let done = false;
    const finish = (r: PeerPingResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session?.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ ok: false, status: null, code: "ETIMEDOUT", message: `no answer in ${o.timeoutMs} ms` }),
      o.timeoutMs,
    );
    const fail = (err: unknown): void => {
      const e = err as NodeJS.ErrnoException;
      finish({ ok: false, status: null, code: e?.code ?? null, message: e?.message ?? String(err) });
    };
    let s: http2.ClientHttp2Session;
    try {
      const tls = o.tls;
      s = http2.connect(o.url, tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {});
      session = s;
    } catch (err) {
      fail(err);
      return;
    }
    s.on("error", fail);
    s.on("connect", () => {
      const headers: http2.OutgoingHttpHeaders = {
        ":method": "POST",
        ":path": PEER_PING_PATH,
        "content-type": "application/octet-stream",
      };
      if (o.fromNode !== undefined) headers[NODE_HEADER] = String(o.fromNode);
      if (o.secret) headers[SECRET_HEADER] = o.secret;
      const started = performance.now();
      const stream = s.request(headers);
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = Number(h[":status"]);
      });
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("error", fail);
      stream.on("end", () => {
        const rttMs = performance.now() - started;
        const text = Buffer.concat(chunks).toString("utf8");
        if (status >= 200 && status < 300) {
          let node: number | null = null;
          try {
            const parsed = JSON.parse(text) as { node?: unknown };
            if (typeof parsed.node === "number") node = parsed.node;
          } catch {
            // 204 or an older node: reachable, id unknown
          }
          finish({ ok: true, status, node, rttMs });
          return;
        }
        let message = text || `HTTP ${status}`;
        try {
          const parsed = JSON.parse(text) as { message?: unknown };
          if (typeof parsed.message === "string") message = parsed.message;
        } catch {
          // not JSON
        }
        finish({ ok: false, status: status || null, code: null, message });
      });
      stream.end();
    });
  });
}
