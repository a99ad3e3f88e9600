/**
 * End to end on the compiled binary (dist/eddy): start it on port 0 in a temp
 * data dir, use it over HTTP and through its own CLI, stop it with SIGTERM,
 * restart it on the same directory and find the records again.
 *
 * The binary is built here (bun scripts/build.ts --target x64) when it is
 * missing or older than the sources; `.ci/run` builds it before the tests.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";

const ROOT = path.join(import.meta.dir, "../..");
const BIN = path.join(ROOT, "dist/eddy");
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;

const dirs: string[] = [];
const procs: Subprocess[] = [];

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-e2e-"));
  dirs.push(d);
  return d;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function binaryIsStale(): boolean {
  if (!fs.existsSync(BIN)) return true;
  const built = fs.statSync(BIN).mtimeMs;
  const sources = Math.max(
    newestMtime(path.join(ROOT, "src")),
    fs.existsSync(path.join(ROOT, "bridges")) ? newestMtime(path.join(ROOT, "bridges")) : 0,
    fs.statSync(path.join(ROOT, "package.json")).mtimeMs,
  );
  return sources > built;
}

beforeAll(() => {
  if (!binaryIsStale()) return;
  const r = Bun.spawnSync([process.execPath, "scripts/build.ts", "--target", "x64"], {
    cwd: ROOT,
    stderr: "pipe",
  });
  if (r.exitCode !== 0 || !fs.existsSync(BIN)) {
    throw new Error(
      `dist/eddy is missing and 'bun scripts/build.ts --target x64' failed:\n${r.stderr.toString()}`,
    );
  }
}, 300_000);

afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Broker {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  url: string;
  stdout: () => string;
  stderr: () => string;
}

function collect(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return () => text;
}

async function startBroker(dataDir: string, extra: string[] = []): Promise<Broker> {
  const listenersFile = path.join(dataDir, "listeners.json");
  const proc = Bun.spawn([BIN, "serve", "--data-dir", dataDir, "--http-listen", "127.0.0.1:0", ...extra], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, EDDY_LOG_FORMAT: "json" },
  });
  procs.push(proc);
  const stdout = collect(proc.stdout);
  const stderr = collect(proc.stderr);
  for (let i = 0; i < 400; i++) {
    if (fs.existsSync(listenersFile)) {
      const listeners = JSON.parse(fs.readFileSync(listenersFile, "utf8")) as { http: string };
      return { proc, url: `http://${listeners.http}`, stdout, stderr };
    }
    if (proc.exitCode !== null) break;
    await Bun.sleep(50);
  }
  throw new Error(`eddy did not start (exit ${proc.exitCode}):\n${stderr()}`);
}

async function stop(broker: Broker, signal: "SIGTERM" | "SIGINT"): Promise<number> {
  broker.proc.kill(signal);
  return broker.proc.exited;
}

async function api<T>(
  url: string,
  init?: RequestInit & { json?: unknown },
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    ...init,
    headers: init?.json !== undefined ? { "content-type": "application/json" } : undefined,
    body: init?.json !== undefined ? JSON.stringify(init.json) : init?.body,
  });
  return { status: res.status, body: (await res.json()) as T };
}

interface ReadBody {
  records: Array<{ offset: number; key: unknown; value: unknown }>;
}

async function readAll(
  url: string,
  topic: string,
  partitions: number,
): Promise<Array<{ key: unknown; value: unknown }>> {
  const all: Array<{ key: unknown; value: unknown }> = [];
  for (let p = 0; p < partitions; p++) {
    const { status, body } = await api<ReadBody>(
      `${url}/v1/topics/${topic}/partitions/${p}/records?offset=earliest`,
    );
    expect(status).toBe(200);
    all.push(...body.records.map((r) => ({ key: r.key, value: r.value })));
  }
  return all.sort((a, b) => String(a.key).localeCompare(String(b.key)));
}

function runBin(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([BIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("the eddy binary", () => {
  it("prints its version", () => {
    for (const arg of ["--version", "version"]) {
      const r = runBin([arg]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`eddy ${VERSION}`);
    }
  });

  it("serves over HTTP and its CLI, stops on SIGTERM with exit 0, and keeps records across a restart", async () => {
    const dataDir = tmpDir();
    const first = await startBroker(dataDir);
    const address = first.url.replace("http://", "");
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(address).not.toBe("127.0.0.1:0");

    const created = await api<{ name: string }>(`${first.url}/v1/topics`, {
      method: "POST",
      json: { name: "e2e", partitions: 2 },
    });
    expect(created.status).toBe(201);

    const records = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: { n: i } }));
    const produced = await api<{ records: Array<{ partition: number; offset: number }> }>(
      `${first.url}/v1/topics/e2e/records`,
      { method: "POST", json: { records, acks: "all" } },
    );
    expect(produced.status).toBe(200);
    expect(produced.body.records).toHaveLength(10);
    const expected = records.map((r) => ({ key: r.key, value: r.value }));
    expect(await readAll(first.url, "e2e", 2)).toEqual(expected);

    const list = runBin(["topics", "--list", "--url", first.url]);
    expect(list.stderr).toBe("");
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n")).toContain("e2e");

    // The banner names the version and the real address; listeners.json and the lock exist while running.
    expect(first.stdout()).toContain(`Eddy ${VERSION}`);
    expect(first.stdout()).toContain(first.url);
    expect(fs.existsSync(path.join(dataDir, "eddy.lock"))).toBe(true);

    // A second broker on the same directory is refused.
    const second = runBin(["serve", "--data-dir", dataDir, "--http-listen", "127.0.0.1:0"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("already using");

    expect(await stop(first, "SIGTERM")).toBe(0);
    expect(fs.existsSync(path.join(dataDir, "listeners.json"))).toBe(false);
    expect(fs.existsSync(path.join(dataDir, "eddy.lock"))).toBe(false);

    const again = await startBroker(dataDir);
    expect(await readAll(again.url, "e2e", 2)).toEqual(expected);
    expect(await stop(again, "SIGINT")).toBe(0);
  }, 60_000);

  it("stops with exit code 2 and names the key on a bad config", () => {
    const bad = runBin(["serve", "--data-dir", tmpDir(), "--http-listen", "abc"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("listeners.http: expected host:port");
    expect(bad.stderr).toContain("'abc'");

    const file = path.join(tmpDir(), "eddy.toml");
    fs.writeFileSync(file, '[broker]\nnum_partitions = "many"\n');
    const badToml = runBin(["serve", "--config", file]);
    expect(badToml.code).toBe(2);
    expect(badToml.stderr).toContain("broker.num_partitions");
    expect(badToml.stderr).toContain("'many'");

    const open = runBin(["serve", "--data-dir", tmpDir(), "--http-listen", "0.0.0.0:0"]);
    expect(open.code).toBe(2);
    expect(open.stderr).toContain("auth.allow_anonymous");
  });
});
