/**
 * Key, value and header encodings of the HTTP API.
 *
 * - "json" (values and keys by default): the field is any JSON value, stored
 *   as its JSON text; on read the bytes are parsed back as JSON.
 * - "string": UTF-8 text.
 * - "base64": arbitrary bytes, standard base64 (RFC 4648 §4, padding optional).
 *
 * A JSON `null` (or a missing key) is a null key/value: a null value is a
 * tombstone on compacted topics. Header values are strings or base64.
 */
import { z } from "zod";
import { EddyError, ErrorCode } from "../errors.ts";

export const Encoding = { JSON: "json", STRING: "string", BASE64: "base64" } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];
export const encodingSchema = z.enum(["json", "string", "base64"]);

export const HeaderEncoding = { STRING: "string", BASE64: "base64" } as const;
export type HeaderEncoding = (typeof HeaderEncoding)[keyof typeof HeaderEncoding];
export const headerEncodingSchema = z.enum(["string", "base64"]);

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** Encode one key or value given in a JSON request. `field` names it in errors ("body.records[2].value"). */
export function encodeField(value: unknown, encoding: Encoding, field: string): Uint8Array | null {
  if (value === undefined || value === null) return null;
  switch (encoding) {
    case "json":
      return utf8.encode(JSON.stringify(value));
    case "string":
      if (typeof value !== "string") {
        throw invalid(
          `${field}: expected a string with ${encoding} encoding; use "json" for other JSON values`,
          field,
        );
      }
      return utf8.encode(value);
    case "base64":
      if (typeof value !== "string") throw invalid(`${field}: expected a base64 string`, field);
      return decodeBase64(value, field);
  }
}

/** Decode stored bytes for a response. Throws UNSUPPORTED_FORMAT naming the offset when they do not fit. */
export function decodeField(
  bytes: Uint8Array | null,
  encoding: Encoding,
  where: { field: "key" | "value"; offset: number },
): unknown {
  if (bytes === null) return null;
  switch (encoding) {
    case "base64":
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
    case "string":
      return decodeUtf8(bytes, where);
    case "json": {
      const text = decodeUtf8(bytes, where);
      try {
        return JSON.parse(text);
      } catch {
        throw notDecodable(where, "is not JSON", ["string", "base64"]);
      }
    }
  }
}

function decodeUtf8(bytes: Uint8Array, where: { field: string; offset: number }): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw notDecodable(where, "is not UTF-8 text", ["base64"]);
  }
}

function notDecodable(where: { field: string; offset: number }, what: string, use: string[]): EddyError {
  const how = use.map((e) => `${where.field}Encoding=${e}`).join(" or ");
  return new EddyError(
    ErrorCode.UNSUPPORTED_FORMAT,
    `the ${where.field} of the record at offset ${where.offset} ${what}: read it with ${how}`,
    { offset: where.offset, field: where.field },
  );
}

export function encodeHeaderValue(
  value: string | null,
  encoding: HeaderEncoding,
  field: string,
): Uint8Array | null {
  if (value === null) return null;
  return encoding === "base64" ? decodeBase64(value, field) : utf8.encode(value);
}

export function decodeHeaderValue(
  value: Uint8Array | null,
  encoding: HeaderEncoding,
  offset: number,
): string | null {
  if (value === null) return null;
  if (encoding === "base64")
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  try {
    return utf8Strict.decode(value);
  } catch {
    throw new EddyError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `a header of the record at offset ${offset} is not UTF-8 text: read it with headerEncoding=base64`,
      { offset, field: "headers" },
    );
  }
}

export function decodeBase64(text: string, field: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (!BASE64_RE.test(compact)) throw invalid(`${field}: not valid base64`, field);
  return new Uint8Array(Buffer.from(compact, "base64"));
}

function invalid(message: string, field: string): EddyError {
  return new EddyError(ErrorCode.INVALID_REQUEST, `invalid request: ${message}`, {
    issues: [{ field, message }],
  });
}
