/**
 * Serve a hono app with Bun.serve. Port 0 picks a free port; the bound address
 * is returned. stop() ends live streams (via the shutdown controller), lets
 * in-flight requests finish for up to graceMs, then closes what is left.
 */
import fs from "node:fs";
import type { Server, WebSocketHandler } from "bun";
import type { Hono } from "hono";
import { EddyError, ErrorCode } from "../errors.ts";

export interface HttpServerOptions {
  app: Hono;
  host?: string;
  port?: number;
  /** Aborted first on stop(): pass the same signal to createHttpApp's shutdownSignal. */
  shutdown?: AbortController;
  /** Seconds a connection may stay silent (max 255). SSE heartbeats must come sooner. Default 120. */
  idleTimeoutSeconds?: number;
  /** Largest request body Bun itself accepts (the app enforces its own, smaller limit). Default 64 MiB. */
  maxRequestBodySize?: number;
  /** PEM certificate and key files: serve HTTPS. */
  tls?: { certFile: string; keyFile: string } | null;
  /** Serve WebSockets on one path next to the app (src/main.ts: MQTT over WebSocket at /mqtt). */
  websocket?: WebSocketHook;
}

/**
 * A WebSocket endpoint on the HTTP listener. A request to `path` that asks for a
 * WebSocket (Upgrade: websocket) is offered to `upgrade`: its answer (response
 * headers such as Sec-WebSocket-Protocol, and the socket's data) upgrades the
 * connection, null refuses it with 400. Other requests go to the app. The app's
 * HTTP auth does not apply: the protocol inside authenticates itself.
 */
export interface WebSocketHook {
  path: string;
  upgrade(req: Request): { headers?: Record<string, string>; data: unknown } | null;
  /** Bun's websocket handlers (open, message, drain, close) for the upgraded sockets. */
  handlers: WebSocketHandler<unknown>;
}

export interface HttpServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port or https://… with TLS (IPv6 hosts in brackets). */
  readonly url: string;
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const host = opts.host ?? "127.0.0.1";
  let server: ReturnType<typeof Bun.serve>;
  const tls = opts.tls ? readTls(opts.tls) : undefined;
  try {
    server = Bun.serve({
      tls,
      hostname: host,
      port: opts.port ?? 8080,
      fetch: withWebSocket(opts.app, opts.websocket),
      // Bun wants websocket handlers whenever fetch may upgrade; without a hook nothing upgrades.
      websocket: opts.websocket?.handlers ?? { message() {} },
      idleTimeout: Math.min(255, opts.idleTimeoutSeconds ?? 120),
      maxRequestBodySize: opts.maxRequestBodySize ?? 64 * 1024 * 1024,
    });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === "EADDRINUSE" ? "the address is in use" : (err as Error).message;
    throw new EddyError(
      ErrorCode.INVALID_CONFIG,
      `cannot listen for HTTP on ${host}:${opts.port ?? 8080}: ${why}; choose another address with --http-listen`,
      { host, port: opts.port ?? 8080 },
      { cause: err },
    );
  }
  const port = server.port ?? opts.port ?? 0;
  const boundHost = server.hostname ?? host;
  const url = `${tls ? "https" : "http"}://${boundHost.includes(":") ? `[${boundHost}]` : boundHost}:${port}`;
  let stopping: Promise<void> | undefined;

  return {
    host: boundHost,
    port,
    url,
    stop({ graceMs = 2000 } = {}) {
      stopping ??= (async () => {
        opts.shutdown?.abort();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const graceful = server.stop(false);
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([graceful, timeout]);
        clearTimeout(timer);
        await server.stop(true);
      })();
      return stopping;
    },
  };
}

/** Read the PEM files now, so a missing or unreadable file is a clear start-up error. */
function readTls(files: { certFile: string; keyFile: string }): { cert: string; key: string } {
  const read = (file: string, key: string): string => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new EddyError(
        ErrorCode.INVALID_CONFIG,
        `cannot read ${key} '${file}': ${(err as Error).message}; point it at a PEM file the eddy user can read`,
        { file },
        { cause: err },
      );
    }
  };
  return { cert: read(files.certFile, "http.tls_cert_file"), key: read(files.keyFile, "http.tls_key_file") };
}

function withWebSocket(
  app: Hono,
  hook: WebSocketHook | undefined,
): (req: Request, server: Server<unknown>) => Response | Promise<Response> {
  if (!hook) return (req, server) => app.fetch(req, server);
  return (req, server) => {
    const isUpgrade = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (isUpgrade && new URL(req.url).pathname === hook.path) {
      const answer = hook.upgrade(req);
      // After a successful upgrade Bun expects no response.
      if (answer && server.upgrade(req, { headers: answer.headers, data: answer.data })) {
        return undefined as unknown as Response;
      }
      return Response.json(
        {
          error: {
            code: ErrorCode.INVALID_REQUEST,
            message: `cannot open a WebSocket at ${hook.path}: offer the subprotocol this endpoint speaks (Sec-WebSocket-Protocol)`,
            retriable: false,
          },
        },
        { status: 400 },
      );
    }
    return app.fetch(req, server);
  };
}
