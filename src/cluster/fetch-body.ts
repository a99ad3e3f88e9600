/**
 * A follower's view of a replica fetch response as the HTTP/2 chunks it
 * arrived in (peer-protocol.ts: u32 header length, JSON header, raw
 * RecordBatch v2 bytes). A 4 MiB answer arrives in ~30 chunks; joining them
 * cost the follower a full copy of every fetched byte (BENCHMARKS.md,
 * "Replication"). Here each batch is a view into its chunk, and only a batch
 * that straddles two chunks is copied (the log's append copies it once more
 * into its write buffer anyway).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { BATCH_LOG_OVERHEAD } from "../log/record-batch.ts";
import { decodeJson, type ReplicaFetchHeader } from "./peer-protocol.ts";

export class ChunkReader {
  private readonly chunks: Uint8Array[];
  private i = 0;
  private pos = 0;
  private left: number;

  constructor(chunks: readonly Uint8Array[]) {
    this.chunks = chunks.filter((c) => c.length > 0);
    this.left = this.chunks.reduce((n, c) => n + c.length, 0);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.left;
  }

  /** The next `n` bytes without consuming them: a view if they lie in one chunk, else a copy. */
  peek(n: number): Uint8Array {
    if (n > this.left) throw malformed(`${n} bytes asked, ${this.left} left`);
    const c = this.chunks[this.i];
    if (c !== undefined && this.pos + n <= c.length) return c.subarray(this.pos, this.pos + n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (let i = this.i, pos = this.pos; filled < n; i++, pos = 0) {
      const chunk = this.chunks[i]!;
      const part = chunk.subarray(pos, Math.min(chunk.length, pos + n - filled));
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /** The next `n` bytes, consumed (see peek). */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.left -= n;
    let skip = n;
    while (skip > 0) {
      const c = this.chunks[this.i]!;
      const here = Math.min(skip, c.length - this.pos);
      this.pos += here;
      skip -= here;
      if (this.pos === c.length) {
        this.i++;
        this.pos = 0;
      }
    }
    return out;
  }

  /** The next whole record batch, or null at the end. */
  nextBatch(): Uint8Array | null {
    if (this.left === 0) return null;
    if (this.left < BATCH_LOG_OVERHEAD) throw malformed(`a partial batch of ${this.left} bytes ends it`);
    const head = this.peek(12);
    const size = new DataView(head.buffer, head.byteOffset, 12).getInt32(8) + BATCH_LOG_OVERHEAD;
    if (size < BATCH_LOG_OVERHEAD || size > this.left) {
      throw malformed(`a batch of ${size} bytes, with ${this.left} left`);
    }
    return this.take(size);
  }
}

/** Split a fetch response (as one body or as chunks) into its header and a reader over its batches. */
export function decodeFetchBody(chunks: readonly Uint8Array[]): {
  header: ReplicaFetchHeader;
  batches: ChunkReader;
} {
  const r = new ChunkReader(chunks);
  if (r.remaining < 4) throw malformed("no header");
  const len = r.take(4);
  const n = new DataView(len.buffer, len.byteOffset, 4).getUint32(0);
  if (n > r.remaining) throw malformed(`a header of ${n} bytes, with ${r.remaining} left`);
  const header = decodeJson<ReplicaFetchHeader>(r.take(n), "replica fetch response");
  return { header, batches: r };
}

function malformed(what: string): EddyError {
  return new EddyError(
    ErrorCode.CORRUPT_RECORD,
    `malformed replica fetch response (${what}): peers must run the same release`,
  );
}
