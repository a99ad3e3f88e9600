/**
 * Replica fetch bodies as chunks: the leader answers [header, the log's
 * bytes] without joining them (PeerServer sends a list of chunks as one
 * body), the follower takes the body as it arrived (PeerClient `sink`) and
 * cuts it into batches (fetch-body.ts), copying only a batch that straddles
 * two chunks.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { EddyError, ErrorCode } from "../../src/errors.ts";
import { decodeFetchBody } from "../../src/cluster/fetch-body.ts";
import { encodeFetchResponse, encodeFetchResponseChunks } from "../../src/cluster/peer-protocol.ts";
import { encodeBatch } from "../../src/log/record-batch.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { PeerClient } from "../../src/replication/transport/client.ts";
import { PeerServer } from "../../src/replication/transport/server.ts";

const SECRET = "chunks-secret";
const enc = new TextEncoder();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function batches(count: number, valueBytes: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    encodeBatch([
      { key: null, value: new Uint8Array(valueBytes).fill(i % 251), headers: [], timestamp: 1_000 + i },
    ]),
  );
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cut `bytes` at the given positions. */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

const HEADER = { highWatermark: 7, logStartOffset: 2, logEndOffset: 9 };

describe("fetch body chunks", () => {
  it("reads the header and every batch wherever the chunk boundaries fall", () => {
    const list = batches(5, 300);
    const body = encodeFetchResponse(HEADER, join(list));
    // Every cut position: inside the length prefix, the header, a batch's length field, a batch body.
    for (let a = 1; a < body.length; a += 37) {
      for (const b of [a + 1, a + 13, a + 400]) {
        const at = b < body.length ? [a, b] : [a];
        const { header, batches: r } = decodeFetchBody(cut(body, at));
        expect(header).toEqual(HEADER);
        const got: Uint8Array[] = [];
        for (let x = r.nextBatch(); x !== null; x = r.nextBatch()) got.push(x);
        expect(got.map((x) => [...x])).toEqual(list.map((x) => [...x]));
        expect(r.remaining).toBe(0);
      }
    }
  });

  it("gives views into a chunk (no copy) for batches inside one, and refuses a cut-off batch", () => {
    const list = batches(3, 100);
    const chunks = encodeFetchResponseChunks(HEADER, join(list));
    expect(chunks).toHaveLength(2);
    const { batches: r } = decodeFetchBody(chunks);
    const first = r.nextBatch()!;
    expect(first.buffer).toBe(chunks[1]!.buffer);
    expect(
      decodeFetchBody(encodeFetchResponseChunks(HEADER, new Uint8Array(0))).batches.nextBatch(),
    ).toBeNull();

    const body = encodeFetchResponse(HEADER, join(list));
    const { batches: short } = decodeFetchBody([body.subarray(0, body.length - 5)]);
    short.nextBatch();
    short.nextBatch();
    expect(() => short.nextBatch()).toThrow(expect.objectContaining({ code: "CORRUPT_RECORD" }));
    expect(() => decodeFetchBody([new Uint8Array([0, 0])])).toThrow(
      expect.objectContaining({ code: "CORRUPT_RECORD" }),
    );
  });

  it("carries a handler's chunks over HTTP/2 as one body, joined or as received", async () => {
    const s = new PeerServer({ hostname: "127.0.0.1", port: 0, secret: SECRET, logger: silentLogger });
    s.start();
    cleanups.push(() => s.stop());
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    s.route("/chunks", async () => [enc.encode("head:"), big, enc.encode(":tail")]);
    s.route("/fail", async () => {
      throw new EddyError(ErrorCode.NOT_LEADER, "not the leader");
    });
    const c = new PeerClient({
      nodeId: 2,
      peers: new Map([[1, s.url]]),
      secret: SECRET,
      logger: silentLogger,
    });
    cleanups.push(() => c.close());
    const want = join([enc.encode("head:"), big, enc.encode(":tail")]);

    const joined = await c.request(1, "/chunks", new Uint8Array(0), { timeoutMs: 10_000 });
    expect(Buffer.compare(joined!, want)).toBe(0);

    const sink: Uint8Array[] = [];
    const none = await c.request(1, "/chunks", new Uint8Array(0), { timeoutMs: 10_000, sink });
    expect(none).toBeNull();
    expect(sink.length).toBeGreaterThan(1);
    expect(Buffer.compare(join(sink), want)).toBe(0);

    // Errors are still errors with a sink (nothing is pushed).
    const errSink: Uint8Array[] = [];
    const failed = await c.request(1, "/fail", new Uint8Array(0), { timeoutMs: 5_000, sink: errSink }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed).toMatchObject({ code: "NOT_LEADER" });
    expect(errSink).toEqual([]);
  });
});
