/**
 * The peer transport's client side: one `node:http2` session per peer
 * (cleartext h2c on loopback, TLS otherwise; `fetch` cannot do h2c), and a
 * small typed RPC call, `request(peer, path, body, {timeoutMs, signal})`.
 *
 * Bun's node:http2 client resets streams with ENHANCE_YOUR_CALM once more than
 * ~16 MiB of request bodies are in flight on one session (BUN-NOTES.md), so:
 * request bodies in flight per peer are capped (`maxInFlightBytes`, default
 * 4 MiB; a larger single body waits until the session is idle), bulk data is
 * meant to be pulled in response bodies, and a stream reset or a dropped
 * session is retried (with a fresh session) while the deadline allows.
 */
import http2 from "node:http2";
import { ErrorCode, EddyError, ERROR_TABLE, type ErrorCode as Code } from "../../errors.ts";
import type { Logger } from "../../observability/logger.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { NODE_HEADER, SECRET_HEADER } from "./headers.ts";

export interface PeerClientOptions {
  /** This node's id, sent as `x-eddy-node`. */
  nodeId: number;
  /** Peer id → base URL (`http://127.0.0.1:9093` for h2c on loopback, `https://…` otherwise). */
  peers: ReadonlyMap<number, string>;
  secret?: string;
  tls?: { ca?: string; cert?: string; key?: string };
  logger: Logger;
  clock?: Clock;
  maxInFlightBytes?: number;
  /** Attempts after the first for reset streams and dropped sessions. Default 3. */
  retries?: number;
}

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Take a 2xx body as the chunks it arrived in: they are pushed here and the
   * call resolves with null, saving the copy that joins them (a 4 MiB
   * replica fetch arrives in ~30 chunks).
   */
  sink?: Uint8Array[];
}

interface PeerConn {
  session: http2.ClientHttp2Session | null;
  inFlight: number;
  waiters: (() => void)[];
}

const RETRIABLE_RESETS = new Set([
  http2.constants.NGHTTP2_REFUSED_STREAM,
  http2.constants.NGHTTP2_ENHANCE_YOUR_CALM,
  http2.constants.NGHTTP2_INTERNAL_ERROR,
  http2.constants.NGHTTP2_CANCEL,
]);

/** HTTP/2 flow control and framing the client asks for (the server's sends are bounded by them). */
const STREAM_WINDOW = 16 * 1024 * 1024;
const MAX_FRAME = 1024 * 1024;
/**
 * Bun 1.4.5 stalls a response for good (it never ends) when the session
 * window is set above 32 MiB, or above the default stream window: keep it
 * equal to the stream window (bodies of 100 MiB pass; transport.test.ts pulls 24 MiB).
 */
const SESSION_WINDOW = STREAM_WINDOW;

class Retriable extends Error {}

export class PeerClient {
  private readonly conns = new Map<number, PeerConn>();
  private closed = false;
  private readonly cap: number;
  private readonly clock: Clock;

  constructor(private readonly opts: PeerClientOptions) {
    this.cap = opts.maxInFlightBytes ?? 4 * 1024 * 1024;
    this.clock = opts.clock ?? systemClock;
  }

