/**
 * Records as JSON carries them: key, value and header values base64 (null
 * stays null). Used by forwarded reads between nodes (src/cluster/read-forwarder.ts)
 * and by the CLI reading the HTTP API's base64 records (src/cli/api.ts).
 */

export interface Base64Record {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Array<{ key: string; value: string | null }>;
}

export interface BytesRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Array<{ key: string; value: Uint8Array | null }>;
}

const toBase64 = (b: Uint8Array | null): string | null =>
  b === null ? null : Buffer.from(b).toString("base64");
const fromBase64 = (s: string | null): Uint8Array | null =>
  s === null ? null : new Uint8Array(Buffer.from(s, "base64"));

/** `r` with base64 bytes (only the record's own fields are copied). */
export function recordToBase64(r: BytesRecord): Base64Record {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: toBase64(r.key),
    value: toBase64(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: toBase64(h.value) })),
  };
}

/** `r` with its base64 decoded (only the record's own fields are copied). */
export function recordFromBase64(r: Base64Record): BytesRecord {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: fromBase64(r.key),
    value: fromBase64(r.value),
    headers: r.headers.map((h) => ({ key: h.key, value: fromBase64(h.value) })),
  };
}
