/**
 * RFC 7959 block-wise transfers.
 *
 * Block1 (large publishes): `Block1Assembler` collects the blocks of one
 * request body per (peer, path, Request-Tag), in order from block 0; each
 * non-final block gets 2.31 Continue echoing the Block1 option; a gap gets
 * 4.08 Request Entity Incomplete; a body above the limit gets 4.13 with Size1.
 * Assemblies expire and their number is bounded.
 *
 * Block2 (large reads): `sliceBlock2` cuts a computed response into the block
 * the client asked for (or block 0 at the server's size), adding Block2,
 * Size2 (on block 0) and an ETag over the whole body so a client can tell
 * that the representation changed between blocks. Responses are recomputed
 * per block (stateless), which is what the ETag is for.
 */
import { xxhash32 } from "../../src/util/xxhash32.ts";
import { type CoapMessage, Code, OptionNumber } from "./codec/constants.ts";
import { blockSize, decodeBlock, encodeBlock, getOption, uintOption } from "./codec/options.ts";
import { type Peer, peerKey, type ResponseSpec } from "./message-layer.ts";
import { diagnostic } from "./request.ts";

export type Block1Outcome =
  | { done: true; payload: Uint8Array; option?: { num: number; szx: number } }
  | { done: false; response: ResponseSpec };

interface Assembly {
  chunks: Uint8Array[];
  bytes: number;
  next: number;
  expiresAt: number;
}

export class Block1Assembler {
  private readonly assemblies = new Map<string, Assembly>();
  constructor(
    private readonly o: {
      maxBodyBytes: number;
      lifetimeMs: number;
      maxAssemblies: number;
      now: () => number;
    },
  ) {}

  get size(): number {
    return this.assemblies.size;
  }

  accept(peer: Peer, msg: CoapMessage): Block1Outcome {
    const opt = getOption(msg, OptionNumber.BLOCK1);
    if (!opt) {
      if (msg.payload.length > this.o.maxBodyBytes) return { done: false, response: this.tooLarge() };
      return { done: true, payload: msg.payload };
    }
    const b = decodeBlock(opt.value);
    if (!b) return { done: false, response: diagnostic(Code.BAD_OPTION, "bad Block1 option") };
    const size = blockSize(b.szx);
    if (b.more && msg.payload.length !== size) {
      return {
        done: false,
        response: diagnostic(Code.BAD_REQUEST, "a non-final block must be exactly the block size"),
      };
    }
    this.sweep();
    const tag = getOption(msg, OptionNumber.REQUEST_TAG)?.value ?? new Uint8Array(0);
    const path = msg.options
      .filter((o) => o.number === OptionNumber.URI_PATH)
      .map((o) => new TextDecoder().decode(o.value));
    const key = `${peerKey(peer)}|${path.join("/")}|${[...tag].join(",")}`;
    let a = this.assemblies.get(key);
    if (b.num === 0) {
      a = { chunks: [], bytes: 0, next: 0, expiresAt: 0 };
      this.assemblies.delete(key);
      this.assemblies.set(key, a);
      if (this.assemblies.size > this.o.maxAssemblies) {
        const oldest = this.assemblies.keys().next().value;
        if (oldest !== undefined) this.assemblies.delete(oldest);
      }
    }
    if (!a || b.num !== a.next || b.num * size !== a.bytes) {
      this.assemblies.delete(key);
      return {
        done: false,
        response: diagnostic(Code.REQUEST_ENTITY_INCOMPLETE, "send the body from block 0, in order"),
      };
    }
    if (a.bytes + msg.payload.length > this.o.maxBodyBytes) {
      this.assemblies.delete(key);
      return { done: false, response: this.tooLarge() };
    }
    a.chunks.push(msg.payload);
    a.bytes += msg.payload.length;
    a.next++;
    a.expiresAt = this.o.now() + this.o.lifetimeMs;
    if (b.more) {
      return {
        done: false,
        response: {
          code: Code.CONTINUE,
          options: [{ number: OptionNumber.BLOCK1, value: encodeBlock({ ...b, more: true }) }],
        },
      };
    }
    this.assemblies.delete(key);
    const body = new Uint8Array(a.bytes);
    let pos = 0;
    for (const c of a.chunks) {
      body.set(c, pos);
      pos += c.length;
    }
    return { done: true, payload: body, option: { num: b.num, szx: b.szx } };
  }

  private tooLarge(): ResponseSpec {
    return diagnostic(Code.REQUEST_ENTITY_TOO_LARGE, `the body limit is ${this.o.maxBodyBytes} bytes`, [
      uintOption(OptionNumber.SIZE1, this.o.maxBodyBytes),
      { number: OptionNumber.BLOCK1, value: encodeBlock({ num: 0, more: false, szx: 6 }) },
    ]);
  }

  private sweep(): void {
    const now = this.o.now();
    for (const [k, a] of this.assemblies)
      if (a.expiresAt !== 0 && a.expiresAt <= now) this.assemblies.delete(k);
  }
}

/** The Block1 option for the final response of a reassembled request. */
export function block1Final(option: { num: number; szx: number }): { number: number; value: Uint8Array } {
  return {
    number: OptionNumber.BLOCK1,
    value: encodeBlock({ num: option.num, more: false, szx: option.szx }),
  };
}

export function etagOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, xxhash32(payload) >>> 0);
  return out;
}

/** Cut a response into the requested Block2 block; `maxSzx` is the server's largest block. */
export function sliceBlock2(req: CoapMessage, res: ResponseSpec, maxSzx: number): ResponseSpec {
  const payload = res.payload ?? new Uint8Array(0);
  const opt = getOption(req, OptionNumber.BLOCK2);
  const asked = opt ? decodeBlock(opt.value) : { num: 0, more: false, szx: maxSzx };
  if (!asked) return diagnostic(Code.BAD_OPTION, "bad Block2 option");
  if (res.code >> 5 !== 2) return res;
  const szx = Math.min(asked.szx, maxSzx);
  const size = blockSize(szx);
  if (!opt && payload.length <= size) return res;
  // A smaller block size than asked: the client's block number is in its own units.
  const start = asked.num * blockSize(asked.szx);
  if (start > 0 && start >= payload.length)
    return diagnostic(Code.BAD_OPTION, "Block2 number beyond the end");
  const num = start / size;
  const end = Math.min(payload.length, start + size);
  const options = (res.options ?? []).filter((o) => o.number !== OptionNumber.BLOCK2);
  options.push({ number: OptionNumber.BLOCK2, value: encodeBlock({ num, more: end < payload.length, szx }) });
  if (num === 0) options.push(uintOption(OptionNumber.SIZE2, payload.length));
  if (!options.some((o) => o.number === OptionNumber.ETAG))
    options.push({ number: OptionNumber.ETAG, value: etagOf(payload) });
  return { code: res.code, options, payload: payload.slice(start, end) };
}
