/**
 * One conformance suite for RaftStorage, run against the in-memory twin and
 * the file implementation; then file-only crash tests (reopen, torn tail,
 * flipped byte, crash between snapshot and log rewrite).
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileRaftStorage } from "../../src/cluster/raft/file-storage.ts";
import { MemoryRaftStorage, type RaftStorage } from "../../src/cluster/raft/storage.ts";
import { EntryKind, type LogEntry, type Snapshot } from "../../src/cluster/raft/types.ts";

const enc = new TextEncoder();
const entry = (index: number, term: number, text = `e${index}t${term}`): LogEntry => ({
  index,
  term,
  kind: EntryKind.COMMAND,
  data: enc.encode(text),
});
const snap = (index: number, term: number): Snapshot => ({
  meta: { index, term, config: { voters: [{ id: 1 }, { id: 2 }, { id: 3, witness: true }] } },
  data: enc.encode(`state@${index}`),
});
const shape = (es: readonly LogEntry[]) =>
  es.map((e) => `${e.index}:${e.term}:${new TextDecoder().decode(e.data)}`);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-raft-"));
  dirs.push(d);
  return d;
}

interface Impl {
  name: string;
  open(): Promise<{ storage: RaftStorage; reopen(): Promise<RaftStorage> }>;
}

const impls: Impl[] = [
  {
    name: "memory",
    async open() {
      const storage = new MemoryRaftStorage();
      return { storage, reopen: async () => storage };
    },
  },
  {
    name: "file",
    async open() {
      const dir = tmp();
      const storage = await FileRaftStorage.open(dir);
      return {
        storage,
        reopen: async () => {
          await storage.close();
          return FileRaftStorage.open(dir);
        },
      };
    },
  },
];

for (const impl of impls) {
  describe(`RaftStorage conformance: ${impl.name}`, () => {
    it("starts empty", async () => {
      const { storage } = await impl.open();
      expect(await storage.load()).toEqual({
        hardState: { term: 0, votedFor: null, commit: 0 },
        snapshot: null,
        entries: [],
      });
      await storage.close();
    });

    it("keeps hard state and entries across reopen", async () => {
      const { storage, reopen } = await impl.open();
      await storage.persist({
        entries: [entry(1, 1), entry(2, 1)],
        hardState: { term: 1, votedFor: 2, commit: 1 },
      });
      await storage.persist({ entries: [entry(3, 2)], hardState: { term: 2, votedFor: null, commit: 2 } });
      const s2 = await reopen();
      const st = await s2.load();
      expect(st.hardState).toEqual({ term: 2, votedFor: null, commit: 2 });
      expect(shape(st.entries)).toEqual(["1:1:e1t1", "2:1:e2t1", "3:2:e3t2"]);
      await s2.close();
    });

    it("truncates before appending in one batch", async () => {
      const { storage, reopen } = await impl.open();
      await storage.persist({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)] });
      await storage.persist({ truncateFrom: 2, entries: [entry(2, 3)] });
      const s2 = await reopen();
      expect(shape((await s2.load()).entries)).toEqual(["1:1:e1t1", "2:3:e2t3"]);
      await s2.close();
    });

    it("rejects an entry that leaves a gap", async () => {
      const { storage } = await impl.open();
      await storage.persist({ entries: [entry(1, 1)] });
      await expect(storage.persist({ entries: [entry(3, 1)] })).rejects.toMatchObject({
        code: "STORAGE_ERROR",
      });
      await storage.close();
    });

    it("a local snapshot drops covered entries and keeps later ones", async () => {
      const { storage, reopen } = await impl.open();
      await storage.persist({ entries: [1, 2, 3, 4].map((i) => entry(i, 1)) });
      await storage.persist({ snapshot: snap(2, 1) });
      await storage.persist({ entries: [entry(5, 2)] });
      const s2 = await reopen();
      const st = await s2.load();
      expect(st.snapshot?.meta.index).toBe(2);
      expect(st.snapshot?.meta.config.voters[2]).toEqual({ id: 3, witness: true });
      expect(new TextDecoder().decode(st.snapshot!.data)).toBe("state@2");
      expect(shape(st.entries)).toEqual(["3:1:e3t1", "4:1:e4t1", "5:2:e5t2"]);
      await s2.close();
    });

    it("a snapshot that does not match the log replaces all of it; an older one is ignored", async () => {
      const { storage, reopen } = await impl.open();
      await storage.persist({ entries: [1, 2, 3].map((i) => entry(i, 1)) });
      await storage.persist({ snapshot: snap(5, 4), hardState: { term: 4, votedFor: null, commit: 5 } });
      await storage.persist({ snapshot: snap(3, 1), entries: [entry(6, 4)] });
      const s2 = await reopen();
      const st = await s2.load();
      expect(st.snapshot?.meta.index).toBe(5);
      expect(st.hardState.commit).toBe(5);
      expect(shape(st.entries)).toEqual(["6:4:e6t4"]);
      await s2.close();
    });
  });
}

describe("FileRaftStorage crash recovery", () => {
  it("cuts a torn tail back to the last whole record", async () => {
    const dir = tmp();
    const s = await FileRaftStorage.open(dir);
    await s.persist({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, votedFor: 1, commit: 0 } });
    const file = path.join(dir, "raft.log");
    const goodLength = fs.statSync(file).size;
    await s.persist({ entries: [entry(3, 1, "x".repeat(100))] });
    // Abandon without closing, then tear the last record in half.
    fs.truncateSync(file, goodLength + 40);
    const s2 = await FileRaftStorage.open(dir);
    expect(s2.info.truncatedBytes).toBe(40);
    const st = await s2.load();
    expect(shape(st.entries)).toEqual(["1:1:e1t1", "2:1:e2t1"]);
    expect(st.hardState).toEqual({ term: 1, votedFor: 1, commit: 0 });
    expect(fs.statSync(file).size).toBe(goodLength);
    await s2.persist({ entries: [entry(3, 2)] });
    await s2.close();
    const s3 = await FileRaftStorage.open(dir);
    expect(shape((await s3.load()).entries)).toEqual(["1:1:e1t1", "2:1:e2t1", "3:2:e3t2"]);
    await s3.close();
    await s.close(); // the abandoned handle (it wrote nothing after the "crash")
  });

  it("a flipped byte ends the log at the damaged record", async () => {
    const dir = tmp();
    const s = await FileRaftStorage.open(dir);
    for (let i = 1; i <= 5; i++) await s.persist({ entries: [entry(i, 1)] });
    await s.close();
    const file = path.join(dir, "raft.log");
    const bytes = fs.readFileSync(file);
    const recordSize = (bytes.length - 8) / 5;
    bytes[8 + recordSize * 3 + 12]! ^= 0xff; // inside record 4's body
    fs.writeFileSync(file, bytes);
    const s2 = await FileRaftStorage.open(dir);
    expect(shape((await s2.load()).entries)).toEqual(["1:1:e1t1", "2:1:e2t1", "3:1:e3t1"]);
    await s2.close();
  });

  it("refuses a file that is not a raft log", async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, "raft.log"), "definitely not raft");
    await expect(FileRaftStorage.open(dir)).rejects.toMatchObject({ code: "STORAGE_ERROR" });
  });

  it("a crash between installing a snapshot and rewriting the log follows Raft's snapshot rule", async () => {
    const dir = tmp();
    const s = await FileRaftStorage.open(dir);
    await s.persist({ entries: [1, 2, 3].map((i) => entry(i, 1)) });
    await s.close();
    // Simulate: the new snapshot file landed, the log rewrite did not.
    const { encodeSnapshot } = await import("../../src/cluster/raft/file-format.ts");
    fs.writeFileSync(path.join(dir, "snapshot.bin"), encodeSnapshot(snap(2, 7)));
    const s2 = await FileRaftStorage.open(dir);
    const st = await s2.load();
    expect(st.snapshot?.meta.index).toBe(2);
    expect(st.entries).toEqual([]); // term mismatch at 2: the whole log goes
    await s2.close();
  });
});
