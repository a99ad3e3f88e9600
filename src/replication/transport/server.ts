/**
 * The peer transport's server side: `Bun.serve({ http2: true })`, the fastest
 * HTTP/2 server measured on Bun 1.4.5 (BUN-NOTES.md). Verified here: the
 * `node:http2` client talks cleartext h2c to it (test/cluster/transport.test.ts).
 *
 * Security: cleartext h2c is accepted only on a loopback address (tests, a
 * single host). Anything else needs TLS. Every peer must authenticate: with a
 * shared secret in the `x-eddy-peer-secret` header (compared in constant time)
 * and/or with mutual TLS (a client certificate signed by `tls.ca`).
 *
 * RPC shape: `POST <path>` with an octet-stream body; the handler's bytes come
 * back as 200 (or 204 when it returns null). A handler may answer with a list
 * of chunks (a replica fetch: header + the log's bytes): they go out as one
 * Blob body, which costs the same as a single array, where joining them first
 * cost a copy of every byte (measured: 4 MiB answers, ~1 ms of CPU each). An `EddyError` becomes its HTTP
 * status from ERROR_TABLE with a JSON body `{code, message}`. Handlers may wait
 * (long-poll) as long as they like; `request.signal` fires when the peer gives up.
 * Bulk data should travel in responses (pull), never in request bodies.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ERROR_TABLE, EddyError, ErrorCode, toEddyError } from "../../errors.ts";
import type { Logger } from "../../observability/logger.ts";
import { NODE_HEADER, SECRET_HEADER } from "./headers.ts";

export interface PeerTlsOptions {
  cert: string;
  key: string;
  /** CA that signs peer certificates; with it, clients must present a certificate (mutual TLS). */
  ca?: string;
}

export interface PeerServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  secret?: string;
  tls?: PeerTlsOptions;
  logger: Logger;
  /** Largest request body accepted (default 1 MiB): requests are small, data is pulled. */
  maxRequestBytes?: number;
}

export interface PeerRequest {
  /** The calling node's id, as it says in `x-eddy-node` (authenticated by the secret or certificate). */
  from: number | null;
  body: Uint8Array;
  signal: AbortSignal;
}

/** A handler's answer: bytes, chunks sent one after another, or null (204). */
export type PeerHandler = (req: PeerRequest) => Promise<Uint8Array | readonly Uint8Array[] | null>;

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

export function isLoopback(hostname: string): boolean {
  return LOOPBACK.has(hostname) || hostname.startsWith("127.");
}

export class PeerServer {
  private readonly routes = new Map<string, PeerHandler>();
  private server: ReturnType<typeof Bun.serve> | null = null;
  private readonly secretDigest: Buffer | null;

  constructor(private readonly opts: PeerServerOptions) {
    if (!opts.tls && !isLoopback(opts.hostname)) {
      throw new EddyError(
        ErrorCode.INVALID_CONFIG,
        `peer listener on ${opts.hostname} needs TLS (cleartext h2c is allowed only on loopback): set the peer TLS cert and key`,
      );
    }
    if (!opts.secret && !opts.tls?.ca) {
      throw new EddyError(
        ErrorCode.INVALID_CONFIG,
        "peer listener needs authentication: set a shared peer secret or a TLS CA for client certificates",
      );
    }
    this.secretDigest = opts.secret ? digest(opts.secret) : null;
  }

  route(path: string, handler: PeerHandler): this {
    this.routes.set(path, handler);
    return this;
  }

  get port(): number {
    if (!this.server) throw new EddyError(ErrorCode.INVALID_REQUEST, "peer server is not started");
    return this.server.port ?? 0;
  }

  get url(): string {
    const host = this.opts.hostname.includes(":") ? `[${this.opts.hostname}]` : this.opts.hostname;
    return `${this.opts.tls ? "https" : "http"}://${host}:${this.port}`;
  }

  start(): void {
    const tls = this.opts.tls;
    const options = {
      hostname: this.opts.hostname,
      port: this.opts.port,
      http2: true,
      // Long-poll streams stay open; followers bound them with their own timeouts.
      idleTimeout: 0,
      maxRequestBodySize: this.opts.maxRequestBytes ?? 1024 * 1024,
      ...(tls
        ? {
            tls: {
              cert: tls.cert,
              key: tls.key,
              ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
            },
          }
        : {}),
      fetch: (req: Request) => this.handle(req),
      error: (err: Error) => {
        this.opts.logger.warn("peer server error", { err });
        return new Response(null, { status: 500 });
      },
    };
    this.server = Bun.serve(options as Parameters<typeof Bun.serve>[0]);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await s.stop(true);
  }

  private authorized(req: Request): boolean {
    if (!this.secretDigest) return true; // mutual TLS already checked the certificate
    const given = req.headers.get(SECRET_HEADER);
    return given !== null && timingSafeEqual(digest(given), this.secretDigest);
  }

  private async handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method !== "POST")
      return errorResponse(new EddyError(ErrorCode.INVALID_REQUEST, "peer RPCs use POST"));
    if (!this.authorized(req)) {
      this.opts.logger.warn("peer request refused: bad or missing secret", { path });
      return errorResponse(
        new EddyError(ErrorCode.UNAUTHORIZED, "peer secret mismatch: check cluster secret on both nodes"),
      );
    }
    const handler = this.routes.get(path);
    if (!handler) return errorResponse(new EddyError(ErrorCode.NOT_FOUND, `no peer route ${path}`));
    try {
      const body = new Uint8Array(await req.arrayBuffer());
      const fromHeader = req.headers.get(NODE_HEADER);
      const from = fromHeader !== null && /^\d+$/.test(fromHeader) ? Number(fromHeader) : null;
      const out = await handler({ from, body, signal: req.signal });
      if (out === null) return new Response(null, { status: 204 });
      const payload = out instanceof Uint8Array ? out : new Blob(out as Uint8Array[]);
      return new Response(payload, { status: 200, headers: { "content-type": "application/octet-stream" } });
    } catch (err) {
      const e = toEddyError(err);
      if (e.code === ErrorCode.UNKNOWN) this.opts.logger.error("peer handler failed", { path, err });
      return errorResponse(e);
    }
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function errorResponse(e: EddyError): Response {
  return Response.json({ code: e.code, message: e.message }, { status: ERROR_TABLE[e.code].http });
}
