/** eddy topics / configs / delete-records against the real broker over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "./run-cli.ts";
import { startServer, type TestServer } from "./server.ts";

let srv: TestServer;
let url: string;
beforeAll(async () => {
  srv = await startServer();
  url = srv.url;
});
afterAll(async () => {
  await srv.close();
});

const enc = (s: string) => new TextEncoder().encode(s);

describe("eddy topics", () => {
  it("creates, lists, describes, alters and deletes a topic", async () => {
    const created = await run([
      "topics",
      "--create",
      "--topic",
      "orders",
      "--partitions",
      "3",
      "--config",
      "retention.ms=3600000",
      "--url",
      url,
    ]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toBe("Created topic orders.\n");
    const d = await srv.broker.describeTopic("orders");
    expect(d.partitions).toHaveLength(3);
    expect(d.overrides["retention.ms"]).toBe("3600000");

    const list = await run(["topics", "--list", "--url", url]);
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n")).toContain("orders");

    await srv.broker.produce({
      topic: "orders",
      partition: 1,
      records: [{ value: enc("a") }, { value: enc("b") }],
    });
    const desc = await run(["topics", "--describe", "--topic", "orders", "--url", url]);
    expect(desc.code).toBe(0);
    expect(desc.stdout).toContain("Topic: orders");
    expect(desc.stdout).toContain("PartitionCount: 3");
    expect(desc.stdout).toContain("Configs: retention.ms=3600000");
    const lines = desc.stdout.trim().split("\n");
    expect(lines[1]).toMatch(/^PARTITION\s+LEADER\s+LOG-START\s+LOG-END\s+HIGH-WATERMARK\s+SIZE$/);
    expect(lines.slice(2).map((l) => l.trim().split(/\s+/).slice(0, 5))).toEqual([
      ["0", "1", "0", "0", "0"],
      ["1", "1", "0", "2", "2"],
      ["2", "1", "0", "0", "0"],
    ]);

    const altered = await run(["topics", "--alter", "--topic", "orders", "--partitions", "5", "--url", url]);
    expect(altered.code).toBe(0);
    expect(altered.stdout).toContain("now has 5 partitions");
    expect((await srv.broker.describeTopic("orders")).partitions).toHaveLength(5);

    const all = await run(["topics", "--describe", "--url", url]);
    expect(all.stdout).toContain("PartitionCount: 5");

    const deleted = await run(["topics", "--delete", "--topic", "orders", "--url", url]);
    expect(deleted.code).toBe(0);
    expect((await run(["topics", "--list", "--url", url])).stdout.split("\n")).not.toContain("orders");
  });

  it("prints API errors as `error CODE: message` with exit 1", async () => {
    await run(["topics", "--create", "--topic", "dup", "--url", url]);
    const again = await run(["topics", "--create", "--topic", "dup", "--url", url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toStartWith("error TOPIC_EXISTS: ");
    const missing = await run(["topics", "--describe", "--topic", "nope", "--url", url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toStartWith("error TOPIC_NOT_FOUND: ");
    const badName = await run(["topics", "--create", "--topic", "bad name!", "--url", url]);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toStartWith("error INVALID_TOPIC: ");
    const badConfig = await run([
      "topics",
      "--create",
      "--topic",
      "c1",
      "--config",
      "no.such.key=1",
      "--url",
      url,
    ]);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toStartWith("error INVALID_CONFIG: ");
  });
});

describe("eddy configs", () => {
  it("describes, sets and resets topic configs", async () => {
    await srv.broker.createTopic({ name: "cfg", partitions: 1 });
    const set = await run([
      "configs",
      "--topic",
      "cfg",
      "--alter",
      "--add-config",
      "retention.ms=60000,durability=write",
      "--url",
      url,
    ]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("Completed updating config for topic cfg");
    let d = await srv.broker.describeTopic("cfg");
    expect(d.overrides).toEqual({ "retention.ms": "60000", durability: "write" });

    const desc = await run(["configs", "--topic", "cfg", "--describe", "--url", url]);
    expect(desc.code).toBe(0);
    expect(desc.stdout).toMatch(/retention\.ms\s+60000\s+topic/);
    expect(desc.stdout).toMatch(/segment\.bytes\s+\d+\s+default/);

    const reset = await run([
      "configs",
      "--topic",
      "cfg",
      "--alter",
      "--delete-config",
      "durability",
      "--url",
      url,
    ]);
    expect(reset.code).toBe(0);
    d = await srv.broker.describeTopic("cfg");
    expect(d.overrides).toEqual({ "retention.ms": "60000" });

    const bad = await run([
      "configs",
      "--topic",
      "cfg",
      "--alter",
      "--add-config",
      "retention.ms=soon",
      "--url",
      url,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toStartWith("error INVALID_CONFIG: ");
  });
});

describe("eddy delete-records", () => {
  it("advances the log start offset", async () => {
    await srv.broker.createTopic({ name: "del", partitions: 1 });
    await srv.broker.produce({
      topic: "del",
      partition: 0,
      records: "0123456789".split("").map((v) => ({ value: enc(v) })),
    });
    const r = await run([
      "delete-records",
      "--topic",
      "del",
      "--partition",
      "0",
      "--offset",
      "4",
      "--url",
      url,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Partition: del-0\tlow_watermark: 4\n");
    expect(srv.broker.partitionState("del", 0).logStartOffset).toBe(4);
    const latest = await run([
      "delete-records",
      "--topic",
      "del",
      "--partition",
      "0",
      "--offset",
      "latest",
      "--url",
      url,
    ]);
    expect(latest.stdout).toContain("low_watermark: 10");
  });
});

describe("broker discovery", () => {
  it("finds the broker through <data-dir>/listeners.json as `eddy serve` writes it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-cli-listeners-"));
    try {
      const { port } = new URL(url);
      fs.writeFileSync(path.join(dir, "listeners.json"), JSON.stringify({ http: `127.0.0.1:${port}` }));
      await srv.broker.createTopic({ name: "found", partitions: 1 });
      const r = await run(["topics", "--list", "--data-dir", dir]);
      expect(r.code).toBe(0);
      expect(r.stdout.split("\n")).toContain("found");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
