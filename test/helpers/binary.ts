/**
 * Shared harness for tests that drive the compiled binary (dist/eddy): builds
 * it when missing or older than the sources, starts it in a temp data dir with
 * every listener (HTTP, Kafka, MQTT, CoAP) on port 0 — later flags in `extra`
 * override these — reads listeners.json, and kills whatever is left at the end.
 */
import { afterAll, beforeAll } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Subprocess } from "bun";

export const ROOT = path.join(import.meta.dir, "../..");
export const BIN = path.join(ROOT, "dist/eddy");

/** Every listener on a free loopback port, so tests never bind fixed ports. */
export const EPHEMERAL_LISTENERS: readonly string[] = [
  "--http-listen",
  "127.0.0.1:0",
  "--kafka-listen",
  "127.0.0.1:0",
  "--mqtt-listen",
  "127.0.0.1:0",
  "--coap-listen",
  "127.0.0.1:0",
];

export interface RunningBinary {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  dataDir: string;
  /** Addresses from listeners.json, e.g. { http: "127.0.0.1:41234" }. */
  listeners: Record<string, string>;
  url: string;
  stdout: () => string;
  stderr: () => string;
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

function collect(stream: ReadableStream<Uint8Array>): () => string {
  let text = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return () => text;
}

/** Call at the top of a test file: builds the binary if needed and cleans up after the file. */
export function useBinary(): {
  tmpDir: () => string;
  start: (dataDir: string, extra?: string[]) => Promise<RunningBinary>;
  run: (args: string[]) => { code: number; stdout: string; stderr: string };
} {
  const dirs: string[] = [];
  const procs: Subprocess[] = [];

  beforeAll(() => {
    if (!binaryIsStale()) return;
    const r = Bun.spawnSync([process.execPath, "scripts/build.ts", "--target", "x64"], {
      cwd: ROOT,
      stderr: "pipe",
    });
    if (r.exitCode !== 0 || !fs.existsSync(BIN)) {
      throw new Error(`dist/eddy is missing and 'bun scripts/build.ts --target x64' failed:\n${r.stderr}`);
    }
  }, 300_000);

  afterAll(() => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const tmpDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-e2e-"));
    dirs.push(d);
    return d;
  };

  const start = async (dataDir: string, extra: string[] = []): Promise<RunningBinary> => {
    const listenersFile = path.join(dataDir, "listeners.json");
    fs.rmSync(listenersFile, { force: true });
    const proc = Bun.spawn([BIN, "serve", "--data-dir", dataDir, ...EPHEMERAL_LISTENERS, ...extra], {
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
        const listeners = JSON.parse(fs.readFileSync(listenersFile, "utf8")) as Record<string, string>;
        return { proc, dataDir, listeners, url: `http://${listeners.http}`, stdout, stderr };
      }
      if (proc.exitCode !== null) break;
      await Bun.sleep(50);
    }
    throw new Error(`eddy did not start (exit ${proc.exitCode}):\n${stderr()}`);
  };

  const run = (args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = Bun.spawnSync([BIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };

  return { tmpDir, start, run };
}

/** JSON over HTTP, for tests. */
export async function api<T>(
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
