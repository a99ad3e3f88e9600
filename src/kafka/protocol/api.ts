/**
 * The shape of the generated registry (src/kafka/generated/index.ts): one
 * ApiCodec per Kafka API key, carrying its versions and the generated request
 * and response codecs; one DataCodec per versioned data schema that is not a
 * request or response (for example ConsumerProtocolSubscription).
 *
 * Codec functions take the API version `v`; they do not check it against the
 * valid range (frame.ts's decodeRequest and encodeResponse do).
 */
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

export interface ApiCodec<Req = unknown, Res = unknown> {
  /** "Produce", "Fetch", … (the message name without Request/Response). */
  readonly name: string;
  readonly apiKey: number;
  /** As written in the definitions, e.g. "0-11" and "9+". */
  readonly validVersions: string;
  readonly flexibleVersions: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First version with compact encodings and tagged fields (request header v2, response header v1); null for none. */
  readonly firstFlexibleVersion: number | null;
  encodeRequest(w: Writer, m: Req, v: number): void;
  decodeRequest(r: Reader, v: number): Req;
  encodeResponse(w: Writer, m: Res, v: number): void;
  decodeResponse(r: Reader, v: number): Res;
}

export interface DataCodec<T = unknown> {
  readonly name: string;
  readonly validVersions: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  encode(w: Writer, m: T, v: number): void;
  decode(r: Reader, v: number): T;
}
