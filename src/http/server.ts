/**
 * Serve a hono app with Bun.serve. Port 0 picks a free port; the bound address
 * is returned. stop() ends live streams (via the shutdown controller), lets
 * in-flight requests finish for up to graceMs, then closes what is left.
 */
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
}

export interface HttpServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port (IPv6 hosts in brackets). */
  readonly url: string;
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const host = opts.host ?? "127.0.0.1";
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: host,
      port: opts.port ?? 8080,
      fetch: opts.app.fetch,
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
  const url = `http://${boundHost.includes(":") ? `[${boundHost}]` : boundHost}:${port}`;
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
