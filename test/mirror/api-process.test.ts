/**
 * PUT/DELETE /v1/mirror/links/{name} on a real `eddy` process (src/main.ts
 * under Bun) with a second Eddy as the central cluster: the link forwards,
 * bad bodies are a 400 naming the key, and the link is back after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";
import { type CentralEddy, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { waitFor } from "./helpers.ts";

const MAIN = path.join(import.meta.dir, "../../src/main.ts");
let central: CentralEddy;
let dir: string;
let proc: Subprocess | undefined;
let base = "";

function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

async function startEddy(): Promise<void> {
  const port = freePort();
  const config = path.join(dir, "eddy.toml");
  fs.writeFileSync(
    config,
    `data_dir = "${path.join(dir, "data")}"
[logging]
level = "warn"
[listeners]
http = "127.0.0.1:${port}"
kafka = "off"
mqtt = "off"
coap = "off"
`,
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EDDY_")));
  proc = Bun.spawn([process.execPath, MAIN, "--config", config], { stdout: "ignore", stderr: "ignore", env });
  base = `http://127.0.0.1:${port}`;
  await waitFor(
    "eddy to be ready",
    async () => ((await fetch(`${base}/ready`).catch(() => null))?.status === 200 ? true : undefined),
    20_000,
  );
}

async function stopEddy(): Promise<void> {
  proc?.kill("SIGTERM");
  await proc?.exited;
  proc = undefined;
}

const put = (name: string, body: unknown) =>
  fetch(`${base}/v1/mirror/links/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function links(): Promise<Array<{ name: string; source?: string }>> {
  return (
    (await (await fetch(`${base}/v1/mirror/links`)).json()) as {
      links: Array<{ name: string; source?: string }>;
    }
  ).links;
}

beforeAll(async () => {
  central = await startCentralEddy();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-mirror-proc-"));
});
afterAll(async () => {
  await stopEddy();
  await central?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("mirror links over the HTTP API of an eddy process", () => {
  it("adds, validates, keeps across a restart and deletes a link", async () => {
    await startEddy();
    const link = {
      bootstrap_servers: [central.bootstrap],
      topics: ["alarms"],
      remote_naming: "identity",
      discovery_interval_ms: 100,
      retry_backoff_ms: 20,
      max_backoff_ms: 200,
    };
    const bad = await put("up", { ...link, bootstrap_servers: ["no-port"] });
    expect(bad.status).toBe(400);
    const err = ((await bad.json()) as { error: { code: string; details: { path: string } } }).error;
    expect(err).toMatchObject({ code: "INVALID_CONFIG", details: { path: "bootstrap_servers.0" } });

    await fetch(`${base}/v1/topics`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "alarms", partitions: 1 }),
    });
    const created = await put("up", link);
    expect(created.status).toBe(201);
    expect(await links()).toEqual([expect.objectContaining({ name: "up", source: "api" })]);
    const produce = (value: string) =>
      fetch(`${base}/v1/topics/alarms/records`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ records: [{ value }], valueEncoding: "string" }),
      });
    expect((await produce("one")).status).toBeLessThan(300);
    await waitFor("one at central", async () =>
      valuesOf(await central.records("alarms", 0)).length >= 1 ? true : undefined,
    );

    await stopEddy();
    await startEddy();
    expect(await links()).toEqual([expect.objectContaining({ name: "up", source: "api" })]);
    expect((await produce("two")).status).toBeLessThan(300);
    const got = await waitFor("two at central", async () => {
      const v = valuesOf(await central.records("alarms", 0));
      return v.length >= 2 ? v : undefined;
    });
    expect(got).toEqual(["one", "two"]);

    expect((await fetch(`${base}/v1/mirror/links/up`, { method: "DELETE" })).status).toBe(204);
    expect(await links()).toEqual([]);
    await stopEddy();
    await startEddy();
    expect(await links()).toEqual([]);
  }, 60_000);
});
