/**
 * Raft messages on the wire between peers: JSON, with entry and snapshot
 * payloads in base64. The metadata log is small, so clarity wins over bytes.
 * Decoding validates the shape; bad input is an INVALID_REQUEST, never a crash.
 */
import { EddyError, ErrorCode } from "../../errors.ts";
import { type LogEntry, MessageType, type RaftMessage, type Snapshot } from "./types.ts";

const TYPES = new Set<string>(Object.values(MessageType));
const enc = new TextEncoder();
const dec = new TextDecoder();

function b64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

function unb64(s: unknown): Uint8Array {
  if (typeof s !== "string") throw bad("payload must be base64");
  return new Uint8Array(Buffer.from(s, "base64"));
}

function bad(what: string): EddyError {
  return new EddyError(ErrorCode.INVALID_REQUEST, `bad raft message: ${what}`);
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < -1) throw bad(`${what} must be an integer`);
  return v;
}

export function encodeMessage(m: RaftMessage): Uint8Array {
  return enc.encode(JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? { $b64: b64(v) } : v)));
}

export function decodeMessage(bytes: Uint8Array): RaftMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(bytes), (_k, v: unknown) =>
      v !== null && typeof v === "object" && "$b64" in v ? unb64((v as { $b64: unknown }).$b64) : v,
    );
  } catch (err) {
    if (err instanceof EddyError) throw err;
    throw bad("not JSON");
  }
  if (raw === null || typeof raw !== "object") throw bad("not an object");
  const m = raw as Record<string, unknown>;
  if (typeof m.type !== "string" || !TYPES.has(m.type)) throw bad("unknown type");
  int(m.from, "from");
  int(m.to, "to");
  int(m.term, "term");
  switch (m.type) {
    case MessageType.PRE_VOTE:
    case MessageType.VOTE:
      int(m.lastIndex, "lastIndex");
      int(m.lastTerm, "lastTerm");
      break;
    case MessageType.PRE_VOTE_RESP:
    case MessageType.VOTE_RESP:
      if (typeof m.granted !== "boolean") throw bad("granted must be a boolean");
      break;
    case MessageType.APPEND:
      int(m.prevIndex, "prevIndex");
      int(m.prevTerm, "prevTerm");
      int(m.commit, "commit");
      int(m.round, "round");
      if (!Array.isArray(m.entries)) throw bad("entries must be an array");
      for (const e of m.entries) checkEntry(e);
      break;
    case MessageType.APPEND_RESP:
      if (typeof m.success !== "boolean") throw bad("success must be a boolean");
      int(m.matchIndex, "matchIndex");
      int(m.conflictIndex, "conflictIndex");
      int(m.conflictTerm, "conflictTerm");
      int(m.round, "round");
      break;
    case MessageType.SNAPSHOT:
      int(m.round, "round");
      checkSnapshot(m.snapshot);
      break;
    case MessageType.SNAPSHOT_RESP:
      int(m.matchIndex, "matchIndex");
      int(m.round, "round");
      break;
  }
  return m as unknown as RaftMessage;
}

function checkEntry(e: unknown): asserts e is LogEntry {
  const x = e as Record<string, unknown> | null;
  if (!x || typeof x !== "object") throw bad("entry must be an object");
  int(x.index, "entry.index");
  int(x.term, "entry.term");
  if (x.kind !== 0 && x.kind !== 1) throw bad("entry.kind");
  if (!(x.data instanceof Uint8Array)) throw bad("entry.data");
}

function checkSnapshot(s: unknown): asserts s is Snapshot {
  const x = s as { meta?: Record<string, unknown>; data?: unknown } | null;
  if (!x || typeof x !== "object" || !x.meta || typeof x.meta !== "object") throw bad("snapshot.meta");
  int(x.meta.index, "snapshot.index");
  int(x.meta.term, "snapshot.term");
  const c = x.meta.config as { voters?: unknown } | undefined;
  if (!c || !Array.isArray(c.voters)) throw bad("snapshot.config");
  if (!(x.data instanceof Uint8Array)) throw bad("snapshot.data");
}
