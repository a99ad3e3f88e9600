/**
 * On-disk format of the file log. FORMAT_VERSION 1. Any change to what is
 * written here comes with a migration (bump the version, convert on open).
 *
 * <data>/<topic>-<partition>/                  one directory per partition
 *   <baseOffset:20 digits>.log                 Kafka RecordBatch v2 bytes, back to back,
 *                                              exactly as on the wire (CRC-32C per batch)
 *   <baseOffset>.index                         sparse offset index: 8-byte entries
 *                                              relativeOffset uint32 BE | position uint32 BE;
 *                                              relativeOffset = a batch's baseOffset - segment
 *                                              baseOffset, position = that batch's file position;
 *                                              one entry per `indexIntervalBytes` of log
 *   <baseOffset>.timeindex                     12-byte entries timestamp int64 BE |
 *                                              relativeOffset uint32 BE (base offset of the batch
 *                                              holding the segment's max timestamp so far);
 *                                              timestamps strictly increase; the last entry is the
 *                                              segment's max timestamp once sealed / closed
 *   checkpoint                                 text "1 <logStartOffset> <recoveryPoint>\n":
 *                                              everything below recoveryPoint is fsynced and its
 *                                              indexes too (written atomically via checkpoint.tmp)
 *   clean-shutdown                             present only after a clean close: files and
 *                                              indexes are trusted without a scan; removed
 *                                              (durably) before the first change after open
 *   <baseOffset>.log.cleaned                   compaction output being written (deleted on open)
 *   <baseOffset>.log.swap                      compaction output committed, not yet renamed over
 *                                              the .log (completed on open; indexes rebuilt)
 *
 * Indexes are always rebuildable from the .log file.
 */

export const FORMAT_VERSION = 1;

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
export const CLEANED_SUFFIX = ".log.cleaned";
export const SWAP_SUFFIX = ".log.swap";
export const CHECKPOINT_FILE = "checkpoint";
export const CHECKPOINT_TMP_FILE = "checkpoint.tmp";
export const CLEAN_SHUTDOWN_FILE = "clean-shutdown";

const OFFSET_DIGITS = 20;

/** `<topic>-<partition>` */
export function partitionDirName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Parse a partition directory name; topics may contain '-' and '.', the partition is the last '-' part. */
export function parsePartitionDirName(name: string): { topic: string; partition: number } | null {
  const dash = name.lastIndexOf("-");
  if (dash <= 0 || dash === name.length - 1) return null;
  const digits = name.slice(dash + 1);
  if (!/^\d{1,9}$/.test(digits)) return null;
  const topic = name.slice(0, dash);
  if (topic === "." || topic === "..") return null;
  return { topic, partition: Number(digits) };
}

/** `<baseOffset, 20 digits>` */
export function offsetFileStem(baseOffset: number): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, "0");
}

export function segmentFileName(baseOffset: number, suffix: string = LOG_SUFFIX): string {
  return offsetFileStem(baseOffset) + suffix;
}

/** Parse `<20 digits><suffix>`; returns the base offset or null. */
export function parseSegmentFileName(name: string, suffix: string = LOG_SUFFIX): number | null {
  if (!name.endsWith(suffix)) return null;
  const stem = name.slice(0, name.length - suffix.length);
  if (stem.length !== OFFSET_DIGITS || !/^\d+$/.test(stem)) return null;
  const n = Number(stem);
  return Number.isSafeInteger(n) ? n : null;
}

export interface Checkpoint {
  logStartOffset: number;
  recoveryPoint: number;
}

export function encodeCheckpoint(c: Checkpoint): string {
  return `${FORMAT_VERSION} ${c.logStartOffset} ${c.recoveryPoint}\n`;
}

/** Returns null for a missing or unreadable checkpoint (callers then scan everything). */
export function decodeCheckpoint(text: string): Checkpoint | null {
  const m = /^(\d+) (\d+) (\d+)\n$/.exec(text);
  if (!m || Number(m[1]) !== FORMAT_VERSION) return null;
  const logStartOffset = Number(m[2]);
  const recoveryPoint = Number(m[3]);
  if (!Number.isSafeInteger(logStartOffset) || !Number.isSafeInteger(recoveryPoint)) return null;
  return { logStartOffset, recoveryPoint };
}
