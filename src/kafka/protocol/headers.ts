/**
 * Kafka request and response headers (sans-IO).
 *
 *   request header v0: api_key int16, api_version int16, correlation_id int32
 *   request header v1: v0 + client_id nullable string (int16 length, never compact)
 *   request header v2: v1 + tagged fields            (flexible request versions)
 *   response header v0: correlation_id int32
 *   response header v1: v0 + tagged fields           (flexible response versions)
 *
 * Exceptions (Kafka's ApiKeys): ControlledShutdown v0 uses request header v0;
 * ApiVersions responses always use response header v0, so that a client can
 * read the answer whatever version it asked for (KIP-511).
 */
import type { ApiCodec } from "./api.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  /** null in header v0, or when the client sent a null id. */
  clientId: string | null;
}

const API_VERSIONS_KEY = 18;
const CONTROLLED_SHUTDOWN_KEY = 7;

function isFlexible(api: Pick<ApiCodec, "firstFlexibleVersion">, version: number): boolean {
  return api.firstFlexibleVersion !== null && version >= api.firstFlexibleVersion;
}

export function requestHeaderVersion(
  api: Pick<ApiCodec, "apiKey" | "firstFlexibleVersion">,
  version: number,
): number {
  if (api.apiKey === CONTROLLED_SHUTDOWN_KEY && version === 0) return 0;
  return isFlexible(api, version) ? 2 : 1;
}

export function responseHeaderVersion(
  api: Pick<ApiCodec, "apiKey" | "firstFlexibleVersion">,
  version: number,
): number {
  if (api.apiKey === API_VERSIONS_KEY) return 0;
  return isFlexible(api, version) ? 1 : 0;
}

export function decodeRequestHeader(r: Reader, headerVersion: number): RequestHeader {
  const apiKey = r.readInt16();
  const apiVersion = r.readInt16();
  const correlationId = r.readInt32();
  const clientId = headerVersion >= 1 ? r.readString(false, true) : null;
  if (headerVersion >= 2) r.skipTags();
  return { apiKey, apiVersion, correlationId, clientId };
}

export function encodeRequestHeader(w: Writer, h: RequestHeader, headerVersion: number): void {
  w.writeInt16(h.apiKey);
  w.writeInt16(h.apiVersion);
  w.writeInt32(h.correlationId);
  if (headerVersion >= 1) w.writeString(h.clientId, false, true);
  if (headerVersion >= 2) w.writeUnsignedVarint(0);
}

/** Decode a response header; returns the correlation id. */
export function decodeResponseHeader(r: Reader, headerVersion: number): number {
  const correlationId = r.readInt32();
  if (headerVersion >= 1) r.skipTags();
  return correlationId;
}

export function encodeResponseHeader(w: Writer, correlationId: number, headerVersion: number): void {
  w.writeInt32(correlationId);
  if (headerVersion >= 1) w.writeUnsignedVarint(0);
}
