/**
 * A stopped node's replica of one partition, read straight from its segment
 * files (src/log/format.ts: `<topic>-<partition>/<baseOffset>.log`, RecordBatch
 * v2 bytes back to back). The node must be stopped: this reads whole files.
 */
import fs from "node:fs";
import path from "node:path";
import { partitionDirName } from "../../../src/log/format.ts";
import { decodeRecords } from "../../../src/log/record-batch.ts";
import type { ReadRecord } from "./history.ts";

const td = new TextDecoder();

/** The partition's directory somewhere under `dataDir`, or null when the node holds none. */
function findPartitionDir(dataDir: string, name: string): string | null {
  if (!fs.existsSync(dataDir)) return null;
  for (const e of fs.readdirSync(dataDir, { withFileTypes: true, recursive: true })) {
    if (e.isDirectory() && e.name === name) return path.join(e.parentPath, e.name);
  }
  return null;
}

export function readReplica(dataDir: string, topic: string, partition: number): ReadRecord[] {
  const dir = findPartitionDir(dataDir, partitionDirName(topic, partition));
  if (dir === null) return [];
  const segments = fs
    .readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  const out: ReadRecord[] = [];
  for (const seg of segments) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, seg)));
    for (const r of decodeRecords(bytes))
      out.push({ offset: r.offset, value: r.value ? td.decode(r.value) : "" });
  }
  return out;
}
