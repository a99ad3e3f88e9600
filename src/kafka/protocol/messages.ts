/**
 * Whole Kafka messages (sans-IO): a request frame in, its header and typed body
 * out; a typed response body in, the frame's chunks out (and the reverse pair
 * for the client side: the mirror bridge and tests).
 *
 * Broker side, per frame from FrameDecoder:
 *
 *   const req = readRequest(frame);               // header decoded with the right header version
 *   if (req.api === undefined) → close the connection (unknown API key)
 *   const body = decodeRequestBody(Produce, req); // ProduceRequest; throws UNSUPPORTED_VERSION
 *   const chunks = encodeResponse(Produce, req.header, response);  // ProduceResponse → frame chunks
 *
 * Frames are views: a decoded body's byte fields point into the frame.
 */
import { EddyError } from "../../errors.ts";
import { apiCodec } from "../generated/index.ts";
import type { ApiCodec } from "./api.ts";
import {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  type RequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from "./headers.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";

export interface IncomingRequest {
  header: RequestHeader;
  /** The API's codec; undefined for an API key this build does not know (then clientId is null). */
  api: ApiCodec | undefined;
  /** Positioned at the start of the body. */
  reader: Reader;
}

/** Decode a request frame's header, choosing the header version from the API key and version. */
export function readRequest(frame: Uint8Array): IncomingRequest {
  const reader = new Reader(frame);
  if (frame.length < 4) reader.fail("request shorter than its header");
  const api = apiCodec(((frame[0]! << 24) | (frame[1]! << 16)) >> 16);
  const version = ((frame[2]! << 24) | (frame[3]! << 16)) >> 16;
  const header = decodeRequestHeader(reader, api === undefined ? 0 : requestHeaderVersion(api, version));
  return { header, api, reader };
}

export function isSupportedVersion(api: ApiCodec, version: number): boolean {
  return version >= api.minVersion && version <= api.maxVersion;
}

/** Decode the body of a request read by readRequest; the version must be one the codec knows. */
export function decodeRequestBody<Req>(api: ApiCodec<Req, unknown>, req: IncomingRequest): Req {
  const v = req.header.apiVersion;
  if (!isSupportedVersion(api, v)) {
    throw new EddyError(
      "UNSUPPORTED_VERSION",
      `${api.name} v${v} is not supported (versions ${api.validVersions}); ask ApiVersions for the supported range`,
      { apiKey: api.apiKey, apiVersion: v },
    );
  }
  return api.decodeRequest(req.reader, v);
}

/** Encode a response frame (size, header, body) as chunks to write in order. */
export function encodeResponse<Res>(
  api: ApiCodec<unknown, Res>,
  header: Pick<RequestHeader, "apiVersion" | "correlationId">,
  body: Res,
): Uint8Array[] {
  const w = new Writer(256);
  w.startFrame();
  encodeResponseHeader(w, header.correlationId, responseHeaderVersion(api, header.apiVersion));
  api.encodeResponse(w, body, header.apiVersion);
  return w.toFrameChunks();
}

/** Client side: encode a request frame (header from `header`, API key from `api`). */
export function encodeRequest<Req>(
  api: ApiCodec<Req, unknown>,
  header: Omit<RequestHeader, "apiKey">,
  body: Req,
): Uint8Array[] {
  const w = new Writer(256);
  w.startFrame();
  encodeRequestHeader(w, { ...header, apiKey: api.apiKey }, requestHeaderVersion(api, header.apiVersion));
  api.encodeRequest(w, body, header.apiVersion);
  return w.toFrameChunks();
}

/** Client side: decode a response frame for a request sent at `version`. */
export function decodeResponse<Res>(
  api: ApiCodec<unknown, Res>,
  version: number,
  frame: Uint8Array,
): { correlationId: number; body: Res } {
  const r = new Reader(frame);
  const correlationId = decodeResponseHeader(r, responseHeaderVersion(api, version));
  return { correlationId, body: api.decodeResponse(r, version) };
}
