/** `eddy mirror add|remove` against the real HTTP app with a fake mirror admin. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBroker } from "../../src/broker/index.ts";
import { EddyError, ErrorCode } from "../../src/errors.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { MirrorLinkView } from "../../src/http/routes/mirror.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { run } from "./run-cli.ts";

let url: string;
let dir: string;
let close: () => Promise<void>;
/** Links the fake admin holds: name → the JSON body it was given. */
const stored = new Map<string, unknown>();
const authorizations: Array<string | null> = [];

function view(name: string, body: Record<string, unknown>): MirrorLinkView {
  return {
    name,
    bootstrapServers: body.bootstrap_servers as string[],
    state: "connecting",
    partitions: [],
    lagRecords: 0,
    skippedRecords: 0,
    lastError: null,
    source: "api",
  };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-cli-mirror-"));
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    clock: systemClock,
    metadata: openMetadataStore({ path: ":memory:" }),
    housekeepingIntervalMs: 0,
  });
  const app = createHttpApp({
    broker,
    mirror: {
      links: () => [...stored].map(([name, body]) => view(name, body as Record<string, unknown>)),
      async putLink(name, body) {
        const b = body as Record<string, unknown>;
        if (!Array.isArray(b.bootstrap_servers)) {
          throw new EddyError(ErrorCode.INVALID_CONFIG, "mirror link: bootstrap_servers is required");
        }
        const created = !stored.has(name);
        stored.set(name, b);
        return { created, link: b.enabled === false ? null : view(name, b) };
      },
      async deleteLink(name) {
        if (!stored.delete(name)) throw new EddyError(ErrorCode.NOT_FOUND, `no API mirror link '${name}'`);
      },
    },
  });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      authorizations.push(req.headers.get("authorization"));
      return app.fetch(req);
    },
  });
  url = `http://127.0.0.1:${server.port}`;
  close = async () => {
    await server.stop(true);
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
});

afterAll(async () => {
  await close();
});

describe("eddy mirror add / remove", () => {
  it("creates a link from --json, replaces it from --file, and removes it", async () => {
    const link = { bootstrap_servers: ["kafka:9092"], topics: ["alarms"], source_id: "gw" };
    const added = await run(["mirror", "add", "central", "--json", JSON.stringify(link), "--url", url], {
      env: { EDDY_TOKEN: "tok-1" },
    });
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    expect(added.stdout).toBe(
      'Created mirror link central: connecting, to kafka:9092. See "eddy mirror status".\n',
    );
    expect(stored.get("central")).toEqual(link);
    expect(authorizations.at(-1)).toBe("Bearer tok-1");

    const file = path.join(dir, "link.json");
    fs.writeFileSync(file, JSON.stringify({ ...link, bootstrap_servers: ["k2:9092"], enabled: false }));
    const replaced = await run(["mirror", "--url", url, "add", "central", "--file", file]);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toBe("Replaced mirror link central (enabled = false: stored, not running).\n");
    expect((stored.get("central") as { bootstrap_servers: string[] }).bootstrap_servers).toEqual(["k2:9092"]);

    const status = await run(["mirror", "status", "--json", "--url", url]);
    expect(JSON.parse(status.stdout).links[0].name).toBe("central");

    const removed = await run(["mirror", "remove", "central", "--url", url]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe("Removed mirror link central.\n");
    expect(stored.has("central")).toBe(false);
  });

  it("reports the server's errors with exit code 1", async () => {
    const bad = await run(["mirror", "add", "x", "--json", '{"topics":["a"]}', "--url", url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("bootstrap_servers is required");
    const ghost = await run(["mirror", "remove", "ghost", "--url", url]);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain("error NOT_FOUND: no API mirror link 'ghost'");
  });

  it("usage errors exit 2 without calling the server", async () => {
    const before = authorizations.length;
    for (const argv of [
      ["mirror", "add", "x"],
      ["mirror", "add"],
      ["mirror", "add", "x", "--json", "{}", "--file", "f.json"],
      ["mirror", "add", "x", "--json", "not json"],
      ["mirror", "add", "x", "--json", "[1]"],
      ["mirror", "add", "x", "--file", path.join(dir, "missing.json")],
      ["mirror", "remove"],
      ["mirror", "remove", "a", "b"],
    ]) {
      const r = await run([...argv, "--url", url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("eddy mirror --help");
    }
    expect(authorizations.length).toBe(before);
  });
});
