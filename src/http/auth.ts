/**
 * HTTP authentication (hono middleware). With credentials configured, every
 * route needs `Authorization: Basic base64(user:password)` (a configured user)
 * or `Authorization: Bearer <token>` (a configured API token), except:
 * - /health and /ready (probes), and /metrics when `metricsRequireAuth` is false;
 * - the console's static files (`/`, `/console/*`, `/favicon.ico`): they hold
 *   no data, and the console must load to show its login form. All data the
 *   console shows comes from the API, which asks for credentials.
 *
 * A request without valid credentials gets 401 UNAUTHORIZED, the JSON error
 * body and `WWW-Authenticate: Basic realm="eddy", Bearer realm="eddy"` (only
 * Bearer for the console's calls, so the browser shows no password dialog).
 * Failed attempts (wrong credentials; a request with none does not count) are
 * counted per source address: after `maxFailures` within
 * `windowMs` that address gets 429 (with Retry-After) until the window ends,
 * even with good credentials, so passwords cannot be guessed at speed.
 * Comparison is constant-time (CredentialStore).
 */
import type { Context, MiddlewareHandler } from "hono";
import { EddyError, ErrorCode } from "../errors.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import type { CredentialStore } from "../util/credentials.ts";
import { errorBody, errorResponse } from "./errors.ts";

export const WWW_AUTHENTICATE = 'Basic realm="eddy", charset="UTF-8", Bearer realm="eddy"';
/**
 * For the console's own calls (`X-Requested-With: eddy-console`): a Basic
 * challenge would make the browser open its built-in password dialog over
 * the console's login form, so only Bearer is offered.
 */
export const WWW_AUTHENTICATE_CONSOLE = 'Bearer realm="eddy"';

export interface HttpAuthOptions {
  credentials: CredentialStore;
  /** Default true: /metrics needs credentials like the API. */
  metricsRequireAuth?: boolean;
  /** Failed attempts per address before it is refused (default 10)... */
  maxFailures?: number;
  /** ...within this window (default 60 s). */
  windowMs?: number;
  clock: Clock;
  logger: Logger;
}

/** Who made the request: "user:alice" or "token:ci". */
export type Principal = string;

const OPEN_PATHS = new Set(["/health", "/ready", "/", "/favicon.ico", "/console", "/console/"]);

interface Failures {
  count: number;
  since: number;
}

export function httpAuth(opts: HttpAuthOptions): MiddlewareHandler {
  const maxFailures = opts.maxFailures ?? 10;
  const windowMs = opts.windowMs ?? 60_000;
  const failures = new Map<string, Failures>();
  const isOpen = (path: string): boolean =>
    OPEN_PATHS.has(path) ||
    path.startsWith("/console/") ||
    (path === "/metrics" && opts.metricsRequireAuth === false);

  const recentFailures = (addr: string, now: number): Failures | undefined => {
    const f = failures.get(addr);
    if (f && now - f.since >= windowMs) {
      failures.delete(addr);
      return undefined;
    }
    return f;
  };

  return async (c, next) => {
    if (!opts.credentials.enabled || isOpen(c.req.path)) return next();
    const addr = clientAddress(c);
    const now = opts.clock.monotonic();
    const prior = recentFailures(addr, now);
    if (prior && prior.count >= maxFailures) {
      const retryAfter = Math.max(1, Math.ceil((prior.since + windowMs - now) / 1000));
      const err = new EddyError(
        ErrorCode.UNAUTHORIZED,
        `too many failed logins from ${addr}: wait ${retryAfter} s, then retry with the right credentials`,
        { retryAfterSeconds: retryAfter },
      );
      return c.json({ error: { ...errorBody(err).error, retriable: true } }, 429, {
        "retry-after": String(retryAfter),
      });
    }
    const principal = await authenticate(opts.credentials, c.req.header("authorization"));
    if (principal === null) {
      const given = c.req.header("authorization") !== undefined;
      if (given) {
        // Only wrong credentials count: a request with none is not a guess.
        if (failures.size > 10_000) failures.clear(); // a flood of addresses: forget rather than grow
        const f = recentFailures(addr, now) ?? { count: 0, since: now };
        f.count++;
        failures.set(addr, f);
        opts.logger.warn("http: authentication failed", { address: addr, path: c.req.path });
      }
      const res = errorResponse(
        new EddyError(
          ErrorCode.UNAUTHORIZED,
          given
            ? "authentication failed: wrong user name, password or token"
            : "this broker requires credentials: send Authorization: Basic (user and password) or Bearer (API token); with the CLI pass --user/--password or --token",
        ),
      );
      const fromConsole = c.req.header("x-requested-with") === "eddy-console";
      res.headers.set("www-authenticate", fromConsole ? WWW_AUTHENTICATE_CONSOLE : WWW_AUTHENTICATE);
      return res;
    }
    await next();
  };
}

/** Check an Authorization header; the principal, or null. */
export async function authenticate(
  credentials: CredentialStore,
  header: string | undefined,
): Promise<Principal | null> {
  if (!header) return null;
  const space = header.indexOf(" ");
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") {
    const name = credentials.verifyToken(value);
    return name === null ? null : `token:${name}`;
  }
  if (scheme === "basic") {
    let decoded: string;
    try {
      decoded = Buffer.from(value, "base64").toString("utf8");
    } catch {
      return null;
    }
    const colon = decoded.indexOf(":");
    if (colon <= 0) return null;
    const user = decoded.slice(0, colon);
    const ok = await credentials.verifyPassword(user, decoded.slice(colon + 1));
    return ok ? `user:${user}` : null;
  }
  return null;
}

/** The peer's IP address from Bun.serve (c.env is the server), or "unknown" (tests calling app.request()). */
function clientAddress(c: Context): string {
  const env = c.env as { requestIP?: (req: Request) => { address: string } | null } | undefined;
  try {
    return env?.requestIP?.(c.req.raw)?.address ?? "unknown";
  } catch {
    return "unknown";
  }
}
