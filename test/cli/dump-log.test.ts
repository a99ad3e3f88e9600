import { afterAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeBatch } from "../../src/broker/index.ts";
import { run } from "./run-cli.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-cli-dump-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeSegment(name: string, parts: Uint8Array[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat(parts));
  return file;
}

const batch1 = encodeBatch(
  [
    {
      key: enc("dev1"),
      value: enc("21.5"),
      timestamp: 1_700_000_000_000,
      headers: [{ key: "src", value: enc("gw") }],
    },
    { key: null, value: enc("hello"), timestamp: 1_700_000_000_001 },
  ],
  { baseOffset: 0 },
);
const batch2 = encodeBatch([{ value: new Uint8Array([0, 1, 2, 255]), timestamp: 1_700_000_000_005 }], {
  baseOffset: 2,
  producerId: 7,
  producerEpoch: 1,
  baseSequence: 3,
});

describe("eddy dump-log", () => {
  it("prints every batch of a .log segment with its header fields", async () => {
    const file = writeSegment("00000000000000000000.log", [batch1, batch2]);
    const r = await run(["dump-log", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Dumping ${file}`);
    expect(r.stdout).toContain("Log starting offset: 0");
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("baseOffset:"));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("baseOffset: 0 lastOffset: 1 count: 2");
    expect(lines[0]).toContain("position: 0");
    expect(lines[0]).toContain(`size: ${batch1.length}`);
    expect(lines[0]).toContain("compresscodec: none");
    expect(lines[0]).toContain("isvalid: true");
    expect(lines[1]).toContain("baseOffset: 2 lastOffset: 2 count: 1");
    expect(lines[1]).toContain(`position: ${batch1.length}`);
    expect(lines[1]).toContain("producerId: 7 producerEpoch: 1");
    expect(lines[1]).toContain("baseSequence: 3 lastSequence: 3");
    expect(lines[1]).toContain("maxTimestamp: 1700000000005");
    // No record lines without --deep-iteration.
    expect(r.stdout).not.toContain("| offset:");
  });

  it("--deep-iteration lists records; --print-data-log adds keys, values and headers", async () => {
    const file = writeSegment("00000000000000000010.log", [batch1, batch2]);
    const deep = await run(["dump-log", file, "--deep-iteration"]);
    expect(deep.code).toBe(0);
    expect(deep.stdout).toContain("| offset: 0 CreateTime: 1700000000000 keySize: 4 valueSize: 4");
    expect(deep.stdout).not.toContain("payload:");
    const data = await run(["dump-log", "--print-data-log", file]);
    expect(data.code).toBe(0);
    expect(data.stdout).toContain("key: dev1 payload: 21.5 headers: src:gw");
    expect(data.stdout).toContain("| offset: 1 CreateTime: 1700000000001 keySize: -1 valueSize: 5");
    expect(data.stdout).toContain("key: null payload: hello");
    expect(data.stdout).toContain("payload: 0x000102ff"); // binary shown as hex
    expect(data.stdout).toContain("sequence: 3");
  });

  it("flags a corrupt batch and a torn tail, exiting 1", async () => {
    const bad = new Uint8Array(batch2);
    bad[bad.length - 1] = bad.at(-1)! ^ 0xff; // flip a byte in the records: CRC mismatch
    const torn = batch1.subarray(0, 30);
    const file = writeSegment("00000000000000000020.log", [batch1, bad, torn]);
    const r = await run(["dump-log", file]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("baseOffset:"));
    expect(lines[0]).toContain("isvalid: true");
    expect(lines[1]).toContain("isvalid: false");
    expect(r.stdout).toContain(`Found 30 bytes at position ${batch1.length + bad.length}`);
  });

  it("lists .index and .timeindex entries with absolute offsets", async () => {
    const index = Buffer.alloc(16);
    index.writeUInt32BE(0, 0);
    index.writeUInt32BE(0, 4);
    index.writeUInt32BE(5, 8);
    index.writeUInt32BE(4096, 12);
    const ixFile = writeSegment("00000000000000000100.index", [index]);
    const ix = await run(["dump-log", ixFile]);
    expect(ix.code).toBe(0);
    expect(ix.stdout).toContain("offset: 100 position: 0\noffset: 105 position: 4096\n2 entries");

    const time = Buffer.alloc(12);
    time.writeBigInt64BE(1_700_000_000_000n, 0);
    time.writeUInt32BE(3, 8);
    const tiFile = writeSegment("00000000000000000100.timeindex", [time]);
    const ti = await run(["dump-log", tiFile]);
    expect(ti.code).toBe(0);
    expect(ti.stdout).toContain("timestamp: 1700000000000 offset: 103\n1 entries");
  });

  it("reports a missing file and usage errors", async () => {
    const missing = await run(["dump-log", path.join(dir, "nope.log")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("cannot read");
    const none = await run(["dump-log"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("give a segment file");
    expect(none.stderr).toContain("eddy dump-log --help");
  });
});
