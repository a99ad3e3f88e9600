/**
 * Sans-IO CoAP datagram decoder (RFC 7252 §3). Bytes in, a CoapMessage out;
 * anything malformed throws CoapParseError and nothing else. When the 4-byte
 * header was readable the error carries type and message id, so the message
 * layer can answer a malformed CON with RST (§4.2) and drop a malformed NON (§4.3).
 *
 * Message format errors (§3, §3.1): version != 1, token length 9..15, an
 * Empty message (0.00) with a token or any bytes after the header, option
 * delta or length nibble 15 outside the payload marker, an option running past
 * the end, option numbers above 65535, a payload marker with no payload.
 */
import { EddyError, ErrorCode } from "../../../src/errors.ts";
import type { CoapMessage, CoapOption, MessageType } from "./constants.ts";

export const ParseFailure = {
  TOO_SHORT: "too_short",
  BAD_VERSION: "bad_version",
  BAD_TOKEN_LENGTH: "bad_token_length",
  EMPTY_NOT_EMPTY: "empty_not_empty",
  BAD_OPTION: "bad_option",
  TRUNCATED_OPTION: "truncated_option",
  EMPTY_PAYLOAD: "empty_payload",
} as const;
export type ParseFailure = (typeof ParseFailure)[keyof typeof ParseFailure];

export class CoapParseError extends EddyError {
  readonly reason: ParseFailure;
  /** Present when the fixed header could be read. */
  readonly header: { type: MessageType; code: number; messageId: number } | undefined;
  constructor(reason: ParseFailure, message: string, header?: CoapParseError["header"]) {
    super(ErrorCode.INVALID_REQUEST, `malformed CoAP message: ${message}`, { reason });
    this.name = "CoapParseError";
    this.reason = reason;
    this.header = header;
  }
}

export function decodeMessage(buf: Uint8Array): CoapMessage {
  if (buf.length < 4) throw new CoapParseError(ParseFailure.TOO_SHORT, "shorter than the 4-byte header");
  const b0 = buf[0]!;
  const type = ((b0 >> 4) & 3) as MessageType;
  const tkl = b0 & 0x0f;
  const code = buf[1]!;
  const messageId = (buf[2]! << 8) | buf[3]!;
  const header = { type, code, messageId };
  if (b0 >> 6 !== 1) throw new CoapParseError(ParseFailure.BAD_VERSION, `version ${b0 >> 6}, expected 1`);
  if (tkl > 8) throw new CoapParseError(ParseFailure.BAD_TOKEN_LENGTH, `token length ${tkl} > 8`, header);
  if (code === 0 && (tkl !== 0 || buf.length !== 4)) {
    throw new CoapParseError(
      ParseFailure.EMPTY_NOT_EMPTY,
      "an Empty message must be exactly 4 bytes",
      header,
    );
  }
  if (buf.length < 4 + tkl)
    throw new CoapParseError(ParseFailure.TOO_SHORT, "token runs past the end", header);
  const token = buf.slice(4, 4 + tkl);
  const options: CoapOption[] = [];
  let pos = 4 + tkl;
  let number = 0;
  let payload = new Uint8Array(0);
  while (pos < buf.length) {
    const head = buf[pos++]!;
    if (head === 0xff) {
      if (pos >= buf.length)
        throw new CoapParseError(ParseFailure.EMPTY_PAYLOAD, "payload marker with no payload", header);
      payload = buf.slice(pos);
      break;
    }
    const [delta, afterDelta] = readExtended(buf, pos, head >> 4, header);
    const [length, afterLength] = readExtended(buf, afterDelta, head & 0x0f, header);
    pos = afterLength;
    number += delta;
    if (number > 0xffff)
      throw new CoapParseError(ParseFailure.BAD_OPTION, `option number ${number} > 65535`, header);
    if (pos + length > buf.length) {
      throw new CoapParseError(ParseFailure.TRUNCATED_OPTION, `option ${number} runs past the end`, header);
    }
    options.push({ number, value: buf.slice(pos, pos + length) });
    pos += length;
  }
  return { type, code, messageId, token, options, payload };
}

/** Read an option delta/length nibble with its extended bytes (§3.1). */
function readExtended(
  buf: Uint8Array,
  pos: number,
  nibble: number,
  header: CoapParseError["header"],
): [number, number] {
  if (nibble < 13) return [nibble, pos];
  if (nibble === 13) {
    if (pos + 1 > buf.length)
      throw new CoapParseError(ParseFailure.TRUNCATED_OPTION, "extended option byte missing", header);
    return [buf[pos]! + 13, pos + 1];
  }
  if (nibble === 14) {
    if (pos + 2 > buf.length)
      throw new CoapParseError(ParseFailure.TRUNCATED_OPTION, "extended option bytes missing", header);
    return [((buf[pos]! << 8) | buf[pos + 1]!) + 269, pos + 2];
  }
  throw new CoapParseError(ParseFailure.BAD_OPTION, "option nibble 15 is reserved", header);
}
