import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Hono } from "hono";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { authenticate, WWW_AUTHENTICATE } from "../../src/http/auth.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock, systemClock } from "../../src/util/clock.ts";
import { CredentialStore, hashPassword, hashToken } from "../../src/util/credentials.ts";

const TOKEN = "eddy_test-token-0123456789";
let broker: Broker;
let credentials: CredentialStore;

beforeAll(async () => {
  broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata: openMetadataStore({ path: ":memory:" }),
    logger: silentLogger,
    clock: systemClock,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: false },
  });
  await broker.createTopic({ name: "t", partitions: 1 });
  credentials = new CredentialStore({
    users: {
      alice: { password_hash: await hashPassword("wonderland", { memoryCost: 1024, timeCost: 1 }) },
      bob: { password: "builder" },
    },
    tokens: { ci: hashToken(TOKEN) },
  });
});
afterAll(async () => {
  await broker.close();
});

function makeApp(opts: { metricsRequireAuth?: boolean; clock?: ManualClock } = {}): Hono {
  return createHttpApp({
    broker,
    logger: silentLogger,
    clock: opts.clock ?? new ManualClock(),
    credentials,
    metricsRequireAuth: opts.metricsRequireAuth,
    authRateLimit: { maxFailures: 5, windowMs: 60_000 },
    version: "test",
  });
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A fake Bun server as hono's env, so the middleware sees a source address. */
const from = (address: string) => ({ requestIP: () => ({ address }) });

function concrete(path: string): string {
  return path
    .replace(/:topic\b/g, "t")
    .replace(/:partition\b/g, "0")
    .replace(/:group\b/g, "g")
    .replace(/:[A-Za-z]+/g, "x")
    .replace(/\*$/, "client/main.js");
}

describe("HTTP authentication", () => {
  it("refuses every API route without credentials, with 401, WWW-Authenticate and the JSON error body", async () => {
    const app = makeApp();
    const open = new Set(["/health", "/ready", "/", "/console", "/console/", "/console/*", "/favicon.ico"]);
    const routes = app.routes.filter((r) => r.path !== "/*" && !open.has(r.path) && r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(15);
    const checked: string[] = [];
    for (const r of routes) {
      const res = await app.request(concrete(r.path), { method: r.method }, from("10.0.0.1"));
      expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({
        route: `${r.method} ${r.path}`,
        status: 401,
      });
      expect(res.headers.get("www-authenticate")).toBe(WWW_AUTHENTICATE);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("UNAUTHORIZED");
      expect(body.error.message).toContain("--token");
      checked.push(`${r.method} ${r.path}`);
    }
    expect(checked).toContain("GET /v1/topics");
    expect(checked).toContain("POST /v1/topics/:topic/records");
    expect(checked).toContain("GET /metrics");
    expect(checked).toContain("GET /openapi.json");
    // An unknown path answers 401 too, not 404: nothing about the API leaks.
    expect((await app.request("/v1/nowhere", {}, from("10.0.0.2"))).status).toBe(401);
  });

  it("offers only Bearer to the console's own calls, so browsers show no password dialog", async () => {
    const app = makeApp();
    const res = await app.request(
      "/v1/topics",
      { headers: { "x-requested-with": "eddy-console" } },
      from("10.0.0.4"),
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="eddy"');
  });

  it("leaves /health, /ready and the console's files open", async () => {
    const app = makeApp();
    for (const path of ["/health", "/ready", "/", "/console/client/api.js", "/console/console.css"]) {
      const res = await app.request(path, {}, from("10.0.0.3"));
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
  });

  it("accepts Basic auth (hashed and plain passwords) and Bearer tokens", async () => {
    const app = makeApp();
    for (const authorization of [basic("alice", "wonderland"), basic("bob", "builder"), `Bearer ${TOKEN}`]) {
      const res = await app.request("/v1/topics", { headers: { authorization } }, from("10.0.1.1"));
      expect(res.status).toBe(200);
      const topics = (await res.json()) as { topics: Array<{ name: string }> };
      expect(JSON.stringify(topics)).toContain('"t"');
    }
    const produce = await app.request(
      "/v1/topics/t/records",
      {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ records: [{ value: "hi" }] }),
      },
      from("10.0.1.1"),
    );
    expect(produce.status).toBe(200);
    // A second login with the same hashed password is served from the verified cache: same answer.
    const again = await app.request(
      "/v1/topics",
      { headers: { authorization: basic("alice", "wonderland") } },
      from("10.0.1.1"),
    );
    expect(again.status).toBe(200);
  });

  it("answers 401 for wrong passwords, unknown users, bad tokens and malformed headers", async () => {
    const app = makeApp();
    const bad = [
      basic("alice", "wonderlanD"),
      basic("alice", ""),
      basic("bob", "builder "),
      basic("carol", "wonderland"),
      `Bearer ${TOKEN}x`,
      `Bearer ${hashToken(TOKEN)}`,
      "Bearer",
      "Basic !!!",
      `Digest ${TOKEN}`,
    ];
    for (const [i, authorization] of bad.entries()) {
      const res = await app.request("/v1/topics", { headers: { authorization } }, from(`10.0.2.${i}`));
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("UNAUTHORIZED");
      expect(body.error.message).toContain("authentication failed");
    }
  });

  it("declares Basic and Bearer in the OpenAPI document", async () => {
    const app = makeApp();
    const res = await app.request("/openapi.json", { headers: { authorization: `Bearer ${TOKEN}` } });
    const doc = (await res.json()) as {
      security: unknown;
      components: { securitySchemes: Record<string, { scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    expect(doc.security).toEqual([{ basic: [] }, { bearer: [] }]);
    expect(doc.components.securitySchemes.basic?.scheme).toBe("basic");
    expect(doc.components.securitySchemes.bearer?.scheme).toBe("bearer");
    expect(doc.paths["/health"]?.get?.security).toEqual([]);
    expect(doc.paths["/v1/topics"]?.get?.security).toBeUndefined();
  });

  it("lets /metrics be scraped without credentials when metrics_require_auth is false", async () => {
    const app = makeApp({ metricsRequireAuth: false });
    expect((await app.request("/metrics", {}, from("10.0.3.1"))).status).toBe(200);
    expect((await app.request("/v1/topics", {}, from("10.0.3.1"))).status).toBe(401);
  });

  it("rate-limits failed attempts per source address until the window passes", async () => {
    const clock = new ManualClock();
    const app = makeApp({ clock });
    const wrong = { headers: { authorization: basic("bob", "nope") } };
    const right = { headers: { authorization: basic("bob", "builder") } };
    // Requests without credentials are not guesses: they never count.
    for (let i = 0; i < 20; i++)
      expect((await app.request("/v1/topics", {}, from("192.0.2.7"))).status).toBe(401);
    for (let i = 0; i < 5; i++) {
      expect((await app.request("/v1/topics", wrong, from("192.0.2.7"))).status).toBe(401);
    }
    const limited = await app.request("/v1/topics", right, from("192.0.2.7"));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    const body = (await limited.json()) as { error: { code: string; retriable: boolean; message: string } };
    expect(body.error).toMatchObject({ code: "UNAUTHORIZED", retriable: true });
    expect(body.error.message).toContain("too many failed logins from 192.0.2.7");
    // Other addresses are not affected; probes stay open.
    expect((await app.request("/v1/topics", right, from("192.0.2.8"))).status).toBe(200);
    expect((await app.request("/health", {}, from("192.0.2.7"))).status).toBe(200);
    clock.advance(30_000);
    expect((await app.request("/v1/topics", right, from("192.0.2.7"))).headers.get("retry-after")).toBe("30");
    clock.advance(30_000);
    expect((await app.request("/v1/topics", right, from("192.0.2.7"))).status).toBe(200);
  });

  it("serves everything without credentials when none are configured", async () => {
    const app = createHttpApp({ broker, credentials: new CredentialStore({ users: {}, tokens: {} }) });
    expect((await app.request("/v1/topics")).status).toBe(200);
  });
});

describe("authenticate()", () => {
  it("names the principal", async () => {
    expect(await authenticate(credentials, `Bearer ${TOKEN}`)).toBe("token:ci");
    expect(await authenticate(credentials, `bearer ${TOKEN}`)).toBe("token:ci");
    expect(await authenticate(credentials, basic("alice", "wonderland"))).toBe("user:alice");
    expect(await authenticate(credentials, basic("bob", "builder:with:colons"))).toBeNull();
    expect(await authenticate(credentials, undefined)).toBeNull();
  });
});
