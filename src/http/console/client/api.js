/**
 * The console's only door to the broker: the public HTTP API (/v1, /health),
 * the same one the CLI uses. Errors keep the API's stable code.
 *
 * Authentication: when the broker has [auth] users or tokens, the login form
 * (login.js) stores an Authorization header value ("Basic …" or "Bearer …")
 * in sessionStorage (gone when the tab closes); every call sends it. A 401
 * forgets it and fires "eddy:login-required" so the shell shows the login form.
 */

const AUTH_KEY = "eddy.authorization";

/** The stored Authorization header value, or null. */
export function authorization() {
  try {
    return sessionStorage.getItem(AUTH_KEY);
  } catch {
    return null;
  }
}

export function setAuthorization(value) {
  if (value) sessionStorage.setItem(AUTH_KEY, value);
  else sessionStorage.removeItem(AUTH_KEY);
  window.dispatchEvent(new CustomEvent("eddy:auth-changed"));
}

/** "Basic base64(user:password)" with UTF-8 names and passwords. */
export function basicAuthorization(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Call the API; resolves to the parsed JSON body (null for 204), rejects with ApiError. */
export async function api(method, path, body, opts = {}) {
  // X-Requested-With: the broker then leaves Basic out of its 401 challenge (no browser password dialog).
  const init = { method, headers: { accept: "application/json", "x-requested-with": "eddy-console" } };
  const auth = opts.authorization ?? authorization();
  if (auth) init.headers.authorization = auth;
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "UNREACHABLE", `the broker does not answer (${err.message}): is it running?`);
  }
  if (res.status === 401 && opts.authorization === undefined) {
    if (auth) setAuthorization(null);
    window.dispatchEvent(new CustomEvent("eddy:login-required"));
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const e = data?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);

/** Path segment escaping for topic and group names. */
export const seg = (s) => encodeURIComponent(s);
