/**
 * The replication benchmark's load generator: raw Kafka Produce v9 frames,
 * encoded once with Eddy's own codec and written again and again on one
 * pipelined TCP connection (a non-idempotent producer, so the same batch
 * bytes are valid every time; the broker assigns offsets). Responses come
 * back in request order (Kafka's rule), so each is matched to the oldest
 * pending request; only the partition error code is decoded.
 */
import type { Socket } from "bun";
import { Produce } from "../../src/kafka/generated/index.ts";
import { FrameDecoder } from "../../src/kafka/protocol/frame.ts";
import { decodeResponse, encodeRequest } from "../../src/kafka/protocol/messages.ts";
import { encodeBatch } from "../../src/log/record-batch.ts";

const VERSION = 9;

/** One Produce request for `records` records of `size` bytes to topic/partition, as a single frame. */
export function produceFrame(o: {
  topic: string;
  partition: number;
  records: number;
  size: number;
  acks: number;
  timeoutMs: number;
}): Uint8Array {
  const value = new Uint8Array(o.size).fill(120);
  const batch = encodeBatch(Array.from({ length: o.records }, () => ({ value })));
  const chunks = encodeRequest(
    Produce,
    { apiVersion: VERSION, correlationId: 1, clientId: "bench" },
    {
      transactionalId: null,
      acks: o.acks,
      timeoutMs: o.timeoutMs,
      topicData: [{ name: o.topic, partitionData: [{ index: o.partition, records: batch }] }],
    },
  );
  return Buffer.concat(chunks);
}

/** A Kafka connection with pipelined requests; `send` resolves with the response's partition error code. */
export class ProduceConn {
  private readonly pending: Array<{ resolve: (code: number) => void; reject: (e: Error) => void }> = [];
  private readonly decoder = new FrameDecoder();
  private unsent: Uint8Array[] = [];
  private closed = false;

  private constructor(private socket: Socket<undefined> | null) {}

  static async open(host: string, port: number): Promise<ProduceConn> {
    const conn = new ProduceConn(null);
    conn.socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data: (_s, chunk) => conn.onData(chunk),
        drain: () => conn.flush(),
        close: () => conn.fail(new Error("connection closed")),
        error: (_s, err) => conn.fail(err),
      },
    });
    return conn;
  }

  get inFlight(): number {
    return this.pending.length;
  }

  send(frame: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Error("connection closed"));
    const p = new Promise<number>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.unsent.push(frame);
    if (this.unsent.length === 1) this.flush();
    return p;
  }

  close(): void {
    this.socket?.end();
    this.fail(new Error("connection closed"));
  }

  private flush(): void {
    const s = this.socket;
    if (!s) return;
    while (this.unsent.length > 0) {
      const f = this.unsent[0]!;
      const n = s.write(f, 0, f.length);
      if (n < 0) {
        this.fail(new Error("connection closed"));
        return;
      }
      if (n < f.length) {
        this.unsent[0] = f.subarray(n);
        return;
      }
      this.unsent.shift();
    }
  }

  private onData(chunk: Uint8Array): void {
    for (const frame of this.decoder.push(new Uint8Array(chunk))) {
      const w = this.pending.shift();
      if (!w) continue;
      try {
        const res = decodeResponse(Produce, VERSION, frame).body;
        w.resolve(res.responses[0]?.partitionResponses[0]?.errorCode ?? -1);
      } catch (err) {
        w.reject(err as Error);
      }
    }
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.unsent = [];
    for (const w of this.pending.splice(0)) w.reject(err);
  }
}

export interface ThroughputResult {
  requests: number;
  errors: number;
  seconds: number;
  /** Request latencies (ms), sorted. */
  latencies: number[];
}

/** Keep `inflight` copies of `frame` outstanding on `conn` for `seconds`. */
export async function pump(
  conn: ProduceConn,
  frame: Uint8Array,
  seconds: number,
  inflight: number,
): Promise<ThroughputResult> {
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        const code = await conn.send(frame);
        if (code !== 0) errors++;
        else latencies.push(performance.now() - sent);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, errors, seconds: (performance.now() - t0) / 1000, latencies };
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
