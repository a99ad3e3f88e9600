/**
 * A decoded CoAP request as the resources see it, and the helpers that build
 * responses: diagnostic payloads for 4.xx/5.xx (RFC 7252 §5.5.2) and the
 * mapping of EddyError codes through ERROR_TABLE (never by message text).
 */
import { EddyError, ERROR_TABLE, isEddyError } from "../../src/broker/index.ts";
import { type CoapMessage, type CoapOption, Code, OptionNumber, parseCodeString } from "./codec/constants.ts";
import { getOption, getUintOption, uriPath, uriQuery } from "./codec/options.ts";
import type { Peer, ResponseSpec } from "./message-layer.ts";

export interface CoapRequest {
  peer: Peer;
  message: CoapMessage;
  method: number;
  path: string[];
  query: Map<string, string>;
  contentFormat: number | undefined;
  accept: number | undefined;
  observe: number | undefined;
  /** The payload after Block1 reassembly. */
  payload: Uint8Array;
}

export function toRequest(peer: Peer, message: CoapMessage, payload = message.payload): CoapRequest {
  return {
    peer,
    message,
    method: message.code,
    path: uriPath(message).filter((s, i, all) => !(s === "" && i === all.length - 1)),
    query: uriQuery(message),
    contentFormat: getUintOption(message, OptionNumber.CONTENT_FORMAT),
    accept: getUintOption(message, OptionNumber.ACCEPT),
    observe: getUintOption(message, OptionNumber.OBSERVE),
    payload,
  };
}

const enc = new TextEncoder();

/** A response with a short UTF-8 diagnostic payload (capped at 256 bytes). */
export function diagnostic(code: number, text: string, options: CoapOption[] = []): ResponseSpec {
  const bytes = enc.encode(text);
  return { code, options, payload: bytes.length > 256 ? bytes.slice(0, 256) : bytes };
}

/** Map anything thrown by the broker to a CoAP error response. */
export function errorResponse(err: unknown): ResponseSpec {
  if (isEddyError(err)) {
    const c = parseCodeString(ERROR_TABLE[err.code].coap);
    return diagnostic(Number.isNaN(c) ? Code.INTERNAL_SERVER_ERROR : c, `${err.code}: ${err.message}`);
  }
  return diagnostic(Code.INTERNAL_SERVER_ERROR, "internal error; retry later");
}

export const hasOption = (req: CoapRequest, n: number): boolean => getOption(req.message, n) !== undefined;

export function badRequest(text: string): EddyError {
  return new EddyError("INVALID_REQUEST", text);
}
