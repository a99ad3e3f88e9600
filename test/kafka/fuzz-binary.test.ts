/**
 * Fuzzed Kafka frames against the compiled binary (dist/eddy): random frames
 * and mutations of the golden frames (test/kafka/golden/frames.json: bit
 * flips, overwritten bytes, huge lengths, truncation, splices, lying size
 * prefixes) over many short connections. The broker must stay up, answer a
 * normal ApiVersions and Metadata afterwards, and its resident memory
 * (/proc/<pid>/status VmRSS) must settle: a second fuzz round of the same size
 * may not grow it beyond a bound. The PRNG is seeded, so a failure replays.
 */
import { beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { ApiVersions, Metadata } from "../../src/kafka/generated/index.ts";
import { HANDLERS } from "../../src/kafka/handlers/index.ts";
import { encodeRequest } from "../../src/kafka/protocol/messages.ts";
import { type RunningBinary, useBinary } from "../helpers/binary.ts";
import type { GoldenFrame } from "./golden/capture.ts";
import { RawClient } from "./server-harness.ts";
import { SampleBuilder, SCHEMAS } from "./schema-samples.ts";
import { metadataBody } from "./server-requests.ts";

const GOLDEN = (
  JSON.parse(fs.readFileSync(path.join(import.meta.dir, "golden/frames.json"), "utf8")) as GoldenFrame[]
).map((f) => Uint8Array.from(Buffer.from(f.hex, "hex")));
/** EDDY_FUZZ_SEED / EDDY_FUZZ_CONNECTIONS replay a failure or fuzz longer. */
const SEED = Number(process.env.EDDY_FUZZ_SEED ?? 0x5eed_4b41);
const CONNECTIONS_PER_ROUND = Number(process.env.EDDY_FUZZ_CONNECTIONS ?? 300);
const PARALLEL = 16;
/** Allowed VmRSS growth from the end of the first round to the end of the second. */
const RSS_GROWTH_BOUND = 48 * 1024 * 1024;

const { tmpDir, start } = useBinary();
let eddy: RunningBinary;
let port: number;

beforeAll(async () => {
  eddy = await start(tmpDir());
  port = Number(eddy.listeners.kafka!.split(":").pop());
}, 300_000);

/** mulberry32: small, seeded, good enough for fuzzing. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const randomBytes = (r: Rand, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 256));
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe];

function withSize(body: Uint8Array, size = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setInt32(0, size);
  out.set(body, 4);
  return out;
}

/** A frame body with a plausible header (any key and version) and random bytes after it. */
function randomRequest(r: Rand): Uint8Array {
  const body = randomBytes(r, 10 + int(r, 200));
  const view = new DataView(body.buffer);
  view.setInt16(0, r() < 0.8 ? int(r, 75) : int(r, 65536) - 32768);
  view.setInt16(2, r() < 0.8 ? int(r, 16) : int(r, 65536) - 32768);
  if (r() < 0.5) view.setInt16(8, pick(r, [-1, 0, 4, 0x7fff])); // client id length
  return body;
}

function mutate(r: Rand, src: Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  // Mostly past the fixed header (key, version, correlation id, client id length), so bodies get decoded.
  const at = (len: number): number => (r() < 0.75 && len > 12 ? 10 + int(r, len - 10) : int(r, len));
  const rounds = r() < 0.6 ? 1 : 1 + int(r, 4);
  for (let i = 0; i < rounds; i++) {
    if (b.length === 0) b = randomBytes(r, 1 + int(r, 16));
    switch (int(r, 7)) {
      case 0: // bit flips
        for (let k = 0; k <= int(r, 8); k++) b[at(b.length)]! ^= 1 << int(r, 8);
        break;
      case 1: // interesting bytes
        for (let k = 0; k <= int(r, 4); k++) b[at(b.length)] = pick(r, INTERESTING);
        break;
      case 2: // a huge or negative int32 (array and bytes lengths)
        if (b.length >= 4) {
          new DataView(b.buffer).setInt32(
            Math.min(at(b.length), b.length - 4),
            pick(r, [0x7fffffff, -2, 0x10000, 0x01000000, -0x80000000]),
          );
        }
        break;
      case 3: // truncate
        b = b.subarray(0, at(b.length));
        break;
      case 4: {
        // append random bytes
        const out = new Uint8Array(b.length + 1 + int(r, 64));
        out.set(b);
        out.set(randomBytes(r, out.length - b.length), b.length);
        b = out;
        break;
      }
      case 5: {
        // splice in a slice of another golden frame
        const other = pick(r, GOLDEN);
        const from = int(r, other.length);
        const piece = other.subarray(from, from + 1 + int(r, 64));
        const where = at(b.length);
        const out = new Uint8Array(where + piece.length + (b.length - where));
        out.set(b.subarray(0, where));
        out.set(piece, where);
        out.set(b.subarray(where), where + piece.length);
        b = out;
        break;
      }
      default: // another version of the same API
        if (b.length >= 4) new DataView(b.buffer).setInt16(2, int(r, 20) - 2);
    }
  }
  return b;
}

/** What one fuzz connection writes: a few frames, sometimes with a size prefix that lies. */
function connectionBytes(r: Rand): Uint8Array {
  const parts: Uint8Array[] = [];
  const frames = 1 + int(r, 6);
  for (let i = 0; i < frames; i++) {
    const body = r() < 0.25 ? randomRequest(r) : r() < 0.1 ? pick(r, GOLDEN) : mutate(r, pick(r, GOLDEN));
    const lie = r();
    if (lie < 0.04)
      parts.push(withSize(body, body.length + 1 + int(r, 1 << 20))); // waits for bytes that never come
    else if (lie < 0.05)
      parts.push(withSize(body, 104_857_600)); // the largest frame allowed, never sent
    else if (lie < 0.08) parts.push(withSize(body, pick(r, [-1, 0x7fffffff, 104_857_601])));
    else if (lie < 0.1)
      parts.push(randomBytes(r, 1 + int(r, 64))); // no framing at all
    else parts.push(withSize(body));
  }
  return Buffer.concat(parts);
}

/** Responses received by fuzz connections (to check that fuzzing reaches the handlers). */
let answered = 0;

async function fuzzConnection(r: Rand): Promise<void> {
  const bytes = connectionBytes(r);
  const c = await RawClient.connect(port);
  try {
    // Sometimes split the bytes across writes, to exercise frames that span chunks.
    if (r() < 0.3 && bytes.length > 8) {
      const cut = 1 + int(r, bytes.length - 1);
      await c.writeRaw(bytes.subarray(0, cut));
      await Bun.sleep(1);
      await c.writeRaw(bytes.subarray(cut));
    } else {
      await c.writeRaw(bytes);
    }
    await c.waitClosed(40); // the broker closes on most garbage; otherwise we do
    answered += (c as unknown as { frames: Uint8Array[] }).frames.length;
  } finally {
    c.close();
  }
}

async function fuzzRound(r: Rand): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CONNECTIONS_PER_ROUND) {
      next++;
      await fuzzConnection(r);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

/**
 * Structured round: for every served API and version, random but well-formed
 * requests (test/kafka/schema-samples.ts) and mutations of them, so that every
 * handler sees odd values (negative partitions, huge timeouts, empty names...).
 */
async function structuredRound(r: Rand, seed: number): Promise<void> {
  const samples = new SampleBuilder(seed);
  const jobs: Array<() => Promise<void>> = [];
  for (const handler of HANDLERS) {
    const schema = SCHEMAS.get(`${handler.api.name}Request`)!;
    for (let v = handler.minVersion; v <= handler.maxVersion; v++) {
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 8; i++) {
        const body = samples.message(schema, v) as never;
        const chunks = encodeRequest(
          handler.api,
          { apiVersion: v, correlationId: i, clientId: "fuzz" },
          body,
        );
        const frame = Buffer.concat(chunks);
        frames.push(i < 6 ? frame : withSize(mutate(r, frame.subarray(4))));
      }
      jobs.push(async () => {
        const c = await RawClient.connect(port);
        try {
          await c.writeRaw(Buffer.concat(frames));
          await c.waitClosed(40);
          answered += (c as unknown as { frames: Uint8Array[] }).frames.length;
        } finally {
          c.close();
        }
      });
    }
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

async function healthy(): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    const versions = await c.request(ApiVersions, 3, {
      clientSoftwareName: "fuzz-check",
      clientSoftwareVersion: "1",
    });
    expect(versions.errorCode).toBe(0);
    expect(versions.apiKeys.some((k) => k.apiKey === Metadata.apiKey)).toBe(true);
    const md = await c.request(Metadata, 12, metadataBody(null, false));
    expect(md.brokers).toHaveLength(1);
    expect(md.brokers[0]!.port).toBe(port);
  } finally {
    c.close();
  }
}

