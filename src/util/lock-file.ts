/**
 * A lock file that keeps two brokers off one data directory.
 *
 * The file holds the owner's pid and, on Linux, its start time from
 * /proc/<pid>/stat, so a lock left by a crashed broker is recognised as stale
 * even if another process later reuses the pid. The file is created with link(2),
 * atomically and never empty, so two brokers starting at once cannot both win.
 */
import fs from "node:fs";
import { EddyError, ErrorCode } from "../errors.ts";

export interface DirLock {
  readonly path: string;
  release(): void;
}

interface LockInfo {
  pid: number;
  startTime: string | null;
}

function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime); the command name (field 2) may contain spaces, so count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(info: LockInfo): boolean {
  if (!Number.isSafeInteger(info.pid) || info.pid <= 0) return false;
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== "EPERM") return false;
  }
  if (info.startTime === null) return true;
  const now = processStartTime(info.pid);
  return now === null || now === info.startTime;
}

function readLock(file: string): LockInfo | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockInfo>;
    return {
      pid: Number(parsed.pid),
      startTime: typeof parsed.startTime === "string" ? parsed.startTime : null,
    };
  } catch {
    return null;
  }
}

/**
 * Take the lock at `file` or throw a clear error naming the running owner.
 * A stale lock (owner gone) is replaced.
 */
export function acquireDirLock(file: string, what = "this data directory"): DirLock {
  const mine: LockInfo = { pid: process.pid, startTime: processStartTime(process.pid) };
  for (let attempt = 0; attempt < 3; attempt++) {
    // Write the content aside, then link(2) it into place: the lock appears atomically, never empty.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(mine)}\n`, { mode: 0o644 });
    try {
      fs.linkSync(tmp, file);
      let released = false;
      return {
        path: file,
        release() {
          if (released) return;
          released = true;
          const current = readLock(file);
          if (current?.pid === mine.pid) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    const owner = readLock(file);
    if (owner && isAlive(owner)) {
      throw new EddyError(
        ErrorCode.STORAGE_ERROR,
        `another Eddy (pid ${owner.pid}) is already using ${what} (lock file ${file}); ` +
          "stop it first, or start this one with a different --data-dir",
        { lockFile: file, pid: owner.pid },
      );
    }
    // Stale (owner gone) or unreadable (a crash mid-write): remove and retry.
    fs.rmSync(file, { force: true });
  }
  throw new EddyError(
    ErrorCode.STORAGE_ERROR,
    `could not take the lock file ${file}; remove it if no Eddy is running`,
  );
}
