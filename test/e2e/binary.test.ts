/**
 * End to end on the compiled binary (dist/eddy): start it on port 0 in a temp
 * data dir, use it over HTTP and through its own CLI, stop it with SIGTERM,
 * restart it on the same directory and find the records again.
 *
 * The binary is built here (bun scripts/build.ts --target x64) when it is
 * missing or older than the sources; `.ci/run` builds it before the tests.
 */
import { describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { api, EPHEMERAL_LISTENERS, ROOT, type RunningBinary, useBinary } from "../helpers/binary.ts";

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;

const { tmpDir, start: startBroker, run: runBin } = useBinary();

async function stop(broker: RunningBinary, signal: "SIGTERM" | "SIGINT"): Promise<number> {
  broker.proc.kill(signal);
  return broker.proc.exited;
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
    const second = runBin(["serve", "--data-dir", dataDir, ...EPHEMERAL_LISTENERS]);
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