describe("announced but unsent large frames against dist/eddy", () => {
  it("cost about what was sent, not what was announced", async () => {
    await healthy();
    const before = rssBytes(eddy.proc.pid);
    let peak = before;
    // Waves of connections that announce the largest frame allowed (100 MiB),
    // send 64 KiB of it and stall; later waves may get memory the earlier ones freed.
    for (let wave = 0; wave < 4; wave++) {
      const clients: RawClient[] = [];
      try {
        for (let i = 0; i < 8; i++) {
          const c = await RawClient.connect(port);
          clients.push(c);
          await c.writeRaw(withSize(new Uint8Array(64 * 1024).fill(i), 104_857_600));
        }
        await Bun.sleep(150);
        peak = Math.max(peak, rssBytes(eddy.proc.pid));
        expect(clients.every((c) => !c.closed)).toBe(true); // still waiting for the rest
      } finally {
        for (const c of clients) c.close();
      }
      await Bun.sleep(100);
    }
    expect(peak - before).toBeLessThan(RSS_GROWTH_BOUND);
    await healthy();
  }, 20_000);
});

describe("fuzzed frames against dist/eddy", () => {
  it(`stays up, answers normal requests and keeps its memory bounded (seed ${SEED.toString(16)})`, async () => {
    const r = prng(SEED);
    await healthy();
    // Topics that the samples' names ("a", "topic-1") refer to.
    const setup = await RawClient.connect(port);
    await setup.request(Metadata, 9, metadataBody(["a", "topic-1"], true));
    setup.close();
    await structuredRound(r, SEED);
    await fuzzRound(r);
    expect(eddy.proc.exitCode).toBeNull();
    await healthy();
    await Bun.sleep(200); // let closed connections' memory go
    const afterFirst = rssBytes(eddy.proc.pid);

    await structuredRound(r, SEED + 1);
    await fuzzRound(r);
    await Bun.sleep(200);
    const afterSecond = rssBytes(eddy.proc.pid);
    expect(eddy.proc.exitCode).toBeNull();
    await healthy();
    expect(afterSecond - afterFirst).toBeLessThan(RSS_GROWTH_BOUND);
    // The fuzz reached the handlers: some mutated requests were still answered.
    expect(answered).toBeGreaterThan(20);
    // Every refusal was a handled one: no crash report, no unhandled rejection,
    // no error-level log line (a handler failing in an unexpected way logs one).
    const output = eddy.stdout() + eddy.stderr();
    expect(output).not.toMatch(/panic|Segmentation|unhandled|uncaught/i);
    expect(output.split("\n").filter((l) => l.includes('"level":"error"'))).toEqual([]);
  }, 30_000);
});
