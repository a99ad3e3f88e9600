/** eddy produce / consume against the real broker over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
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
const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

async function readAll(topic: string, partition: number) {
  return (await srv.broker.readRecords({ topic, partition, offset: 0, maxRecords: 100_000 })).records;
}

describe("eddy produce", () => {
  it("turns stdin lines into records, keys and headers parsed as in Kafka", async () => {
    await srv.broker.createTopic({ name: "p1", partitions: 1 });
    const r = await run(
      [
        "produce",
        "--topic",
        "p1",
        "--url",
        url,
        "--headers",
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--property",
        "null.marker=NULL",
      ],
      { stdin: ["src:gw1,kind:t\tdev1:21.5\n", "\tdev2:19", ".0\r\n", "\tdev3:NULL\n", "\tNULL:no-key"] },
    );
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Produced 4 records to topic p1");
    const recs = await readAll("p1", 0);
    expect(recs.map((x) => [dec(x.key), dec(x.value)])).toEqual([
      ["dev1", "21.5"],
      ["dev2", "19.0"],
      ["dev3", null],
      [null, "no-key"],
    ]);
    expect(recs[0]!.headers.map((h) => [h.key, dec(h.value)])).toEqual([
      ["src", "gw1"],
      ["kind", "t"],
    ]);
    expect(recs[1]!.headers).toEqual([]);
  });

  it("writes to one partition with --partition and reports batches with --verbose", async () => {
    await srv.broker.createTopic({ name: "p2", partitions: 3 });
    const r = await run(["produce", "--topic", "p2", "--partition", "2", "--verbose", "--url", url], {
      stdin: "a\nb\nc\n",
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("sent 3 record(s) to partition 2: offsets 0..2");
    expect((await readAll("p2", 2)).map((x) => dec(x.value))).toEqual(["a", "b", "c"]);
    expect(await readAll("p2", 0)).toEqual([]);
  });

  it("streams a large input in order, in many batches", async () => {
    await srv.broker.createTopic({ name: "p3", partitions: 1 });
    const lines = Array.from({ length: 5000 }, (_, i) => `line-${i}`);
    const text = `${lines.join("\n")}\n`;
    // Chunk boundaries fall inside lines.
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 997) chunks.push(text.slice(i, i + 997));
    const r = await run(["produce", "--topic", "p3", "--batch-size", "128", "--acks", "1", "--url", url], {
      stdin: chunks,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Produced 5000 records");
    expect((await readAll("p3", 0)).map((x) => dec(x.value))).toEqual(lines);
  });

  it("on Ctrl-C sends what it has read and prints the summary", async () => {
    await srv.broker.createTopic({ name: "p6", partitions: 1 });
    const stop = new AbortController();
    const endless = (async function* () {
      yield "one\ntwo\n";
      await new Promise(() => {}); // a terminal that never sends EOF
    })();
    const producing = run(["produce", "--topic", "p6", "--url", url], {
      stdinStream: endless,
      signal: stop.signal,
    });
    await Bun.sleep(100);
    stop.abort();
    const r = await producing;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Produced 2 records");
    expect((await readAll("p6", 0)).map((x) => dec(x.value))).toEqual(["one", "two"]);
  });

  it("stops with a clear error on a line without the key separator", async () => {
    await srv.broker.createTopic({ name: "p4", partitions: 1 });
    const r = await run(["produce", "--topic", "p4", "--property", "parse.key=true", "--url", url], {
      stdin: "k\tv\nno separator here\n",
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("line 2 has no key separator");
  });

  it("reports broker errors (a record over max.message.bytes)", async () => {
    await srv.broker.createTopic({ name: "p5", partitions: 1, configs: { "max.message.bytes": 200 } });
    const r = await run(["produce", "--topic", "p5", "--url", url], { stdin: `${"x".repeat(1000)}\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error (RECORD_TOO_LARGE|BATCH_TOO_LARGE): /);
  });
});

describe("eddy consume", () => {
  beforeAll(async () => {
    await srv.broker.createTopic({ name: "c1", partitions: 2 });
    await srv.broker.produce({
      topic: "c1",
      partition: 0,
      records: [
        { key: enc("k0"), value: enc("v0"), timestamp: 1000, headers: [{ key: "h", value: enc("x") }] },
        { key: enc("k1"), value: enc("v1"), timestamp: 1001 },
        { key: null, value: enc("v2"), timestamp: 1002 },
      ],
    });
    await srv.broker.produce({ topic: "c1", partition: 1, records: [{ value: enc("w0") }, { value: null }] });
  });

  it("reads every partition from the beginning and exits after --max-messages", async () => {
    const r = await run([
      "consume",
      "--topic",
      "c1",
      "--from-beginning",
      "--max-messages",
      "5",
      "--url",
      url,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual(["null", "v0", "v1", "v2", "w0"]);
    expect(r.stderr).toContain("Processed a total of 5 messages");
  });

  it("prints key, timestamp, headers, offset and partition on request", async () => {
    const r = await run([
      "consume",
      "--topic",
      "c1",
      "--partition",
      "0",
      "--offset",
      "0",
      "--max-messages",
      "3",
      "--url",
      url,
      "--property",
      "print.key=true",
      "--property",
      "print.timestamp=true",
      "--property",
      "print.headers=true",
      "--property",
      "print.offset=true",
      "--property",
      "print.partition=true",
      "--property",
      "key.separator=|",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "CreateTime:1000|Partition:0|Offset:0|h:x|k0|v0\n" +
        "CreateTime:1001|Partition:0|Offset:1|NO_HEADERS|k1|v1\n" +
        "CreateTime:1002|Partition:0|Offset:2|NO_HEADERS|null|v2\n",
    );
  });

  it("starts at --offset N of one partition", async () => {
    const r = await run([
      "consume",
      "--topic",
      "c1",
      "--partition",
      "0",
      "--offset",
      "1",
      "--max-messages",
      "2",
      "--url",
      url,
    ]);
    expect(r.stdout).toBe("v1\nv2\n");
  });

  it("exits after --timeout-ms without records (default start: latest)", async () => {
    const r = await run(["consume", "--topic", "c1", "--timeout-ms", "200", "--url", url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Processed a total of 0 messages");
  });

  it("follows the partition live", async () => {
    await srv.broker.createTopic({ name: "live", partitions: 1 });
    const consuming = run([
      "consume",
      "--topic",
      "live",
      "--from-beginning",
      "--max-messages",
      "2",
      "--url",
      url,
    ]);
    await Bun.sleep(100);
    await srv.broker.produce({ topic: "live", records: [{ value: enc("first") }] });
    await Bun.sleep(50);
    await srv.broker.produce({ topic: "live", records: [{ value: enc("second") }] });
    const r = await consuming;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("first\nsecond\n");
  });

  it("stops cleanly when interrupted (Ctrl-C)", async () => {
    const stop = new AbortController();
    const consuming = run(["consume", "--topic", "c1", "--url", url], { signal: stop.signal });
    await Bun.sleep(100);
    stop.abort();
    const r = await consuming;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Processed a total of 0 messages");
  });

  it("with --group starts from committed offsets and commits as it goes", async () => {
    const first = await run([
      "consume",
      "--topic",
      "c1",
      "--group",
      "g1",
      "--from-beginning",
      "--partition",
      "0",
      "--max-messages",
      "2",
      "--url",
      url,
    ]);
    expect(first.stdout).toBe("v0\nv1\n");
    expect(await srv.broker.fetchOffsets("g1", "c1")).toMatchObject([
      { topic: "c1", partition: 0, offset: 2 },
    ]);
    const second = await run([
      "consume",
      "--topic",
      "c1",
      "--group",
      "g1",
      "--partition",
      "0",
      "--timeout-ms",
      "200",
      "--url",
      url,
    ]);
    expect(second.stdout).toBe("v2\n");
    expect((await srv.broker.fetchOffsets("g1", "c1"))[0]!.offset).toBe(3);
  });

  it("rejects a partition the topic does not have", async () => {
    const r = await run(["consume", "--topic", "c1", "--partition", "7", "--url", url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("error PARTITION_NOT_FOUND: ");
  });
});
