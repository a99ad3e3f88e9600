/**
 * kcat (librdkafka) against the compiled binary: -L, -P with keys and
 * headers, -C from the beginning / an offset / the end with -e, every
 * compression codec, and one log shared with the HTTP API both ways.
 */
import { beforeAll, describe, expect, it } from "bun:test";
import path from "node:path";
import { api, type RunningBinary, useBinary } from "../helpers/binary.ts";

const { tmpDir, start } = useBinary();
let eddy: RunningBinary;
let bootstrap: string;

beforeAll(async () => {
  eddy = await start(tmpDir());
  bootstrap = eddy.listeners.kafka!;
}, 300_000);

function kcat(
  args: string[],
  input?: string,
  server = bootstrap,
): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(["kcat", "-b", server, "-X", "socket.timeout.ms=5000", ...args], {
    stdin: input === undefined ? "ignore" : Buffer.from(input),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

function consume(topic: string, extra: string[] = []): KcatRecord[] {
  const r = kcat(["-C", "-t", topic, "-e", "-J", "-q", ...extra]);
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as KcatRecord);
}

describe("kcat against dist/eddy", () => {
  it("-L lists this broker as the controller and the topics with their partitions", async () => {
    const created = await api(`${eddy.url}/v1/topics`, {
      method: "POST",
      json: { name: "meta", partitions: 3 },
    });
    expect(created.status).toBe(201);
    const r = kcat(["-L", "-J"]);
    expect(r.code).toBe(0);
    const meta = JSON.parse(r.stdout) as {
      controllerid: number;
      brokers: Array<{ id: number; name: string }>;
      topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }>;
    };
    expect(meta.controllerid).toBe(1);
    expect(meta.brokers).toEqual([{ id: 1, name: bootstrap }]);
    const topic = meta.topics.find((t) => t.topic === "meta")!;
    expect(topic.partitions.map((p) => [p.partition, p.leader])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
  });

  it("-P with keys and headers, then -C from the beginning, from an offset and from the end", () => {
    const p = kcat(
      ["-P", "-t", "kv", "-p", "0", "-K", ":", "-H", "source=kcat", "-H", "n=1"],
      "k1:v1\nk2:v2\nk3:v3\n",
    );
    expect(p.stderr).toBe("");
    expect(p.code).toBe(0);
    const all = consume("kv", ["-o", "beginning"]);
    expect(all.map((r) => [r.offset, r.key, r.payload])).toEqual([
      [0, "k1", "v1"],
      [1, "k2", "v2"],
      [2, "k3", "v3"],
    ]);
    expect(all[0]!.headers).toEqual(["source", "kcat", "n", "1"]);
    expect(consume("kv", ["-o", "1"]).map((r) => r.payload)).toEqual(["v2", "v3"]);
    expect(consume("kv", ["-o", "-1"]).map((r) => r.payload)).toEqual(["v3"]);
    expect(consume("kv", ["-o", "end"])).toEqual([]);
    expect(consume("kv", ["-o", "beginning", "-c", "2"]).map((r) => r.payload)).toEqual(["v1", "v2"]);
  });

  for (const codec of ["gzip", "snappy", "lz4", "zstd"]) {
    it(`-z ${codec}: batches are stored as sent and read back`, () => {
      const lines = Array.from({ length: 50 }, (_, i) => `${codec} record ${i} ${"x".repeat(i)}`);
      const p = kcat(["-P", "-t", `z-${codec}`, "-z", codec], `${lines.join("\n")}\n`);
      expect(p.stderr).toBe("");
      expect(p.code).toBe(0);
      expect(consume(`z-${codec}`, ["-o", "beginning"]).map((r) => r.payload)).toEqual(lines);
    });
  }

  it("records produced over Kafka are readable over HTTP, and the other way round", async () => {
    const p = kcat(["-P", "-t", "shared", "-K", ":"], "from-kafka:hello http\n");
    expect(p.code).toBe(0);
    const read = await api<{ records: Array<{ key: unknown; value: unknown }> }>(
      `${eddy.url}/v1/topics/shared/partitions/0/records?offset=earliest&valueEncoding=string`,
    );
    expect(read.status).toBe(200);
    expect(read.body.records.map((r) => [r.key, r.value])).toEqual([["from-kafka", "hello http"]]);
    const posted = await api(`${eddy.url}/v1/topics/shared/records`, {
      method: "POST",
      json: { records: [{ key: "from-http", value: { n: 1 } }] },
    });
    expect(posted.status).toBe(200);
    expect(consume("shared", ["-o", "beginning"]).map((r) => [r.key, r.payload])).toEqual([
      ["from-kafka", "hello http"],
      ["from-http", '{"n":1}'],
    ]);
  });
});

describe("kcat with SASL over TLS against dist/eddy", () => {
  let secure: RunningBinary;
  let address: string;

  beforeAll(async () => {
    const dir = tmpDir();
    const cert = path.join(dir, "cert.pem");
    const key = path.join(dir, "key.pem");
    const gen = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
      ].concat(["-subj", "/CN=localhost"]),
      { stdout: "ignore", stderr: "pipe" },
    );
    expect(gen.exitCode).toBe(0);
    secure = await start(dir, [
      "--set",
      "kafka.sasl.users=alice:wonder land,bob:builder",
      "--set",
      `kafka.tls_cert_file=${cert}`,
      "--set",
      `kafka.tls_key_file=${key}`,
    ]);
    address = secure.listeners.kafka!;
  }, 300_000);

  const sasl = (mechanism: string, user: string, password: string) => [
    "-X",
    "security.protocol=SASL_SSL",
    "-X",
    "enable.ssl.certificate.verification=false",
    "-X",
    `sasl.mechanisms=${mechanism}`,
    "-X",
    `sasl.username=${user}`,
    "-X",
    `sasl.password=${password}`,
  ];

  for (const mechanism of ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]) {
    it(`${mechanism}: authenticates, produces and consumes`, () => {
      const topic = `sasl-${mechanism.toLowerCase()}`;
      const p = kcat([...sasl(mechanism, "alice", "wonder land"), "-P", "-t", topic], "secret\n", address);
      expect(p.stderr).toBe("");
      expect(p.code).toBe(0);
      const c = kcat(
        [...sasl(mechanism, "alice", "wonder land"), "-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        undefined,
        address,
      );
      expect(c.code).toBe(0);
      expect(c.stdout).toBe("secret\n");
    });
  }

  it("refuses a wrong password and a client without TLS", () => {
    const wrong = kcat([...sasl("SCRAM-SHA-256", "alice", "nope"), "-L"], undefined, address);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr.toLowerCase()).toContain("authentication failed");
    const plain = kcat(["-m", "2", "-L"], undefined, address);
    expect(plain.code).not.toBe(0);
  }, 30_000);
});
