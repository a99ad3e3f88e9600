/**
 * Shared plumbing for the SQLite store: the drizzle database type and the
 * mapping from SQLite failures to EddyError codes (by SQLite's result code,
 * never by message text).
 */
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { EddyError, ErrorCode, toEddyError } from "../errors.ts";

export type Db = BunSQLiteDatabase<Record<string, never>>;

/** The first SQLite result code ("SQLITE_FULL", ...) found on err or its causes. */
function sqliteCode(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === "object"; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

export function mapSqliteError(err: unknown, path: string): EddyError {
  if (err instanceof EddyError) return err;
  const code = sqliteCode(err);
  if (code === null) return toEddyError(err);
  const details = { path, sqlite: code };
  const opts = { cause: err };
  if (code.startsWith("SQLITE_FULL")) {
    return new EddyError(
      ErrorCode.STORAGE_FULL,
      `the disk holding the metadata database ${path} is full: free space, then retry`,
      details,
      opts,
    );
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new EddyError(
      ErrorCode.TIMEOUT,
      `the metadata database ${path} is locked by another process: stop the other Eddy using this data directory, then retry`,
      details,
      opts,
    );
  }
  if (code.startsWith("SQLITE_CONSTRAINT")) {
    return new EddyError(ErrorCode.INVALID_REQUEST, `metadata constraint violated (${code})`, details, opts);
  }
  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
    return new EddyError(
      ErrorCode.STORAGE_ERROR,
      `${path} is not a valid metadata database (${code}): restore it from a backup or move it away to start empty`,
      details,
      opts,
    );
  }
  return new EddyError(ErrorCode.STORAGE_ERROR, `metadata database ${path} failed (${code})`, details, opts);
}
