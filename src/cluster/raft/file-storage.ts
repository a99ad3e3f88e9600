/**
 * File-backed `RaftStorage`: an append-only `raft.log` (CRC-32C per record)
 * plus `snapshot.bin`, in one directory (format in file-format.ts). Every
 * `persist` resolves after fdatasync, so the node acknowledges votes and
 * appends only once they are on disk. Taking or installing a snapshot writes
 * the snapshot file first (temp file, fsync, rename, fsync dir), then rewrites
 * the log as BASE + hard state + the entries after the snapshot the same way;
 * a crash in between is reconciled on open by Raft's snapshot rule.
 * On open, a torn or corrupt tail of `raft.log` is truncated away.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { EddyError, ErrorCode, toEddyError } from "../../errors.ts";
import {
  decodeRecords,
  decodeSnapshot,
  encodeRecord,
  encodeSnapshot,
  hasMagic,
  LOG_MAGIC,
  type LogRecord,
  RecordType,
} from "./file-format.ts";
import { LogicalRaftState, type PersistBatch, type RaftStorage } from "./storage.ts";
import type { RaftPersistedState } from "./types.ts";

const LOG_FILE = "raft.log";
const SNAPSHOT_FILE = "snapshot.bin";

export interface FileRaftStorageInfo {
  /** Bytes cut from a torn tail when the storage was opened. */
  truncatedBytes: number;
}

export class FileRaftStorage implements RaftStorage {
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly dir: string,
    private fh: fs.FileHandle,
    private readonly state: LogicalRaftState,
    readonly info: FileRaftStorageInfo,
  ) {}

  static async open(dir: string): Promise<FileRaftStorage> {
    try {
      await fs.mkdir(dir, { recursive: true });
      const state = new LogicalRaftState();
      const snapshot = await readSnapshot(path.join(dir, SNAPSHOT_FILE));
      const logPath = path.join(dir, LOG_FILE);
      const buf = await readOrNull(logPath);
      let truncatedBytes = 0;
      if (buf === null || buf.length < LOG_MAGIC.length) {
        await writeAtomic(dir, LOG_FILE, LOG_MAGIC);
      } else {
        if (!hasMagic(buf, LOG_MAGIC)) {
          throw new EddyError(
            ErrorCode.STORAGE_ERROR,
            `${logPath} is not an Eddy Raft log: move it away and restart`,
          );
        }
        const { records, validLength } = decodeRecords(buf);
        for (const r of records) replay(state, r);
        if (validLength < buf.length) {
          truncatedBytes = buf.length - validLength;
          await fs.truncate(logPath, validLength);
        }
      }
      if (snapshot) {
        if (snapshot.meta.index < state.baseIndex) {
          throw new EddyError(
            ErrorCode.STORAGE_ERROR,
            `${dir}: raft log starts after its snapshot; restore it`,
          );
        }
        if (snapshot.meta.index === state.baseIndex) state.snapshot = snapshot;
        else state.applySnapshot(snapshot);
      }
      const fh = await fs.open(logPath, "a");
      await fh.datasync();
      return new FileRaftStorage(dir, fh, state, { truncatedBytes });
    } catch (err) {
      throw toEddyError(err);
    }
  }

  async load(): Promise<RaftPersistedState> {
    await this.chain;
    return this.state.view();
  }

  persist(batch: PersistBatch): Promise<void> {
    const run = this.chain.then(() => this.doPersist(batch));
    this.chain = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.fh.close();
  }

  private async doPersist(batch: PersistBatch): Promise<void> {
    if (this.closed) throw new EddyError(ErrorCode.SHUTTING_DOWN, "raft storage is closed");
    try {
      const s = this.state;
      if (batch.snapshot && s.applySnapshot(batch.snapshot)) {
        await writeAtomic(this.dir, SNAPSHOT_FILE, encodeSnapshot(batch.snapshot));
        if (batch.truncateFrom != null) s.truncateFrom(batch.truncateFrom);
        if (batch.entries?.length) s.append(batch.entries);
        if (batch.hardState) s.hardState = batch.hardState;
        await this.rewriteLog();
        return;
      }
      const parts: Uint8Array[] = [];
      if (batch.truncateFrom != null) {
        s.truncateFrom(batch.truncateFrom);
        parts.push(encodeRecord({ type: RecordType.TRUNCATE, from: batch.truncateFrom }));
      }
      if (batch.entries?.length) {
        for (const entry of s.append(batch.entries))
          parts.push(encodeRecord({ type: RecordType.ENTRY, entry }));
      }
      if (batch.hardState) {
        s.hardState = batch.hardState;
        parts.push(encodeRecord({ type: RecordType.HARD_STATE, hardState: batch.hardState }));
      }
      if (parts.length === 0) return;
      await this.fh.write(Buffer.concat(parts));
      await this.fh.datasync();
    } catch (err) {
      throw toEddyError(err);
    }
  }

  private async rewriteLog(): Promise<void> {
    const s = this.state;
    const parts: Uint8Array[] = [
      LOG_MAGIC,
      encodeRecord({ type: RecordType.BASE, index: s.baseIndex, term: s.baseTerm }),
      encodeRecord({ type: RecordType.HARD_STATE, hardState: s.hardState }),
      ...s.entries.map((entry) => encodeRecord({ type: RecordType.ENTRY, entry })),
    ];
    await this.fh.close();
    await writeAtomic(this.dir, LOG_FILE, Buffer.concat(parts));
    this.fh = await fs.open(path.join(this.dir, LOG_FILE), "a");
  }
}

function replay(state: LogicalRaftState, r: LogRecord): void {
  switch (r.type) {
    case RecordType.HARD_STATE:
      state.hardState = r.hardState;
      return;
    case RecordType.BASE:
      state.baseIndex = r.index;
      state.baseTerm = r.term;
      state.entries = [];
      return;
    case RecordType.TRUNCATE:
      state.truncateFrom(r.from);
      return;
    case RecordType.ENTRY:
      state.append([r.entry]);
      return;
  }
}

async function readOrNull(file: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return null;
    throw err;
  }
}

async function readSnapshot(file: string): Promise<ReturnType<typeof decodeSnapshot>> {
  const buf = await readOrNull(file);
  if (buf === null) return null;
  const snap = decodeSnapshot(buf);
  if (!snap)
    throw new EddyError(
      ErrorCode.STORAGE_ERROR,
      `${file} is damaged: restore it or wipe the node's raft dir`,
    );
  return snap;
}

/** Write `name` in `dir` via a temporary file, fsync, rename and fsync of the directory. */
async function writeAtomic(dir: string, name: string, data: Uint8Array): Promise<void> {
  const tmp = path.join(dir, `${name}.tmp`);
  const fh = await fs.open(tmp, "w");
  try {
    await fh.write(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, path.join(dir, name));
  const d = await fs.open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
