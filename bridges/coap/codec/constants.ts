/**
 * CoAP constants (RFC 7252 §12 registries, RFC 7641, RFC 7959, RFC 9175,
 * RFC 8516, draft-ietf-core-coap-pubsub-21) and the message value type the
 * codec produces and consumes. A code is one byte: class << 5 | detail.
 */

export const MessageType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Build a code byte from "c.dd" parts. */
export const code = (cls: number, detail: number): number => (cls << 5) | detail;

export const Code = {
  EMPTY: 0,
  GET: code(0, 1),
  POST: code(0, 2),
  PUT: code(0, 3),
  DELETE: code(0, 4),
  FETCH: code(0, 5),
  PATCH: code(0, 6),
  IPATCH: code(0, 7),
  CREATED: code(2, 1),
  DELETED: code(2, 2),
  VALID: code(2, 3),
  CHANGED: code(2, 4),
  CONTENT: code(2, 5),
  CONTINUE: code(2, 31),
  BAD_REQUEST: code(4, 0),
  UNAUTHORIZED: code(4, 1),
  BAD_OPTION: code(4, 2),
  FORBIDDEN: code(4, 3),
  NOT_FOUND: code(4, 4),
  METHOD_NOT_ALLOWED: code(4, 5),
  NOT_ACCEPTABLE: code(4, 6),
  REQUEST_ENTITY_INCOMPLETE: code(4, 8),
  CONFLICT: code(4, 9),
  PRECONDITION_FAILED: code(4, 12),
  REQUEST_ENTITY_TOO_LARGE: code(4, 13),
  UNSUPPORTED_CONTENT_FORMAT: code(4, 15),
  TOO_MANY_REQUESTS: code(4, 29),
  INTERNAL_SERVER_ERROR: code(5, 0),
  NOT_IMPLEMENTED: code(5, 1),
  SERVICE_UNAVAILABLE: code(5, 3),
  GATEWAY_TIMEOUT: code(5, 4),
} as const;

/** "2.05" for 69. */
export function codeString(c: number): string {
  return `${c >> 5}.${String(c & 0x1f).padStart(2, "0")}`;
}

/** 69 for "2.05"; NaN when malformed. */
export function parseCodeString(s: string): number {
  const m = /^([0-7])\.([0-3][0-9])$/.exec(s);
  if (!m) return Number.NaN;
  const detail = Number(m[2]);
  return detail > 31 ? Number.NaN : code(Number(m[1]), detail);
}

export const isRequestCode = (c: number): boolean => c >> 5 === 0 && c !== 0;
export const isResponseCode = (c: number): boolean => c >> 5 >= 2 && c >> 5 <= 5;

export const OptionNumber = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  LOCATION_PATH: 8,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  ACCEPT: 17,
  LOCATION_QUERY: 20,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  ECHO: 252,
  NO_RESPONSE: 258,
  REQUEST_TAG: 292,
} as const;

/** RFC 7252 §5.4.1: odd option numbers are critical. */
export const isCriticalOption = (n: number): boolean => (n & 1) === 1;

export const ContentFormat = {
  TEXT_PLAIN: 0,
  LINK_FORMAT: 40,
  OCTET_STREAM: 42,
  JSON: 50,
  CBOR: 60,
  SENML_JSON: 110,
  SENML_CBOR: 112,
  /** application/core-pubsub+cbor: "TBD606" in draft-ietf-core-coap-pubsub-21; provisional. */
  CORE_PUBSUB_CBOR: 606,
} as const;

/** RFC 7252 §4.8 transmission parameters (milliseconds). */
export const TransmissionDefaults = {
  ACK_TIMEOUT: 2000,
  ACK_RANDOM_FACTOR: 1.5,
  MAX_RETRANSMIT: 4,
  /** MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY = 247 s. */
  EXCHANGE_LIFETIME: 247_000,
  /** MAX_TRANSMIT_SPAN + MAX_LATENCY = 145 s. */
  NON_LIFETIME: 145_000,
} as const;

export interface CoapOption {
  number: number;
  value: Uint8Array;
}

/** One CoAP message (RFC 7252 §3). Options are kept sorted by number when encoded. */
export interface CoapMessage {
  type: MessageType;
  code: number;
  messageId: number;
  token: Uint8Array;
  options: CoapOption[];
  payload: Uint8Array;
}
