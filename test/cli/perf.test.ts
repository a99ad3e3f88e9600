/** eddy perf produce / consume against the real broker over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { run } from "./run-cli.ts";
import { startServer, type TestServer } from "./server.ts";

let srv: TestServer;
let url: string;
beforeAll(async () => {
  srv = await startServer();
  url = srv.url;
  await srv.broker.createTopic({ name: "bench", partitions: 2 });
});
afterAll(async () => {
  await srv.close();
});

const SUMMARY =
  /^(\d+) records (sent|consumed), [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, [\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.\n$/;

describe("eddy perf", () => {
  it("produce sends --num-records records of --record-size bytes and prints a summary", async () => {
    const r = await run([
      "perf",
      "produce",
      "--topic",
      "bench",
      "--num-records",
      "3000",
      "--record-size",
      "100",
      "--batch-size",
      "250",
      "--url",
      url,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(SUMMARY);
    expect(r.stdout).toStartWith("3000 records sent");
    const d = await srv.broker.describeTopic("bench");
    expect(d.partitions.reduce((n, p) => n + p.logEndOffset, 0)).toBe(3000);
    const one = await srv.broker.readRecords({
      topic: "bench",
      partition: d.partitions[0]!.logEndOffset > 0 ? 0 : 1,
      offset: 0,
      maxRecords: 1,
    });
    expect(one.records[0]!.value!.length).toBe(100);
  });

  it("consume reads --messages records across partitions", async () => {
    const r = await run(["perf", "consume", "--topic", "bench", "--messages", "3000", "--url", url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(SUMMARY);
    expect(r.stdout).toStartWith("3000 records consumed");
  });

  it("consume warns when fewer records arrive before --timeout", async () => {
    const r = await run([
      "perf",
      "consume",
      "--topic",
      "bench",
      "--messages",
      "5000",
      "--timeout",
      "300",
      "--url",
      url,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("WARNING: exiting before consuming the expected number of messages");
    expect(r.stdout).toStartWith("3000 records consumed");
  });

  it("draws a progress bar on a TTY and honours --throughput", async () => {
    const r = await run(
      [
        "perf",
        "produce",
        "--topic",
        "bench",
        "--num-records",
        "200",
        "--record-size",
        "10",
        "--batch-size",
        "50",
        "--throughput",
        "2000",
        "--acks",
        "1",
        "--url",
        url,
      ],
      { stderrIsTTY: true },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("] 100% 200/200");
    expect(r.stderr).toEndWith("\n");
    expect(r.stdout).toStartWith("200 records sent");
  });

  it("fails with the API error for an unknown topic", async () => {
    const r = await run([
      "perf",
      "produce",
      "--topic",
      "nope",
      "--num-records",
      "1",
      "--record-size",
      "1",
      "--url",
      url,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("error TOPIC_NOT_FOUND: ");
  });
});
