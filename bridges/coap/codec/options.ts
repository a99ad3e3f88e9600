/**
 * Option value formats (RFC 7252 §3.2: empty, opaque, uint, string) and the
 * Block1/Block2 value (RFC 7959 §2.2: NUM << 4 | M << 3 | SZX). Pure functions.
 */
import type { CoapMessage, CoapOption } from "./constants.ts";
import { OptionNumber } from "./constants.ts";

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: false });

/** Minimal big-endian uint (0 encodes as zero bytes). */
export function encodeUint(n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  const bytes: number[] = [];
  let v = n;
  while (v > 0) {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Uint8Array.from(bytes);
}

/** Decode an uint option; values longer than 4 bytes are not valid for any option we read. */
export function decodeUint(b: Uint8Array): number {
  let v = 0;
  for (const byte of b) v = v * 256 + byte;
  return v;
}

export const uintOption = (number: number, n: number): CoapOption => ({ number, value: encodeUint(n) });
export const stringOption = (number: number, s: string): CoapOption => ({ number, value: utf8.encode(s) });

export function getOption(msg: Pick<CoapMessage, "options">, number: number): CoapOption | undefined {
  return msg.options.find((o) => o.number === number);
}

export function getOptions(msg: Pick<CoapMessage, "options">, number: number): CoapOption[] {
  return msg.options.filter((o) => o.number === number);
}

export function getUintOption(msg: Pick<CoapMessage, "options">, number: number): number | undefined {
  const o = getOption(msg, number);
  return o === undefined ? undefined : decodeUint(o.value);
}

export function optionString(o: CoapOption): string {
  return utf8d.decode(o.value);
}

export function uriPath(msg: Pick<CoapMessage, "options">): string[] {
  return getOptions(msg, OptionNumber.URI_PATH).map(optionString);
}

/** Uri-Query options as a map; later duplicates win. "k" alone maps to "". */
export function uriQuery(msg: Pick<CoapMessage, "options">): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of getOptions(msg, OptionNumber.URI_QUERY)) {
    const s = optionString(o);
    const eq = s.indexOf("=");
    if (eq < 0) out.set(s, "");
    else out.set(s.slice(0, eq), s.slice(eq + 1));
  }
  return out;
}

export interface BlockValue {
  num: number;
  more: boolean;
  /** Size exponent: block size = 2 ** (szx + 4); 7 is reserved (BERT, not supported). */
  szx: number;
}

export const blockSize = (szx: number): number => 1 << (szx + 4);

/** The szx of the largest block size not above `bytes` (16..1024). */
export function szxFor(bytes: number): number {
  let szx = 6;
  while (szx > 0 && blockSize(szx) > bytes) szx--;
  return szx;
}

export function decodeBlock(b: Uint8Array): BlockValue | undefined {
  if (b.length > 3) return undefined;
  const v = decodeUint(b);
  const szx = v & 7;
  if (szx === 7) return undefined;
  return { num: v >>> 4, more: (v & 8) !== 0, szx };
}

export function encodeBlock(v: BlockValue): Uint8Array {
  return encodeUint(v.num * 16 + (v.more ? 8 : 0) + v.szx);
}
