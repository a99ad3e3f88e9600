/**
 * Storage checks of `eddy doctor`: the data directory (exists or can be
 * created, is a writable directory, who holds its lock), free disk space, and
 * fsync latency measured in the data directory itself.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { formatBytes } from "../format.ts";
import { type CheckResult, CheckStatus, type DoctorThresholds } from "./types.ts";

export interface DataDirState {
  result: CheckResult;
  /** A directory to measure disk space and fsync in (the data dir, or its nearest existing parent), or null. */
  measureIn: string | null;
  /** Whether measureIn may be written to. */
  writable: boolean;
}

function whoami(): string {
  const uid = process.getuid?.();
  try {
    const name = os.userInfo().username;
    if (name && name !== "unknown") return name;
  } catch {
    // no passwd entry: fall back on the uid
  }
  return uid === undefined ? "this user" : `uid ${uid}`;
}

function canWrite(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function nearestExisting(dir: string): string | null {
  let cur = path.dirname(dir);
  for (;;) {
    if (fs.existsSync(cur)) return cur;
    const up = path.dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
}

/** The pid of a live broker holding <dir>/eddy.lock, or null. */
function lockOwner(dir: string): number | null {
  try {
    const pid = Number(
      (JSON.parse(fs.readFileSync(path.join(dir, "eddy.lock"), "utf8")) as { pid?: unknown }).pid,
    );
    if (!Number.isSafeInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM" ? -1 : null;
  }
}

export function checkDataDir(dataDir: string): DataDirState {
  const name = "data dir";
  const user = whoami();
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(dataDir);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOTDIR") {
      const file = nearestExisting(dataDir);
      return {
        result: {
          name,
          status: CheckStatus.FAIL,
          summary: `${dataDir} cannot exist: ${file ?? "a parent"} is a file, not a directory`,
          fix: "set data_dir to a path inside an existing directory",
        },
        measureIn: null,
        writable: false,
      };
    }
    if (code !== "ENOENT") {
      return {
        result: {
          name,
          status: CheckStatus.FAIL,
          summary: `cannot look at ${dataDir}: ${(err as Error).message}`,
          fix: `make the path reachable for ${user}, or set data_dir to another directory`,
        },
        measureIn: null,
        writable: false,
      };
    }
  }
  if (stat === null) {
    const parent = nearestExisting(dataDir);
    if (parent === null || !fs.statSync(parent).isDirectory()) {
      return {
        result: {
          name,
          status: CheckStatus.FAIL,
          summary: `${dataDir} cannot be created: ${parent ?? "its parent"} is not a directory`,
          fix: "set data_dir to a path inside an existing directory",
        },
        measureIn: null,
        writable: false,
      };
    }
    if (!canWrite(parent)) {
      return {
        result: {
          name,
          status: CheckStatus.FAIL,
          summary: `${dataDir} does not exist and ${user} cannot create it (${parent} is not writable)`,
          fix: `create it: sudo install -d -o ${user} -m 0750 ${dataDir}`,
        },
        measureIn: parent,
        writable: false,
      };
    }
    return {
      result: {
        name,
        status: CheckStatus.OK,
        summary: `${dataDir} does not exist yet; eddy serve creates it (measuring in ${parent})`,
      },
      measureIn: parent,
      writable: true,
    };
  }
  if (!stat.isDirectory()) {
    return {
      result: {
        name,
        status: CheckStatus.FAIL,
        summary: `${dataDir} is not a directory`,
        fix: "move the file away, or set data_dir to a directory",
      },
      measureIn: path.dirname(dataDir),
      writable: false,
    };
  }
  if (!canWrite(dataDir)) {
    return {
      result: {
        name,
        status: CheckStatus.FAIL,
        summary: `${dataDir} is not writable by ${user}`,
        fix: `give it to the user that runs eddy: sudo chown -R ${user} ${dataDir}`,
      },
      measureIn: dataDir,
      writable: false,
    };
  }
  const owner = lockOwner(dataDir);
  const running =
    owner === null
      ? ""
      : owner > 0
        ? `; a broker (pid ${owner}) is using it`
        : "; locked by another user's broker";
  return {
    result: { name, status: CheckStatus.OK, summary: `${dataDir} is a writable directory${running}` },
    measureIn: dataDir,
    writable: true,
  };
}

export function checkDisk(dir: string, minFreeBytes: number, t: DoctorThresholds): CheckResult {
  const name = "disk";
  let free: number;
  let total: number;
  try {
    const s = fs.statfsSync(dir);
    free = s.bavail * s.bsize;
    total = s.blocks * s.bsize;
  } catch (err) {
    return {
      name,
      status: CheckStatus.FAIL,
      summary: `cannot read disk space of ${dir}: ${(err as Error).message}`,
    };
  }
  const summary = `${formatBytes(free)} free of ${formatBytes(total)} at ${dir}`;
  if (free < minFreeBytes) {
    return {
      name,
      status: CheckStatus.FAIL,
      summary: `${summary}: below broker.min_free_disk_bytes (${formatBytes(minFreeBytes)}), so produce is refused`,
      fix: "free space (lower retention.ms / retention.bytes, delete topics) or lower broker.min_free_disk_bytes",
    };
  }
  const warnBelow = Math.max(t.diskWarnBytes, 4 * minFreeBytes);
  if (free < warnBelow) {
    return {
      name,
      status: CheckStatus.WARN,
      summary: `${summary}: less than ${formatBytes(warnBelow)}`,
      fix: "plan for growth: set retention.bytes on busy topics, or move data_dir to a bigger disk",
    };
  }
  return { name, status: CheckStatus.OK, summary };
}

export interface FsyncStats {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Time `samples` appends of 4 KiB, each followed by fdatasync, in a scratch file in `dir`. */
export function measureFsync(dir: string, samples: number): FsyncStats {
  const file = path.join(dir, `.eddy-doctor-${process.pid}.tmp`);
  const block = new Uint8Array(4096).fill(0x65);
  const times: number[] = [];
  const fd = fs.openSync(file, "w");
  try {
    for (let i = 0; i < samples; i++) {
      const start = performance.now();
      fs.writeSync(fd, block, 0, block.length, i * block.length);
      fs.fdatasyncSync(fd);
      times.push(performance.now() - start);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  times.sort((a, b) => a - b);
  return { samples, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: times.at(-1) ?? 0 };
}

/** Judge measured fsync latency. */
export function judgeFsync(stats: FsyncStats, t: DoctorThresholds): CheckResult {
  const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
  const summary = `${stats.samples} × 4 KiB fdatasync: p50 ${ms(stats.p50Ms)} ms, p99 ${ms(stats.p99Ms)} ms`;
  if (stats.p50Ms > t.fsyncWarnP50Ms || stats.p99Ms > t.fsyncWarnP99Ms) {
    return {
      name: "fsync",
      status: CheckStatus.WARN,
      summary: `${summary}: slow storage (an SD card or eMMC?)`,
      fix:
        "acks of durability=fsync topics wait for this; use faster storage, or durability=write " +
        "for topics that can lose the last moments before a power cut",
    };
  }
  return { name: "fsync", status: CheckStatus.OK, summary };
}

export function checkFsync(dir: string, t: DoctorThresholds): CheckResult {
  try {
    return judgeFsync(measureFsync(dir, t.fsyncSamples), t);
  } catch (err) {
    return {
      name: "fsync",
      status: CheckStatus.FAIL,
      summary: `cannot write and fdatasync a file in ${dir}: ${(err as Error).message}`,
      fix: "check the file system is mounted read-write and healthy (dmesg)",
    };
  }
}
