/**
 * A Jepsen-style checker over the chaos workload's history (history.ts) and
 * the final reads of every partition. Anomalies:
 *
 * - lost:           an acknowledged value is missing from its partition;
 * - offsetMismatch: an acknowledged value sits at another offset than the one acknowledged;
 * - duplicates:     a value appears more than once (in one partition or across partitions);
 * - reordered:      within a partition, op A was acknowledged before op B was invoked
 *                   (which covers one producer's order), both were acknowledged, yet B's
 *                   record precedes A's;
 * - inconsistent:   two reads of the same partition (the consumer's view and each node's
 *                   replica) hold different values at one offset, or one lacks an offset
 *                   the other has;
 * - unexpected:     a value nobody wrote, a value whose write certainly failed, or a value
 *                   in another partition than it was written to.
 *
 * The reference log of a partition is its "fetch" read (what a consumer sees), or
 * else the read of the lowest node id. Unacknowledged ("info") values may or
 * may not appear; either is fine.
 */
import { type FinalRead, type Op, OpStatus, type ReadRecord } from "./history.ts";

export interface Anomalies {
  lost: Array<{ partition: number; value: string; ackedOffset: number }>;
  offsetMismatch: Array<{ partition: number; value: string; ackedOffset: number; offset: number }>;
  duplicates: Array<{ value: string; at: Array<{ partition: number; offset: number }> }>;
  reordered: Array<{
    partition: number;
    first: { value: string; offset: number; completeAt: number };
    second: { value: string; offset: number; invokeAt: number };
  }>;
  inconsistent: Array<{
    partition: number;
    offset: number;
    /** "node 2 (disk)" → value, or null where that read has no such offset. */
    values: Record<string, string | null>;
  }>;
  unexpected: Array<{ partition: number; offset: number; value: string; why: string }>;
}

export interface CheckReport {
  ops: number;
  ok: number;
  fail: number;
  info: number;
  partitions: number;
  reads: number;
  /** Records in the reference logs. */
  records: number;
  /** "info" values found in the logs (unacknowledged writes that did happen). */
  infoPresent: number;
  anomalies: Anomalies;
  anomalyCount: number;
  valid: boolean;
}

export function check(history: readonly Op[], reads: readonly FinalRead[]): CheckReport {
  const anomalies: Anomalies = {
    lost: [],
    offsetMismatch: [],
    duplicates: [],
    reordered: [],
    inconsistent: [],
    unexpected: [],
  };
  const byValue = new Map(history.map((op) => [op.value, op]));
  const partitions = [
    ...new Set([...history.map((o) => o.partition), ...reads.map((r) => r.partition)]),
  ].sort((a, b) => a - b);
  const reference = new Map<number, FinalRead>();
  for (const p of partitions) {
    const mine = reads.filter((r) => r.partition === p);
    const ref = mine.find((r) => r.source === "fetch") ?? [...mine].sort((a, b) => a.node - b.node)[0];
    if (ref) reference.set(p, ref);
  }

  // Where each value is, over all reference logs.
  const where = new Map<string, Array<{ partition: number; offset: number }>>();
  let records = 0;
  for (const [p, ref] of reference) {
    for (const r of ref.records) {
      records++;
      const list = where.get(r.value) ?? [];
      list.push({ partition: p, offset: r.offset });
      where.set(r.value, list);
    }
  }
  let infoPresent = 0;
  for (const [value, at] of where) {
    if (at.length > 1) anomalies.duplicates.push({ value, at });
    const op = byValue.get(value);
    for (const a of at) {
      if (!op) anomalies.unexpected.push({ ...a, value, why: "no producer wrote this value" });
      else if (op.status === OpStatus.FAIL)
        anomalies.unexpected.push({ ...a, value, why: "its write failed" });
      else if (op.partition !== a.partition) {
        anomalies.unexpected.push({ ...a, value, why: `written to partition ${op.partition}` });
      }
    }
    if (op?.status === OpStatus.INFO) infoPresent++;
  }

  for (const p of partitions) {
    const acked = history.filter((o) => o.partition === p && o.status === OpStatus.OK);
    const placed: Array<{ op: Op; offset: number }> = [];
    for (const op of acked) {
      const at = (where.get(op.value) ?? []).filter((a) => a.partition === p);
      const ackedOffset = op.offset ?? -1;
      if (at.length === 0) {
        anomalies.lost.push({ partition: p, value: op.value, ackedOffset });
        continue;
      }
      const first = at[0]!.offset;
      if (!at.some((a) => a.offset === ackedOffset)) {
        anomalies.offsetMismatch.push({ partition: p, value: op.value, ackedOffset, offset: first });
      }
      placed.push({ op, offset: first });
    }
    anomalies.reordered.push(...realTimeOrderViolations(p, placed));
    anomalies.inconsistent.push(...divergences(p, reads, reference.get(p)));
  }

  const anomalyCount = Object.values(anomalies).reduce((n, list) => n + list.length, 0);
  return {
    ops: history.length,
    ok: history.filter((o) => o.status === OpStatus.OK).length,
    fail: history.filter((o) => o.status === OpStatus.FAIL).length,
    info: history.filter((o) => o.status === OpStatus.INFO).length,
    partitions: partitions.length,
    reads: reads.length,
    records,
    infoPresent,
    anomalies,
    anomalyCount,
    valid: anomalyCount === 0,
  };
}