  /** Call `path` on `peer`; resolves with the response body, or null for 204. */
  async request(
    peer: number,
    path: string,
    body: Uint8Array,
    opts: RequestOptions,
  ): Promise<Uint8Array | null> {
    const url = this.opts.peers.get(peer);
    if (!url)
      throw new EddyError(ErrorCode.INVALID_REQUEST, `unknown peer ${peer}: add it to the cluster peers`);
    const deadline = this.clock.monotonic() + opts.timeoutMs;
    const retries = this.opts.retries ?? 3;
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (this.closed) throw new EddyError(ErrorCode.SHUTTING_DOWN, "peer client is closed");
      opts.signal?.throwIfAborted();
      const left = deadline - this.clock.monotonic();
      if (left <= 0) break;
      const conn = this.conn(peer);
      await this.acquire(conn, body.length);
      try {
        return await this.once(
          peer,
          url,
          conn,
          path,
          body,
          Math.max(1, deadline - this.clock.monotonic()),
          opts.signal,
          opts.sink,
        );
      } catch (err) {
        if (!(err instanceof Retriable)) throw err;
        lastError = err;
        this.opts.logger.debug("peer request retried", { peer, path, attempt, reason: err.message });
        await sleep(Math.min(20 * 2 ** attempt, Math.max(0, deadline - this.clock.monotonic())));
      } finally {
        this.release(conn, body.length);
      }
    }
    throw new EddyError(ErrorCode.TIMEOUT, `peer ${peer} did not answer ${path}: check that it is running`, {
      peer,
      reason: lastError instanceof Error ? lastError.message : "deadline",
    });
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.session?.close();
    this.conns.clear();
  }

  private conn(peer: number): PeerConn {
    let c = this.conns.get(peer);
    if (!c) {
      c = { session: null, inFlight: 0, waiters: [] };
      this.conns.set(peer, c);
    }
    return c;
  }

  private session(url: string, conn: PeerConn): http2.ClientHttp2Session {
    if (conn.session && !conn.session.closed && !conn.session.destroyed) return conn.session;
    const tls = this.opts.tls;
    const s = http2.connect(url, {
      ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
      // Replica fetches answer with up to a few MiB: a 64 KiB stream window and
      // 16 KiB frames would cost the leader a WINDOW_UPDATE round trip per 64 KiB
      // and the follower a data event per 16 KiB (BUN-NOTES.md).
      settings: { initialWindowSize: STREAM_WINDOW, maxFrameSize: MAX_FRAME },
    });
    // The session (connection) window starts at 64 KiB too: without this, the
    // leader waits for a WINDOW_UPDATE from this node's event loop every 64 KiB.
    s.once("connect", () => {
      try {
        s.setLocalWindowSize(SESSION_WINDOW);
      } catch (err) {
        this.opts.logger.debug("could not widen the peer session window", { url, err });
      }
    });
    s.on("error", (err) => this.opts.logger.debug("peer session error", { url, err }));
    const drop = (): void => {
      if (conn.session === s) conn.session = null;
    };
    s.on("close", drop);
    s.on("goaway", drop);
    s.unref();
    conn.session = s;
    return s;
  }

  private once(
    peer: number,
    url: string,
    conn: PeerConn,
    path: string,
    body: Uint8Array,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    sink: Uint8Array[] | undefined,
  ): Promise<Uint8Array | null> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const session = this.session(url, conn);
      const headers: http2.OutgoingHttpHeaders = {
        ":method": "POST",
        ":path": path,
        "content-type": "application/octet-stream",
        [NODE_HEADER]: String(this.opts.nodeId),
      };
      if (this.opts.secret) headers[SECRET_HEADER] = this.opts.secret;
      let settled = false;
      const stream = session.request(headers);
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        finish(() =>
          reject(new EddyError(ErrorCode.TIMEOUT, `peer ${peer} did not answer ${path} in ${timeoutMs} ms`)),
        );
      }, timeoutMs);
      const onAbort = (): void => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        finish(() => reject(signal?.reason));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      let status = 0;
      const chunks: Buffer[] = [];
      let length = 0;
      stream.on("response", (h) => {
        status = Number(h[":status"]);
      });
      stream.on("data", (d: Buffer) => {
        chunks.push(d);
        length += d.length;
      });
      stream.on("end", () => {
        finish(() => {
          if (sink && status >= 200 && status < 300) {
            for (const c of chunks) sink.push(c);
            resolve(null);
            return;
          }
          // One copy at most: a single chunk is handed over as it is.
          const data: Uint8Array = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
          if (status === 0) reject(new Retriable("stream ended without a response"));
          else if (status === 204) resolve(null);
          else if (status >= 200 && status < 300) resolve(data);
          else reject(remoteError(peer, path, status, data));
        });
      });
      stream.on("error", (err) => finish(() => reject(new Retriable(err.message))));
      stream.on("close", () => {
        const code = stream.rstCode ?? 0;
        finish(() =>
          reject(
            RETRIABLE_RESETS.has(code) || code === 0
              ? new Retriable(`stream closed (code ${code})`)
              : new EddyError(ErrorCode.UNKNOWN, `peer ${peer} reset ${path} (code ${code})`),
          ),
        );
      });
      stream.end(body);
    });
  }

  private async acquire(conn: PeerConn, bytes: number): Promise<void> {
    while (conn.inFlight > 0 && conn.inFlight + bytes > this.cap) {
      await new Promise<void>((r) => conn.waiters.push(r));
    }
    conn.inFlight += bytes;
  }

  private release(conn: PeerConn, bytes: number): void {
    conn.inFlight -= bytes;
    const waiters = conn.waiters.splice(0);
    for (const w of waiters) w();
  }
}

function remoteError(peer: number, path: string, status: number, body: Uint8Array): EddyError {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { code?: string; message?: string };
    if (parsed.code && parsed.code in ERROR_TABLE) {
      return new EddyError(parsed.code as Code, parsed.message ?? `peer ${peer} refused ${path}`, {
        peer,
        status,
      });
    }
  } catch {
    // not JSON: fall through
  }
  return new EddyError(ErrorCode.UNKNOWN, `peer ${peer} answered ${path} with HTTP ${status}`, {
    peer,
    status,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
