import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EddyError } from "../../src/errors.ts";
import { acquireDirLock } from "../../src/util/lock-file.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function lockPath(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-lock-"));
  dirs.push(d);
  return path.join(d, "eddy.lock");
}

describe("acquireDirLock", () => {
  it("refuses a second holder while the first lives, and frees the file on release", () => {
    const file = lockPath();
    const lock = acquireDirLock(file);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).pid).toBe(process.pid);
    expect(() => acquireDirLock(file)).toThrow(EddyError);
    expect(() => acquireDirLock(file)).toThrow(/already using/);
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    acquireDirLock(file).release();
  });

  it("replaces a stale lock whose process is gone or whose pid was reused", () => {
    const file = lockPath();
    // A pid that cannot exist (above Linux's pid_max limit).
    fs.writeFileSync(file, JSON.stringify({ pid: 2 ** 22 + 1, startTime: "1" }));
    const a = acquireDirLock(file);
    a.release();
    // Our own pid with a different start time: a previous process that had this pid.
    fs.writeFileSync(file, JSON.stringify({ pid: process.pid, startTime: "not-a-start-time" }));
    const b = acquireDirLock(file);
    expect(JSON.parse(fs.readFileSync(file, "utf8")).startTime).not.toBe("not-a-start-time");
    b.release();
    // Garbage (a crash mid-write) is stale too.
    fs.writeFileSync(file, "{");
    acquireDirLock(file).release();
  });
});
