/** The console's static routes, its security headers, /v1/stats, and the generated asset module. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import { GENERATED_FILE, renderConsoleAssets } from "../../scripts/gen-console.ts";
import { CONSOLE_ASSETS } from "../../src/http/console/generated/assets.ts";
import { type ConsoleServer, startConsoleServer } from "./server.ts";

let srv: ConsoleServer;
beforeAll(async () => {
  srv = await startConsoleServer();
});
afterAll(async () => {
  await srv.close();
});

describe("console routes", () => {
  it("serves the page at / with a strict CSP and no external references", async () => {
    const res = await fetch(`${srv.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/console/client/main.js"></script>');
    // Works offline: nothing is loaded from another origin.
    for (const text of Object.values(CONSOLE_ASSETS)) expect(text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it("serves every embedded file with its content type, and 304 for a matching ETag", async () => {
    const types: Record<string, string> = { js: "text/javascript", css: "text/css", svg: "image/svg+xml" };
    for (const name of Object.keys(CONSOLE_ASSETS)) {
      if (name === "index.html") continue;
      const res = await fetch(`${srv.url}/console/${name}`);
      expect(res.status).toBe(200);
      const ext = name.slice(name.lastIndexOf(".") + 1);
      expect(res.headers.get("content-type")).toStartWith(types[ext]!);
      expect(await res.text()).toBe(CONSOLE_ASSETS[name]!);
      const etag = res.headers.get("etag")!;
      const again = await fetch(`${srv.url}/console/${name}`, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
    }
    expect((await fetch(`${srv.url}/favicon.ico`)).headers.get("content-type")).toBe("image/svg+xml");
  });

  it("answers unknown console paths with the API's JSON 404, never reading the file system", async () => {
    for (const p of [
      "/console/nope.js",
      "/console/../package.json",
      "/console/%2e%2e/package.json",
      "/console/generated/assets.ts",
    ]) {
      const res = await fetch(`${srv.url}${p}`);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe("NOT_FOUND");
    }
    const redirect = await fetch(`${srv.url}/console`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("/");
  });

  it("can be turned off", async () => {
    const { createHttpApp } = await import("../../src/http/app.ts");
    const app = createHttpApp({ broker: srv.broker, console: false });
    expect((await app.request("/")).status).toBe(404);
  });

  it("the generated module matches src/http/console (run `bun scripts/gen-console.ts`)", () => {
    expect(fs.readFileSync(GENERATED_FILE, "utf8")).toBe(renderConsoleAssets());
    expect(Object.keys(CONSOLE_ASSETS)).toContain("client/main.js");
  });
});

describe("GET /v1/stats", () => {
  it("reports totals, traffic counters and the data directory's disk", async () => {
    await srv.broker.createTopic({ name: "stats-a", partitions: 2 });
    await srv.broker.produce({
      topic: "stats-a",
      partition: 1,
      records: [1, 2, 3].map((i) => ({ key: null, value: new TextEncoder().encode(`v${i}`), headers: [] })),
    });
    const res = await fetch(`${srv.url}/v1/stats`);
    expect(res.status).toBe(200);
    const s = (await res.json()) as Record<string, unknown> & { disk: Record<string, unknown> };
    expect(s.topics).toBe(1);
    expect(s.partitions).toBe(2);
    expect(s.records).toBe(3);
    expect(s.appendedRecords).toBe(3);
    expect(s.logBytes as number).toBeGreaterThan(0);
    expect(s.disk.path).toBe(srv.dataDir);
    expect(s.disk.totalBytes as number).toBeGreaterThan(0);
    expect(s.disk.freeBytes as number).toBeLessThanOrEqual(s.disk.totalBytes as number);
    await srv.broker.deleteTopic("stats-a");
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/v1/stats");
  });
});
