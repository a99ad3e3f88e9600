/**
 * The few file operations of the log that tests need to break (a full disk,
 * a failing fsync). Everything else uses node:fs directly.
 */
import fs from "node:fs";

export interface LogIo {
  /** Positional write; returns bytes written (may be short). */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  /** fdatasync on the thread pool, so appends continue meanwhile. */
  fdatasync(fd: number): Promise<void>;
}

export const defaultIo: LogIo = {
  write: (fd, buf, offset, length, position) => fs.writeSync(fd, buf, offset, length, position),
  fdatasync: (fd) =>
    new Promise<void>((resolve, reject) => {
      fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()));
    }),
};

/** Write all of buf[offset, offset+length) at position, looping over short writes. */
export function writeFully(
  io: LogIo,
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): void {
  let done = 0;
  while (done < length) {
    const n = io.write(fd, buf, offset + done, length - done, position + done);
    if (n <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
    done += n;
  }
}

/** fsync a directory so renames/creates/unlinks in it are durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read exactly into buf[0, length) from position; returns bytes read (short only at EOF). */
export function readFully(fd: number, buf: Uint8Array, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/** Write a small file atomically: tmp, fsync, rename, fsync dir. */
export function writeFileAtomic(dir: string, name: string, tmpName: string, data: string): void {
  const tmp = `${dir}/${tmpName}`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, `${dir}/${name}`);
  fsyncDir(dir);
}
