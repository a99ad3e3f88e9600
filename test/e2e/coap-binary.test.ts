/**
 * libcoap's coap-client-notls (Debian libcoap3-bin, installed by .ci/run)
 * against the compiled binary (dist/eddy) with its default CoAP settings (Echo
 * amplification guard and rate limits on): PUT/GET, discovery, Block1/Block2 with
 * 64-byte blocks, Observe receiving records produced over HTTP, and topic
 * creation (POST) and FETCH filters on the topic collection in core-pubsub+cbor.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { type CborValue, encodeCbor } from "../../bridges/coap/codec/cbor.ts";
import { api, type RunningBinary, useBinary } from "../helpers/binary.ts";

const CLIENT = "coap-client-notls";
const { tmpDir, start } = useBinary();

let eddy: RunningBinary;
let base: string;
let dir: string;

beforeAll(async () => {
  dir = tmpDir();
  eddy = await start(path.join(dir, "data"));
  base = `coap://${eddy.listeners.coap}`;
  const created = await api(`${eddy.url}/v1/topics`, {
    method: "POST",
    json: { name: "devices", partitions: 1 },
  });
  expect(created.status).toBe(201);
}, 300_000);

afterAll(async () => {
  eddy?.proc.kill("SIGTERM");
  await eddy?.proc.exited;
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

async function values(topic: string): Promise<string[]> {
  const r = await api<{ records: Array<{ value: string }> }>(
    `${eddy.url}/v1/topics/${topic}/partitions/0/records?offset=earliest&valueEncoding=string`,
  );
  expect(r.status).toBe(200);
  return r.body.records.map((x) => x.value);
}

async function produce(topic: string, value: string): Promise<void> {
  const r = await api(`${eddy.url}/v1/topics/${topic}/records`, {
    method: "POST",
    json: { records: [{ value }], valueEncoding: "string", acks: "all" },
  });
  expect(r.status).toBe(200);
}

describe("libcoap against the compiled binary", () => {
  it("PUT publishes (read back over HTTP), GET reads the latest value, discovery lists the topic", async () => {
    await client("-m", "put", "-t", "0", "-e", "first", `${base}/ps/data/devices`);
    await client("-m", "put", "-t", "0", "-e", "second", `${base}/ps/data/devices`);
    expect(await values("devices")).toEqual(["first", "second"]);
    expect((await client(`${base}/ps/data/devices`)).trim()).toBe("second");
    const links = await client(`${base}/.well-known/core`);
    expect(links).toContain('</ps/data/devices>;rt="core.ps.data";obs');
    expect(links).toContain("</ps>");
    // An unknown topic: 4.04 (coap-client prints the code and exits non-zero or prints it).
    const missing = Bun.spawnSync([CLIENT, "-B", "5", `${base}/ps/data/no-such-topic`], { stderr: "pipe" });
    expect(`${missing.stdout}${missing.stderr}`).toContain("4.04");
  });

  it("Block1 PUT and Block2 GET of a 3000-byte value in 64-byte blocks", async () => {
    const body = "0123456789abcdef".repeat(188).slice(0, 3000);
    const file = path.join(dir, "big.txt");
    fs.writeFileSync(file, body);
    await client("-m", "put", "-b", "64", "-f", file, `${base}/ps/data/devices`);
    expect((await values("devices")).at(-1)).toBe(body);
    const out = path.join(dir, "out.txt");
    await client("-b", "64", "-o", out, `${base}/ps/data/devices`);
    expect(fs.readFileSync(out, "utf8")).toBe(body);
  });

  it("observe (-s) receives records produced over HTTP, in order", async () => {
    await client("-m", "put", "-t", "0", "-e", "before;", `${base}/ps/data/devices`);
    // stdbuf: coap-client writes notifications with stdio, fully buffered on a pipe.
    const proc = Bun.spawn(["stdbuf", "-o0", CLIENT, "-s", "30", "-B", "30", `${base}/ps/data/devices`], {
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
      await readUntil("before;"); // the registration answer: the latest value
      for (let i = 0; i < 3; i++) {
        await produce("devices", `http-${i};`);
        await readUntil(`http-${i};`);
      }
      expect(seen.indexOf("before;")).toBeLessThan(seen.indexOf("http-0;"));
      expect(seen.indexOf("http-0;")).toBeLessThan(seen.indexOf("http-1;"));
      expect(seen.indexOf("http-1;")).toBeLessThan(seen.indexOf("http-2;"));
      const observers = await api<{ observers: number }>(`${eddy.url}/v1/coap/observers`);
      expect(observers.body.observers).toBe(1);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });

  it("POST creates topics from CBOR and FETCH filters the collection by properties", async () => {
    const cbor = (name: string, entries: Array<[number, CborValue]>) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, encodeCbor(new Map<number, CborValue>(entries)));
      return file;
    };
    for (const [name, type] of [
      ["hall", "temperature"],
      ["porch", "motion"],
      ["loft", "temperature"],
    ] as const) {
      const file = cbor(`${name}.cbor`, [
        [0, name],
        [2, "core.ps.data"],
        [3, 50],
        [4, type],
      ]);
      await client("-m", "post", "-t", "606", "-f", file, `${base}/ps`);
    }
    const filter = cbor("filter.cbor", [[4, "temperature"]]);
    const out = await client("-m", "fetch", "-t", "606", "-f", filter, `${base}/ps`);
    expect(out.trim()).toBe('</ps/hall>;rt="core.ps.conf";ct=606,</ps/loft>;rt="core.ps.conf";ct=606');
    // The created topics are stream topics, visible over HTTP.
    const topics = await api<{ topics: Array<{ name: string }> }>(`${eddy.url}/v1/topics`);
    const names = topics.body.topics.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["hall", "porch", "loft"]));
  });
});
