/**
 * Interoperability with libcoap's coap-client-notls (Debian libcoap3-bin,
 * installed by .ci/run) against the in-process listener, with the default
 * abuse controls on (libcoap answers the Echo challenge by itself).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type CoapHarness, createCoapHarness } from "./harness.ts";

const CLIENT = "coap-client-notls";
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => new TextDecoder().decode(b ?? new Uint8Array(0));

let h: CoapHarness;
let dir: string;
let base: string;

beforeAll(async () => {
  h = await createCoapHarness({ echo: {} });
  await h.broker.createTopic({ name: "lib", partitions: 1 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-coap-"));
  base = `coap://127.0.0.1:${h.listener.port}`;
});

afterAll(async () => {
  await h.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function client(...args: string[]): Promise<string> {
  const proc = Bun.spawn([CLIENT, "-B", "5", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`${CLIENT} ${args.join(" ")} exited ${code}: ${err}`);
  return out;
}

describe("libcoap coap-client interop", () => {
  it("PUT publishes, GET reads the latest value, discovery lists the topic", async () => {
    await client("-m", "put", "-t", "0", "-e", "from-libcoap", `${base}/ps/data/lib`);
    const read = await h.broker.readRecords({ topic: "lib", partition: 0, offset: 0 });
    expect(read.records.map((r) => str(r.value))).toEqual(["from-libcoap"]);
    expect((await client(`${base}/ps/data/lib`)).trim()).toBe("from-libcoap");
    const links = await client(`${base}/.well-known/core`);
    expect(links).toContain('</ps/data/lib>;rt="core.ps.data";obs');
  });

  it("Block1 PUT and Block2 GET of a 3000-byte value (64-byte blocks), through the Echo challenge", async () => {
    const file = path.join(dir, "big.txt");
    const body = "0123456789abcdef".repeat(188).slice(0, 3000);
    fs.writeFileSync(file, body);
    await client("-m", "put", "-b", "64", "-f", file, `${base}/ps/data/lib`);
    const end = h.broker.partitionState("lib", 0).highWatermark;
    const read = await h.broker.readRecords({ topic: "lib", partition: 0, offset: end - 1 });
    expect(str(read.records[0]!.value)).toBe(body);
    const out = path.join(dir, "out.txt");
    await client("-b", "64", "-o", out, `${base}/ps/data/lib`);
    expect(fs.readFileSync(out, "utf8")).toBe(body);
  });

  it("observe (-s) receives records produced through the broker", async () => {
    // stdbuf: coap-client writes notifications with stdio, fully buffered on a pipe.
    const proc = Bun.spawn(["stdbuf", "-o0", CLIENT, "-s", "20", "-B", "20", `${base}/ps/data/lib`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = proc.stdout.getReader();
    let seen = "";
    const readUntil = async (needle: string) => {
      while (!seen.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`coap-client ended before printing ${needle}: ${seen}`);
        seen += new TextDecoder().decode(value);
      }
    };
    try {
      // The registration response: the latest value (3000 bytes from the previous test), all its blocks.
      await readUntil("0123456789abcdef".repeat(188).slice(0, 3000));
      for (let i = 0; i < 3; i++) {
        await h.broker.produce({ topic: "lib", records: [{ value: text(`note-${i};`) }], acks: -1 });
        await readUntil(`note-${i};`);
      }
      // A large record then a newer small one: coap-client fetches the rest of the
      // large one block by block (small blocks: its address is not verified by Echo).
      const large = "LARGE-".repeat(400);
      await h.broker.produce({ topic: "lib", records: [{ value: text(large) }], acks: -1 });
      await h.broker.produce({ topic: "lib", records: [{ value: text("after-large;") }], acks: -1 });
      await readUntil("after-large;");
      // coap-client prints each block as it arrives, so the newer notification may sit between
      // blocks of the large one; the blocks must all belong to the large record (same ETag).
      for (;;) {
        if (seen.replaceAll("after-large;", "").includes(large)) break;
        const { value, done } = await reader.read();
        if (done) throw new Error(`coap-client ended before the whole large value: ${seen}`);
        seen += new TextDecoder().decode(value);
      }
      expect(seen.indexOf("note-0;")).toBeLessThan(seen.indexOf("note-1;"));
      expect(seen.indexOf("note-1;")).toBeLessThan(seen.indexOf("note-2;"));
      expect(h.listener.observers()).toBe(1);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });
});
