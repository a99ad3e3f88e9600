/** eddy groups against the real broker over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { run } from "./run-cli.ts";
import { startServer, type TestServer } from "./server.ts";

let srv: TestServer;
let url: string;
const enc = (s: string) => new TextEncoder().encode(s);

beforeAll(async () => {
  srv = await startServer();
  url = srv.url;
  await srv.broker.createTopic({ name: "events", partitions: 2 });
  for (const p of [0, 1]) {
    await srv.broker.produce({
      topic: "events",
      partition: p,
      records: Array.from({ length: 10 }, (_, i) => ({
        value: enc(`${p}-${i}`),
        timestamp: 1_000_000 + i * 1000,
      })),
    });
  }
  await srv.broker.commitOffsets("dash", [
    { topic: "events", partition: 0, offset: 4 },
    { topic: "events", partition: 1, offset: 10 },
  ]);
});
afterAll(async () => {
  await srv.close();
});

const committed = async (group: string) =>
  Object.fromEntries((await srv.broker.fetchOffsets(group, "events")).map((o) => [o.partition, o.offset]));

const rowsOf = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/));

describe("eddy groups", () => {
  it("lists groups and describes lag per partition", async () => {
    const list = await run(["groups", "--list", "--url", url]);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe("dash\n");
    const d = await run(["groups", "--describe", "--group", "dash", "--url", url]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\n/);
    expect(rowsOf(d.stdout)).toEqual([
      ["dash", "events", "0", "4", "10", "6"],
      ["dash", "events", "1", "10", "10", "0"],
    ]);
  });

  it("reset-offsets is a dry run unless --execute", async () => {
    const dry = await run([
      "groups",
      "--reset-offsets",
      "--group",
      "dash",
      "--topic",
      "events",
      "--to-earliest",
      "--url",
      url,
    ]);
    expect(dry.code).toBe(0);
    expect(rowsOf(dry.stdout)).toEqual([
      ["dash", "events", "0", "4", "0"],
      ["dash", "events", "1", "10", "0"],
    ]);
    expect(dry.stderr).toContain("Dry run: nothing was committed");
    expect(await committed("dash")).toEqual({ 0: 4, 1: 10 });

    const exec = await run([
      "groups",
      "--reset-offsets",
      "--group",
      "dash",
      "--topic",
      "events:1",
      "--to-offset",
      "7",
      "--execute",
      "--url",
      url,
    ]);
    expect(exec.code).toBe(0);
    expect(exec.stderr).toBe("");
    expect(rowsOf(exec.stdout)).toEqual([["dash", "events", "1", "10", "7"]]);
    expect(await committed("dash")).toEqual({ 0: 4, 1: 7 });
  });

  it("resets by shift, to latest and to a date-time", async () => {
    await run([
      "groups",
      "--reset-offsets",
      "--group",
      "dash",
      "--topic",
      "events:0",
      "--shift-by",
      "-3",
      "--execute",
      "--url",
      url,
    ]);
    expect((await committed("dash"))[0]).toBe(1);
    await run([
      "groups",
      "--reset-offsets",
      "--group",
      "dash",
      "--topic",
      "events",
      "--to-latest",
      "--execute",
      "--url",
      url,
    ]);
    expect(await committed("dash")).toEqual({ 0: 10, 1: 10 });
    // Record i has timestamp 1_000_000 + i*1000: 1970-01-01T00:16:45Z is 1_005_000 ms -> offset 5.
    const r = await run([
      "groups",
      "--reset-offsets",
      "--group",
      "dash",
      "--topic",
      "events",
      "--to-datetime",
      "1970-01-01T00:16:45Z",
      "--execute",
      "--url",
      url,
    ]);
    expect(r.code).toBe(0);
    expect(await committed("dash")).toEqual({ 0: 5, 1: 5 });
  });

  it("deletes a group; describing an unknown group is an API error", async () => {
    const del = await run(["groups", "--delete", "--group", "dash", "--url", url]);
    expect(del.code).toBe(0);
    expect((await run(["groups", "--list", "--url", url])).stdout).toBe("");
    const d = await run(["groups", "--describe", "--group", "dash", "--url", url]);
    expect(d.code).toBe(1);
    expect(d.stderr).toStartWith("error GROUP_NOT_FOUND: ");
  });
});