/**
 * Acknowledged ops A, B of one partition with A complete before B invoked must
 * have offset(A) < offset(B). Walk from the highest offset down, keeping the
 * earliest completion seen so far: a lower-offset op invoked after it is a
 * violation (reported once per op, against that earliest completion).
 */
function realTimeOrderViolations(
  partition: number,
  placed: Array<{ op: Op; offset: number }>,
): Anomalies["reordered"] {
  const out: Anomalies["reordered"] = [];
  const sorted = [...placed].sort((a, b) => b.offset - a.offset);
  let earliest: { op: Op; offset: number } | null = null;
  for (const cur of sorted) {
    if (earliest !== null && earliest.op.completeAt < cur.op.invokeAt) {
      out.push({
        partition,
        first: { value: earliest.op.value, offset: earliest.offset, completeAt: earliest.op.completeAt },
        second: { value: cur.op.value, offset: cur.offset, invokeAt: cur.op.invokeAt },
      });
    }
    if (earliest === null || cur.op.completeAt < earliest.op.completeAt) earliest = cur;
  }
  return out;
}

function divergences(
  partition: number,
  reads: readonly FinalRead[],
  ref: FinalRead | undefined,
): Anomalies["inconsistent"] {
  if (!ref) return [];
  const label = (r: FinalRead): string => `node ${r.node} (${r.source})`;
  const index = (recs: ReadRecord[]): Map<number, string> => new Map(recs.map((r) => [r.offset, r.value]));
  const refIdx = index(ref.records);
  const out: Anomalies["inconsistent"] = [];
  for (const other of reads) {
    if (other === ref || other.partition !== partition) continue;
    const idx = index(other.records);
    const offsets = [...new Set([...refIdx.keys(), ...idx.keys()])].sort((a, b) => a - b);
    for (const offset of offsets) {
      const a = refIdx.get(offset) ?? null;
      const b = idx.get(offset) ?? null;
      if (a !== b) out.push({ partition, offset, values: { [label(ref)]: a, [label(other)]: b } });
    }
  }
  return out;
}

/** A short human-readable summary (the first few anomalies of each kind). */
export function formatReport(r: CheckReport, max = 5): string {
  const lines = [
    `ops ${r.ops}: ok ${r.ok}, fail ${r.fail}, info ${r.info} (${r.infoPresent} of the info writes landed)`,
    `partitions ${r.partitions}, final reads ${r.reads}, records ${r.records}`,
    `anomalies: ${r.anomalyCount}${r.valid ? " — valid" : " — INVALID"}`,
  ];
  for (const [kind, list] of Object.entries(r.anomalies) as Array<[string, unknown[]]>) {
    lines.push(`  ${kind}: ${list.length}`);
    for (const a of list.slice(0, max)) lines.push(`    ${JSON.stringify(a)}`);
    if (list.length > max) lines.push(`    … ${list.length - max} more`);
  }
  return lines.join("\n");
}
