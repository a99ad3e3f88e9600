/**
 * PUT/DELETE /v1/mirror/links/{name} over a fake MirrorAdmin provider
 * (src/http knows no bridge): status codes, errors passed through with their
 * key path, bodies handed over as sent, and the OpenAPI entries.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { createBroker } from "../../src/broker/index.ts";
import { EddyError, ErrorCode } from "../../src/errors.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { MirrorAdmin, MirrorLinkView } from "../../src/http/routes/mirror.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function newBroker() {
  const metadata = await openMetadataStore({ path: ":memory:" });
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
  });
  cleanup.push(() => broker.close());
  return broker;
}

function view(name: string, source: "config" | "api"): MirrorLinkView {
  return {
    name,
    bootstrapServers: ["central:9092"],
    state: "connecting",
    partitions: [],
    lagRecords: 0,
    skippedRecords: 0,
    lastError: null,
    source,
  };
}

/** An in-memory provider: "central" comes from config; bodies need bootstrap_servers. */
function fakeAdmin(): MirrorAdmin & { bodies: Map<string, unknown> } {
  const bodies = new Map<string, unknown>();
  return {
    bodies,
    links: () => [view("central", "config"), ...[...bodies.keys()].map((n) => view(n, "api"))],
    async putLink(name, body) {
      if (name === "central") {
        throw new EddyError(
          ErrorCode.INVALID_REQUEST,
          "mirror link 'central' is defined in eddy.toml, which wins",
        );
      }
      if (!Array.isArray((body as { bootstrap_servers?: unknown }).bootstrap_servers)) {
        throw new EddyError(ErrorCode.INVALID_CONFIG, "invalid mirror link at bootstrap_servers: required", {
          path: "bootstrap_servers",
        });
      }
      const created = !bodies.has(name);
      bodies.set(name, body);
      return { created, link: view(name, "api") };
    },
    async deleteLink(name) {
      if (!bodies.delete(name)) throw new EddyError(ErrorCode.NOT_FOUND, `no mirror link '${name}'`);
    },
  };
}

const put = (body: string) => ({ method: "PUT", body, headers: { "content-type": "application/json" } });

describe("mirror link management", () => {
  it("creates (201), replaces (200), lists and deletes (204) links through the provider", async () => {
    const admin = fakeAdmin();
    const app = createHttpApp({ broker: await newBroker(), mirror: admin });
    const body = { bootstrap_servers: ["central:9092"], topics: ["alarms"] };
    const created = await app.request("/v1/mirror/links/uplink", put(JSON.stringify(body)));
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ created: true, link: view("uplink", "api") });
    expect(admin.bodies.get("uplink")).toEqual(body);

    const replaced = await app.request(
      "/v1/mirror/links/uplink",
      put(JSON.stringify({ ...body, topics: ["x"] })),
    );
    expect(replaced.status).toBe(200);
    expect(((await replaced.json()) as { created: boolean }).created).toBe(false);
    expect(admin.bodies.get("uplink")).toEqual({ ...body, topics: ["x"] });

    const list = (await (await app.request("/v1/mirror/links")).json()) as { links: MirrorLinkView[] };
    expect(list.links.map((l) => `${l.name}:${l.source}`)).toEqual(["central:config", "uplink:api"]);

    expect((await app.request("/v1/mirror/links/uplink", { method: "DELETE" })).status).toBe(204);
    expect(admin.bodies.has("uplink")).toBe(false);
    const missing = await app.request("/v1/mirror/links/uplink", { method: "DELETE" });
    expect(missing.status).toBe(404);
  });

  it("answers 400 with the key path for an invalid link, a config link or a body that is not an object", async () => {
    const app = createHttpApp({ broker: await newBroker(), mirror: fakeAdmin() });
    const invalid = await app.request("/v1/mirror/links/uplink", put(JSON.stringify({ topics: ["a"] })));
    expect(invalid.status).toBe(400);
    const err = ((await invalid.json()) as { error: { code: string; details: { path: string } } }).error;
    expect(err.code).toBe("INVALID_CONFIG");
    expect(err.details.path).toBe("bootstrap_servers");

    const config = await app.request(
      "/v1/mirror/links/central",
      put(JSON.stringify({ bootstrap_servers: [] })),
    );
    expect(config.status).toBe(400);
    expect(((await config.json()) as { error: { message: string } }).error.message).toContain("eddy.toml");

    expect((await app.request("/v1/mirror/links/uplink", put("[1, 2]"))).status).toBe(400);
    expect((await app.request("/v1/mirror/links/uplink", put("{not json"))).status).toBe(400);
  });

  it("answers 404 with a hint when the provider cannot change links", async () => {
    const app = createHttpApp({ broker: await newBroker(), mirror: { links: () => [] } });
    const res = await app.request("/v1/mirror/links/uplink", put("{}"));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      "[[mirror.links]]",
    );
    expect((await app.request("/v1/mirror/links/uplink", { method: "DELETE" })).status).toBe(404);
  });

  it("documents both routes in /openapi.json", async () => {
    const app = createHttpApp({ broker: await newBroker() });
    const doc = (await (await app.request("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { requestBody?: unknown; parameters?: Array<{ name: string }> }>>;
    };
    const path = doc.paths["/v1/mirror/links/{name}"];
    expect(path?.put?.requestBody).toBeDefined();
    expect(path?.put?.parameters?.map((p) => p.name)).toEqual(["name"]);
    expect(path?.delete).toBeDefined();
  });
});
