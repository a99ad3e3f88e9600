/**
 * Sans-IO CoAP datagram encoder (RFC 7252 §3): options are sorted by number
 * (stable, so repeated options keep their order) and delta-encoded with the
 * 13/14 extended forms; the payload marker is written only before a non-empty payload.
 */
import { EddyError, ErrorCode } from "../../../src/errors.ts";
import type { CoapMessage } from "./constants.ts";

function extendedSize(n: number): number {
  return n < 13 ? 0 : n < 269 ? 1 : 2;
}

export function encodedSize(msg: CoapMessage): number {
  let size = 4 + msg.token.length;
  let prev = 0;
  for (const opt of sortedOptions(msg)) {
    size += 1 + extendedSize(opt.number - prev) + extendedSize(opt.value.length) + opt.value.length;
    prev = opt.number;
  }
  if (msg.payload.length > 0) size += 1 + msg.payload.length;
  return size;
}

function sortedOptions(msg: CoapMessage): CoapMessage["options"] {
  for (let i = 1; i < msg.options.length; i++) {
    if (msg.options[i]!.number < msg.options[i - 1]!.number) {
      return [...msg.options].sort((a, b) => a.number - b.number);
    }
  }
  return msg.options;
}

export function encodeMessage(msg: CoapMessage): Uint8Array {
  if (msg.token.length > 8) throw new EddyError(ErrorCode.INVALID_REQUEST, "a CoAP token is at most 8 bytes");
  if (msg.messageId < 0 || msg.messageId > 0xffff || !Number.isInteger(msg.messageId)) {
    throw new EddyError(ErrorCode.INVALID_REQUEST, `bad CoAP message id ${msg.messageId}`);
  }
  const options = sortedOptions(msg);
  const out = new Uint8Array(encodedSize(msg));
  out[0] = 0x40 | (msg.type << 4) | msg.token.length;
  out[1] = msg.code;
  out[2] = msg.messageId >> 8;
  out[3] = msg.messageId & 0xff;
  out.set(msg.token, 4);
  let pos = 4 + msg.token.length;
  let prev = 0;
  for (const opt of options) {
    if (opt.number > 0xffff || opt.value.length > 0xffff + 269) {
      throw new EddyError(ErrorCode.INVALID_REQUEST, `CoAP option ${opt.number} is out of range`);
    }
    const delta = opt.number - prev;
    const len = opt.value.length;
    const head = pos++;
    out[head] = (nibble(delta) << 4) | nibble(len);
    pos = writeExtended(out, pos, delta);
    pos = writeExtended(out, pos, len);
    out.set(opt.value, pos);
    pos += len;
    prev = opt.number;
  }
  if (msg.payload.length > 0) {
    out[pos++] = 0xff;
    out.set(msg.payload, pos);
  }
  return out;
}

function nibble(n: number): number {
  return n < 13 ? n : n < 269 ? 13 : 14;
}

function writeExtended(out: Uint8Array, pos: number, n: number): number {
  if (n < 13) return pos;
  if (n < 269) {
    out[pos] = n - 13;
    return pos + 1;
  }
  const v = n - 269;
  out[pos] = v >> 8;
  out[pos + 1] = v & 0xff;
  return pos + 2;
}
