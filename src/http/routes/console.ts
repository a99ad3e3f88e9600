/**
 * The web console: a static single-page app served at `/`, its files under
 * `/console/…`. The files live in src/http/console/ and are embedded into the
 * executable through the generated module console/generated/assets.ts
 * (regenerate with `bun scripts/gen-console.ts`; a test checks it is current),
 * so the console works with no internet and no files beside the binary.
 *
 * The console talks only to the public /v1 API, like the CLI. A strict
 * Content-Security-Policy allows nothing but this origin: no CDN, no inline script.
 */
import type { Context, Hono } from "hono";
import { CONSOLE_ASSETS } from "../console/generated/assets.ts";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  svg: "image/svg+xml",
};

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

function buildAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const [name, body] of Object.entries(CONSOLE_ASSETS)) {
    const ext = name.slice(name.lastIndexOf(".") + 1);
    const contentType = CONTENT_TYPES[ext];
    if (!contentType) continue;
    out.set(name, { body, contentType, etag: `"${Bun.hash(body).toString(36)}"` });
  }
  return out;
}

export function registerConsoleRoutes(app: Hono): void {
  let assets: Map<string, Asset> | undefined;
  const serve = (c: Context, name: string): Response | Promise<Response> => {
    assets ??= buildAssets();
    const asset = assets.get(name);
    if (!asset) return c.notFound();
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "content-type": asset.contentType,
      "cache-control": "no-cache",
      etag: asset.etag,
    };
    if (c.req.header("if-none-match") === asset.etag) return new Response(null, { status: 304, headers });
    return new Response(c.req.method === "HEAD" ? null : asset.body, { headers });
  };
  app.get("/", (c) => serve(c, "index.html"));
  app.get("/console", (c) => c.redirect("/", 302));
  app.get("/console/", (c) => c.redirect("/", 302));
  app.get("/favicon.ico", (c) => serve(c, "favicon.svg"));
  app.get("/console/*", (c) => {
    const name = c.req.path.slice("/console/".length);
    // Only names in the embedded map are served: no path is ever joined onto the file system.
    return serve(c, name === "index.html" ? "" : name);
  });
}
