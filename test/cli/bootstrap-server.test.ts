/** The client commands over the Kafka protocol (`--bootstrap-server`) against the in-process Kafka listener. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka/server.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createKafkaHarness } from "../kafka/server-harness.ts";
import { systemClock } from "../../src/util/clock.ts";
import { deadUrl, run } from "./run-cli.ts";

let h: { broker: Broker; listener: KafkaListener };
let bs: string[];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-cli-bs-"));

beforeAll(async () => {
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata: openMetadataStore({ path: ":memory:" }),
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: false },
    groups: { initialRebalanceDelayMs: 300, minSessionTimeoutMs: 1000 },
  });
  const listener = await startKafkaListener({
    broker,
    host: "127.0.0.1",
    port: 0,
    logger: silentLogger,
    clock: systemClock,
    sasl: null,
  });
  h = { broker, listener };
  bs = ["--bootstrap-server", `127.0.0.1:${listener.port}`];
});
afterAll(async () => {
  await h.listener.close();
  await h.broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const k = (...argv: string[]) => run([...argv, ...bs]);

describe("topics and configs over --bootstrap-server", () => {
  it("creates, lists, describes, alters and deletes a topic", async () => {
    const created = await k(
      "topics",
      "--create",
      "--topic",
      "bs-t",
      "--partitions",
      "2",
      "--config",
      "retention.ms=1000",
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toBe("Created topic bs-t.\n");
    expect((await h.broker.describeTopic("bs-t")).partitions.length).toBe(2);

    const list = await k("topics", "--list");
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n")).toContain("bs-t");

    const dup = await k("topics", "--create", "--topic", "bs-t");
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("error TOPIC_ALREADY_EXISTS");

    const altered = await k("topics", "--alter", "--topic", "bs-t", "--partitions", "3");
    expect(altered.code).toBe(0);
    expect(altered.stdout).toContain("now has 3 partitions");

    const described = await k("topics", "--describe", "--topic", "bs-t");
    expect(described.code).toBe(0);
    expect(described.stdout).toContain("Topic: bs-t\t");
    expect(described.stdout).toContain("PartitionCount: 3");
    expect(described.stdout).toContain("Configs: retention.ms=1000");
    expect(described.stdout.trim().split("\n").length).toBe(5); // header line, table header, 3 partitions

    const deleted = await k("topics", "--delete", "--topic", "bs-t");
    expect(deleted.code).toBe(0);
    expect((await k("topics", "--list")).stdout.split("\n")).not.toContain("bs-t");
    const missing = await k("topics", "--describe", "--topic", "bs-t");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error UNKNOWN_TOPIC_OR_PARTITION");
  });

  it("describes, sets and resets topic configs", async () => {
    await h.broker.createTopic({ name: "bs-cfg", partitions: 1 });
    const set = await k("configs", "--topic", "bs-cfg", "--alter", "--add-config", "retention.ms=5000");
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    let d = await k("configs", "--topic", "bs-cfg", "--describe");
    expect(d.stdout).toMatch(/retention\.ms\s+5000\s+topic/);
    const reset = await k("configs", "--topic", "bs-cfg", "--alter", "--delete-config", "retention.ms");
    expect(reset.code).toBe(0);
    d = await k("configs", "--topic", "bs-cfg", "--describe");
    expect(d.stdout).toMatch(/retention\.ms\s+\d+\s+default/);
    expect(d.stdout).not.toMatch(/retention\.ms\s+5000/);
  });
});

describe("produce, consume and delete-records over --bootstrap-server", () => {
  beforeAll(async () => {
    await h.broker.createTopic({ name: "bs-pc", partitions: 2 });
  });

  it("produces lines with keys and headers and consumes them back", async () => {
    const p = await run(
      [
        "produce",
        "--topic",
        "bs-pc",
        "--partition",
        "1",
        "--headers",
        "--property",
        "parse.key=true",
        "--verbose",
        ...bs,
      ],
      { stdin: "src:gw1\tk1\tv1\n\tk2\tv2\n" },
    );
    expect(p.code).toBe(0);
    expect(p.stderr).toContain("sent 2 record(s) to partition 1: offsets 0..1");
    expect(p.stderr).toContain("Produced 2 records to topic bs-pc");
    const read = await h.broker.readRecords({ topic: "bs-pc", partition: 1, offset: 0 });
    expect(read.records.map((r) => new TextDecoder().decode(r.value ?? new Uint8Array()))).toEqual([
      "v1",
      "v2",
    ]);

    const c = await run([
      "consume",
      "--topic",
      "bs-pc",
      "--from-beginning",
      "--max-messages",
      "2",
      "--property",
      "print.key=true",
      "--property",
      "print.headers=true",
      "--property",
      "print.partition=true",
      ...bs,
    ]);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe("Partition:1\tsrc:gw1\tk1\tv1\nPartition:1\tNO_HEADERS\tk2\tv2\n");
    expect(c.stderr).toContain("Processed a total of 2 messages");
  });

  it("--group with --partition reads that partition and commits as a simple consumer", async () => {
    const c = await run([
      "consume",
      "--topic",
      "bs-pc",
      "--partition",
      "1",
      "--group",
      "pinned",
      "--from-beginning",
      "--max-messages",
      "1",
      ...bs,
    ]);
    expect(c.stdout).toBe("v1\n");
    const d = await run(["groups", "--describe", "--group", "pinned", ...bs]);
    expect(d.stdout).toMatch(/pinned\s+bs-pc\s+1\s+1\s+2\s+1/);
  });

  it("spreads keyless records, reads one partition from an offset, and stops on --timeout-ms", async () => {
    const p = await run(["produce", "--topic", "bs-pc", ...bs], { stdin: "a\nb\nc\nd\n" });
    expect(p.code).toBe(0);
    const c = await run([
      "consume",
      "--topic",
      "bs-pc",
      "--partition",
      "0",
      "--offset",
      "1",
      "--timeout-ms",
      "300",
      ...bs,
    ]);
    expect(c.code).toBe(0);
    const zero = (await h.broker.readRecords({ topic: "bs-pc", partition: 0, offset: 0 })).records.length;
    expect(zero).toBeGreaterThanOrEqual(2); // round robin put half of the four here
    expect(c.stdout.trim().split("\n").length).toBe(zero - 1);
  });

  it("delete-records advances the log start offset", async () => {
    const r = await run(["delete-records", "--topic", "bs-pc", "--partition", "1", "--offset", "1", ...bs]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Partition: bs-pc-1\tlow_watermark: 1\n");
    const c = await run([
      "consume",
      "--topic",
      "bs-pc",
      "--partition",
      "1",
      "--from-beginning",
      "--timeout-ms",
      "300",
      ...bs,
    ]);
    expect(c.stdout).toBe("v2\nb\nd\n");
  });
});

describe("consumer groups over --bootstrap-server", () => {
  beforeAll(async () => {
    await h.broker.createTopic({ name: "bs-g", partitions: 2 });
    const p = await run(["produce", "--topic", "bs-g", ...bs], { stdin: "a\nb\nc\nd\n" });
    expect(p.code).toBe(0);
  });

  it("consume --group joins as a member and commits; groups lists, describes, resets and deletes", async () => {
    const c = await run([
      "consume",
      "--topic",
      "bs-g",
      "--group",
      "g1",
      "--from-beginning",
      "--max-messages",
      "3",
      "--property",
      "print.partition=true",
      ...bs,
    ]);
    expect(c.stderr).toBe("Processed a total of 3 messages\n");
    expect(c.code).toBe(0);
    const printed = c.stdout.trim().split("\n");
    expect(printed.length).toBe(3);

    expect((await run(["groups", "--list", ...bs])).stdout.split("\n")).toContain("g1");
    const d = await run(["groups", "--describe", "--group", "g1", ...bs]);
    expect(d.code).toBe(0);
    const lag = d.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/));
    expect(lag.map((r) => Number(r[3])).reduce((a, b) => a + b, 0)).toBe(3); // committed = printed
    expect(lag.map((r) => Number(r[5])).reduce((a, b) => a + b, 0)).toBe(1); // one record left

    // The next member of g1 starts at the commits: only the remaining record.
    const rest = await run(["consume", "--topic", "bs-g", "--group", "g1", "--max-messages", "1", ...bs]);
    expect(rest.code).toBe(0);
    expect([...printed.map((l) => l.split("\t")[1]), rest.stdout.trim()].sort()).toEqual([
      "a",
      "b",
      "c",
      "d",
    ]);

    const dry = await run([
      "groups",
      "--reset-offsets",
      "--group",
      "g1",
      "--topic",
      "bs-g:0",
      "--to-earliest",
      ...bs,
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/g1\s+bs-g\s+0\s+2\s+0/);
    expect(dry.stderr).toContain("Dry run");
    const exec = await run([
      "groups",
      "--reset-offsets",
      "--group",
      "g1",
      "--topic",
      "bs-g",
      "--shift-by",
      "-1",
      "--execute",
      ...bs,
    ]);
    expect(exec.code).toBe(0);
    expect(exec.stdout).toMatch(/g1\s+bs-g\s+0\s+2\s+1/);
    expect(exec.stdout).toMatch(/g1\s+bs-g\s+1\s+2\s+1/);
    const again = await run(["consume", "--topic", "bs-g", "--group", "g1", "--max-messages", "2", ...bs]);
    expect(again.stdout.trim().split("\n").sort()).toEqual(["c", "d"]);

    const del = await run(["groups", "--delete", "--group", "g1", ...bs]);
    expect(del.code).toBe(0);
    expect((await run(["groups", "--list", ...bs])).stdout.split("\n")).not.toContain("g1");
  });

  it("two consumers in one group share the partitions", async () => {
    const member = () =>
      run([
        "consume",
        "--topic",
        "bs-g",
        "--group",
        "shared",
        "--from-beginning",
        "--timeout-ms",
        "1500",
        "--property",
        "print.partition=true",
        ...bs,
      ]);
    const [a, b] = await Promise.all([member(), member()]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const partitionsOf = (out: string) =>
      new Set(
        out
          .trim()
          .split("\n")
          .map((l) => l.split("\t")[0]),
      );
    expect(partitionsOf(a.stdout).size).toBe(1);
    expect(partitionsOf(b.stdout).size).toBe(1);
    expect([...partitionsOf(a.stdout), ...partitionsOf(b.stdout)].sort()).toEqual([
      "Partition:0",
      "Partition:1",
    ]);
    const values = [...a.stdout.trim().split("\n"), ...b.stdout.trim().split("\n")].map(
      (l) => l.split("\t")[1],
    );
    expect(values.sort()).toEqual(["a", "b", "c", "d"]);
  });
});

describe("perf over --bootstrap-server", () => {
  it("produces and consumes with a summary line", async () => {
    await h.broker.createTopic({ name: "bs-perf", partitions: 2 });
    const p = await run([
      "perf",
      "produce",
      "--topic",
      "bs-perf",
      "--num-records",
      "2000",
      "--record-size",
      "50",
      ...bs,
    ]);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^2000 records sent, /);
    const hw = await Promise.all([0, 1].map((i) => h.broker.listOffsets("bs-perf", i, "latest")));
    expect(hw[0]!.offset + hw[1]!.offset).toBe(2000);
    const c = await run(["perf", "consume", "--topic", "bs-perf", "--messages", "2000", ...bs]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^2000 records consumed, [\d.]+ records\/sec \(/);
  });
});

describe("connection errors and options", () => {
  it("says clearly when no Kafka broker answers", async () => {
    const port = new URL(await deadUrl()).port;
    const r = await run(["topics", "--list", "--bootstrap-server", `127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: no Kafka broker answers at 127.0.0.1:${port}: start one with \`eddy serve\``,
    );
    expect(r.stderr).toContain("check --bootstrap-server");
  });

  it("rejects malformed flags with usage errors", async () => {
    const bad = await run(["topics", "--list", "--bootstrap-server", "nohost"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--bootstrap-server expects HOST:PORT");
    const both = await run(["topics", "--list", "--url", "http://x", ...bs]);
    expect(both.code).toBe(2);
    const cc = await run(["topics", "--list", "--command-config", path.join(dir, "none.properties")]);
    expect(cc.code).toBe(2);
    expect(cc.stderr).toContain("--command-config needs --bootstrap-server");
  });

  it("reads --command-config (PLAINTEXT properties work; bad SASL settings are usage errors)", async () => {
    const plain = path.join(dir, "plain.properties");
    fs.writeFileSync(plain, "# client settings\nsecurity.protocol=PLAINTEXT\nclient.id=x\n");
    const ok = await run(["topics", "--list", ...bs, "--command-config", plain]);
    expect(ok.code).toBe(0);
    const sasl = path.join(dir, "sasl.properties");
    fs.writeFileSync(sasl, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\n");
    const bad = await run(["topics", "--list", ...bs, "--command-config", sasl]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
  });
});

describe("SASL through --command-config", () => {
  it("authenticates with SCRAM from sasl.jaas.config; explains a refused or dropped connection", async () => {
    const sasl = await createKafkaHarness({
      autoCreateTopics: false,
      sasl: { mechanisms: ["PLAIN", "SCRAM-SHA-256"], users: new Map([["alice", "wonder land"]]) },
    });
    try {
      const sbs = ["--bootstrap-server", `127.0.0.1:${sasl.listener.port}`];
      const good = path.join(dir, "scram.properties");
      fs.writeFileSync(
        good,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\n" +
          'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="wonder land";\n',
      );
      const created = await run(["topics", "--create", "--topic", "s", ...sbs, "--command-config", good]);
      expect(created.stderr).toBe("");
      expect(created.code).toBe(0);
      const p = await run(
        [
          "produce",
          "--topic",
          "s",
          "--acks",
          "0",
          "--property",
          "parse.key=true",
          "--property",
          "null.marker=NULL",
          ...sbs,
          "--command-config",
          good,
        ],
        { stdin: "k\tNULL\n" },
      );
      expect(p.code).toBe(0);
      const c = await run([
        "consume",
        "--topic",
        "s",
        "--from-beginning",
        "--max-messages",
        "1",
        "--property",
        "print.key=true",
        ...sbs,
        "--command-config",
        good,
      ]);
      expect(c.stdout).toBe("k\tnull\n"); // a tombstone

      const wrong = path.join(dir, "wrong.properties");
      fs.writeFileSync(
        wrong,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=alice\nsasl.password=x\n",
      );
      const refused = await run(["topics", "--list", ...sbs, "--command-config", wrong]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("error SASL_AUTHENTICATION_FAILED");
      const none = await run(["topics", "--list", ...sbs]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain("closed the connection");
      expect(none.stderr).toContain("--command-config");
    } finally {
      await sasl.close();
    }
  });
});
