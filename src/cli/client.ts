/**
 * HTTP client for Eddy's REST API (src/http), used by every client command.
 *
 * Where the broker is: `--url`, else `EDDY_URL`, else the `http` address in
 * `<data-dir>/listeners.json` (--data-dir, default ./eddy-data), else
 * http://127.0.0.1:8080. When nothing answers, NoBrokerError says how to fix it;
 * API errors ({error:{code,message,retriable}}) become ApiError; a 401 says which
 * credentials to pass (--token / --user + --password, or EDDY_TOKEN / EDDY_USER /
 * EDDY_PASSWORD).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export const DEFAULT_URL = "http://127.0.0.1:8080";
export const DEFAULT_DATA_DIR = "./eddy-data";

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retriable: boolean;
  constructor(code: string, message: string, status: number, retriable: boolean) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.retriable = retriable;
  }
}

export class NoBrokerError extends Error {
  readonly url: string;
  constructor(url: string, reason: string) {
    super(`no Eddy broker answers at ${url}: start one with \`eddy serve\` or pass --url (${reason})`);
    this.name = "NoBrokerError";
    this.url = url;
  }
}

export interface ResolveUrlOptions {
  url?: string | undefined;
  dataDir?: string | undefined;
  env?: Record<string, string | undefined>;
}

/** Pick the broker's base URL (no trailing slash). */
export async function resolveUrl(opts: ResolveUrlOptions): Promise<string> {
  const explicit = opts.url ?? opts.env?.EDDY_URL;
  if (explicit) return normaliseUrl(explicit);
  const dir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const fromFile = await readListenersFile(join(dir, "listeners.json"));
  return fromFile ?? DEFAULT_URL;
}

function normaliseUrl(u: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(u) ? u : `http://${u}`;
  return withScheme.replace(/\/+$/, "");
}

/** Read the http listener from listeners.json; tolerant of its exact shape. */
async function readListenersFile(path: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return null;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  const root = doc as Record<string, unknown> | null;
  const http = root?.http ?? (root?.listeners as Record<string, unknown> | undefined)?.http;
  return httpEntryToUrl(http);
}

function httpEntryToUrl(entry: unknown): string | null {
  if (typeof entry === "string") return hostPortUrl(entry);
  if (entry && typeof entry === "object") {
    const e = entry as Record<string, unknown>;
    if (typeof e.url === "string") return normaliseUrl(e.url);
    if (typeof e.address === "string") return hostPortUrl(e.address);
    if (typeof e.host === "string" && typeof e.port === "number") {
      return hostPortUrl(e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);
    }
  }
  return null;
}

/** "0.0.0.0:8080" -> http://127.0.0.1:8080 (a wildcard bind is reachable on loopback). */
function hostPortUrl(hp: string): string {
  if (/^[a-z]+:\/\//i.test(hp)) return normaliseUrl(hp);
  const s = hp.replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
  return normaliseUrl(s);
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

/** Credentials for a broker with [auth] configured: an API token, or a user and password. */
export interface ClientCredentials {
  token?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
}

/** What to pass when the broker answers 401. */
export const AUTH_HINT =
  "pass --token TOKEN (or set EDDY_TOKEN), or --user NAME --password PASSWORD (or EDDY_USER and EDDY_PASSWORD)";

/** The Authorization header value for the credentials, or null when there are none. */
export function authorizationHeader(creds: ClientCredentials | undefined): string | null {
  if (creds?.token) return `Bearer ${creds.token}`;
  if (creds?.user !== undefined && creds.user !== "") {
    return `Basic ${Buffer.from(`${creds.user}:${creds.password ?? ""}`, "utf8").toString("base64")}`;
  }
  return null;
}

export class HttpClient {
  readonly baseUrl: string;
  private readonly authorization: string | null;
  constructor(baseUrl: string, credentials?: ClientCredentials) {
    this.baseUrl = baseUrl;
    this.authorization = authorizationHeader(credentials);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.authorization) headers.authorization = this.authorization;
    const init: RequestInit = { method, headers };
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      headers["content-type"] = "application/json";
    }
    if (opts.signal) init.signal = opts.signal;
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const reason = (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
      throw new NoBrokerError(this.baseUrl, reason);
    }
    const text = await res.text();
    const body = text.length > 0 ? safeJson(text) : undefined;
    if (res.status === 401) throw authError(body, this.authorization !== null);
    if (!res.ok) throw toApiError(res.status, body, text);
    return body as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function authError(body: unknown, sent: boolean): ApiError {
  const server = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
  const what = sent
    ? "the broker refused the credentials given: check them, or"
    : "the broker requires credentials:";
  return new ApiError(
    "UNAUTHORIZED",
    `${what} ${AUTH_HINT}${server ? ` (${String(server)})` : ""}`,
    401,
    false,
  );
}

function toApiError(status: number, body: unknown, text: string): ApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown; retriable?: unknown } } | undefined)
    ?.error;
  if (e && typeof e.code === "string") {
    return new ApiError(e.code, String(e.message ?? ""), status, e.retriable === true);
  }
  const code = status === 404 ? "NOT_FOUND" : status >= 500 ? "UNKNOWN" : "INVALID_REQUEST";
  return new ApiError(code, `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`, status, false);
}

/** Path segment encoding for topic and group names. */
export function seg(s: string | number): string {
  return encodeURIComponent(String(s));
}
