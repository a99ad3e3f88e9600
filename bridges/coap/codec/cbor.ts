/**
 * The small CBOR subset (RFC 8949) the pub/sub resources need: unsigned and
 * negative integers, byte and text strings, arrays, maps, tag 1 (epoch time),
 * true/false/null. Definite lengths only on output; input with indefinite
 * lengths, floats or other tags is rejected with an EddyError (INVALID_REQUEST),
 * never anything else.
 */
import { EddyError, ErrorCode } from "../../../src/errors.ts";

export type CborValue =
  | number
  | string
  | Uint8Array
  | boolean
  | null
  | CborValue[]
  | Map<number | string, CborValue>
  | { tag: number; value: CborValue };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: true });

export function encodeCbor(v: CborValue): Uint8Array {
  const out: number[] = [];
  write(out, v);
  return Uint8Array.from(out);
}

function head(out: number[], major: number, n: number): void {
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >> 8, n & 0xff);
  else if (n < 0x100000000)
    out.push(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000);
    out.push(m | 27, (hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
    out.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
}

function write(out: number[], v: CborValue): void {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new EddyError(ErrorCode.INVALID_REQUEST, "only integers are encoded");
    if (v >= 0) head(out, 0, v);
    else head(out, 1, -1 - v);
  } else if (typeof v === "string") {
    const b = utf8.encode(v);
    head(out, 3, b.length);
    for (const x of b) out.push(x);
  } else if (v instanceof Uint8Array) {
    head(out, 2, v.length);
    for (const x of v) out.push(x);
  } else if (v === false) out.push(0xf4);
  else if (v === true) out.push(0xf5);
  else if (v === null) out.push(0xf6);
  else if (Array.isArray(v)) {
    head(out, 4, v.length);
    for (const item of v) write(out, item);
  } else if (v instanceof Map) {
    head(out, 5, v.size);
    for (const [k, item] of v) {
      write(out, k);
      write(out, item);
    }
  } else {
    head(out, 6, v.tag);
    write(out, v.value);
  }
}

const bad = (what: string): EddyError =>
  new EddyError(ErrorCode.INVALID_REQUEST, `bad CBOR payload: ${what}`);

export function decodeCbor(buf: Uint8Array): CborValue {
  const r = { buf, pos: 0, depth: 0 };
  const v = read(r);
  if (r.pos !== buf.length) throw bad("trailing bytes");
  return v;
}

interface Reader {
  buf: Uint8Array;
  pos: number;
  depth: number;
}

function byte(r: Reader): number {
  if (r.pos >= r.buf.length) throw bad("unexpected end");
  return r.buf[r.pos++]!;
}

function argument(r: Reader, info: number): number {
  if (info < 24) return info;
  const len = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (len === 0) throw bad("indefinite lengths are not supported");
  let n = 0;
  for (let i = 0; i < len; i++) n = n * 256 + byte(r);
  if (!Number.isSafeInteger(n)) throw bad("integer too large");
  return n;
}

function bytes(r: Reader, n: number): Uint8Array {
  if (r.pos + n > r.buf.length) throw bad("unexpected end");
  const out = r.buf.slice(r.pos, r.pos + n);
  r.pos += n;
  return out;
}

function read(r: Reader): CborValue {
  if (++r.depth > 16) throw bad("nested too deeply");
  const ib = byte(r);
  const major = ib >> 5;
  const info = ib & 31;
  let out: CborValue;
  switch (major) {
    case 0:
      out = argument(r, info);
      break;
    case 1:
      out = -1 - argument(r, info);
      break;
    case 2:
      out = bytes(r, argument(r, info));
      break;
    case 3:
      try {
        out = utf8d.decode(bytes(r, argument(r, info)));
      } catch {
        throw bad("text string is not UTF-8");
      }
      break;
    case 4: {
      const n = argument(r, info);
      if (n > r.buf.length) throw bad("array longer than the payload");
      const arr: CborValue[] = [];
      for (let i = 0; i < n; i++) arr.push(read(r));
      out = arr;
      break;
    }
    case 5: {
      const n = argument(r, info);
      if (n > r.buf.length) throw bad("map longer than the payload");
      const map = new Map<number | string, CborValue>();
      for (let i = 0; i < n; i++) {
        const k = read(r);
        if (typeof k !== "number" && typeof k !== "string") throw bad("map keys must be integers or text");
        map.set(k, read(r));
      }
      out = map;
      break;
    }
    case 6:
      out = { tag: argument(r, info), value: read(r) };
      break;
    default:
      if (info === 20) out = false;
      else if (info === 21) out = true;
      else if (info === 22) out = null;
      else throw bad("floats and simple values are not supported");
  }
  r.depth--;
  return out;
}
