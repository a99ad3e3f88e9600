/**
 * Partition reassignment, as in Kafka (KIP-455), as pure functions over the
 * applied metadata: the controller (controller.ts) plans with them and the
 * metadata log (commands.ts PARTITION_REASSIGNMENT) carries the result, so a
 * reassignment in progress survives a controller failover.
 *
 * 1. Start: replicas become target ++ (original − target) (the target's
 *    first replica is the new preferred leader; the replicas being removed
 *    stay until the end), the leader epoch is bumped, the adding replicas
 *    open their logs and fetch from the leader.
 * 2. Wait: the leader adds each new replica to the ISR once it caught up
 *    (replica-manager.ts, as for any follower).
 * 3. Complete (controller tick): once every target replica is in the ISR,
 *    replicas = target, ISR = ISR ∩ target, and if the leader is being
 *    removed the first live in-sync target replica leads; epoch bumped. The
 *    removed replicas close and delete their logs (TopicManager.reconcile).
 * Replace: a new target during a reassignment keeps the original replicas
 * and drops adding replicas not in the new target. Cancel: back to the
 * original replicas at once (adding replicas dropped).
 *
 * The reassignments in progress are kept in the metadata store as one
 * setting (JSON), written only by the metadata state machine.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { PartitionReassignment } from "../broker/types.ts";
import type { MetadataStore, PartitionAssignment } from "../metadata/types.ts";
import { CommandType, type MetadataCommand } from "./commands.ts";

export const REASSIGNMENTS_SETTING = "cluster.reassignments";

export interface ReassignmentRecord {
  topic: string;
  partition: number;
  /** The replicas before the reassignment began (what a cancel returns to). */
  original: number[];
  target: number[];
}

export function loadReassignments(store: MetadataStore): ReassignmentRecord[] {
  const raw = store.getSetting(REASSIGNMENTS_SETTING);
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    return Array.isArray(list) ? (list as ReassignmentRecord[]) : [];
  } catch {
    return [];
  }
}

export function saveReassignments(store: MetadataStore, list: readonly ReassignmentRecord[]): void {
  const sorted = [...list].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
  store.setSetting(REASSIGNMENTS_SETTING, JSON.stringify(sorted));
}

export function findReassignment(
  list: readonly ReassignmentRecord[],
  topic: string,
  partition: number,
): ReassignmentRecord | undefined {
  return list.find((r) => r.topic === topic && r.partition === partition);
}

/** The status view of one reassignment in progress. */
export function describeReassignment(r: ReassignmentRecord, a: PartitionAssignment): PartitionReassignment {
  return {
    topic: r.topic,
    partition: r.partition,
    originalReplicas: r.original,
    targetReplicas: r.target,
    replicas: a.replicas,
    addingReplicas: r.target.filter((x) => !r.original.includes(x)),
    removingReplicas: r.original.filter((x) => !r.target.includes(x)),
    leader: a.leader,
    leaderEpoch: a.leaderEpoch,
    isr: a.isr,
  };
}

/** Check a target replica list against the data nodes; returns it. */
export function validateTarget(
  topic: string,
  partition: number,
  target: unknown,
  dataNodes: readonly number[],
): number[] {
  const where = `reassignment of ${topic}-${partition}`;
  if (!Array.isArray(target) || target.length === 0) {
    throw new EddyError(ErrorCode.INVALID_REQUEST, `${where}: give at least one target replica`);
  }
  for (const r of target) {
    if (!Number.isSafeInteger(r) || !dataNodes.includes(r as number)) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `${where}: node ${String(r)} is not a data node of this cluster (data nodes: ${dataNodes.join(", ")}); add it to [[cluster.peers]] on every node and restart them one by one first`,
      );
    }
  }
  if (new Set(target).size !== target.length) {
    throw new EddyError(ErrorCode.INVALID_REQUEST, `${where}: a node appears twice in ${target.join(",")}`);
  }
  return target as number[];
}

/** Start (or replace) a reassignment of `a` to `target`; null when there is nothing to do. */
export function planStart(
  a: PartitionAssignment,
  current: ReassignmentRecord | undefined,
  target: number[],
  alive: ReadonlySet<number>,
): MetadataCommand | null {
  if (!current && sameOrder(target, a.replicas)) return null;
  if (current && sameOrder(target, current.target)) return null;
  const original = current?.original ?? a.replicas;
  const replicas = unique([...target, ...original]);
  return change(a, replicas, { original, target }, alive, () => {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `cannot reassign ${a.topic}-${a.partition} to ${target.join(",")}: none of its replicas ${replicas.join(",")} is in sync (ISR ${a.isr.join(",") || "empty"}); wait for the ISR to recover`,
    );
  });
}

/** Finish a reassignment whose target replicas are all in sync; null while waiting. */
export function planComplete(
  a: PartitionAssignment,
  r: ReassignmentRecord,
  alive: ReadonlySet<number>,
): MetadataCommand | null {
  if (a.leader < 0 || !r.target.every((x) => a.isr.includes(x))) return null;
  return change(a, r.target, null, alive, () => null);
}

/** Cancel: back to the original replicas now. */
export function planCancel(
  a: PartitionAssignment,
  r: ReassignmentRecord,
  alive: ReadonlySet<number>,
): MetadataCommand {
  return change(a, r.original, null, alive, () => {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `cannot cancel the reassignment of ${a.topic}-${a.partition}: none of its original replicas ${r.original.join(",")} is in sync and alive (ISR ${a.isr.join(",")}); let it finish, or reassign it to replicas that are in sync`,
    );
  });
}

function change<T>(
  a: PartitionAssignment,
  replicas: number[],
  reassignment: { original: number[]; target: number[] } | null,
  alive: ReadonlySet<number>,
  impossible: () => T,
): MetadataCommand | T {
  const isr = a.isr.filter((r) => replicas.includes(r));
  let leader = a.leader;
  if (!isr.includes(leader)) leader = replicas.find((r) => isr.includes(r) && alive.has(r)) ?? -1;
  if (leader < 0) return impossible();
  return {
    type: CommandType.PARTITION_REASSIGNMENT,
    topic: a.topic,
    partition: a.partition,
    prevEpoch: a.leaderEpoch,
    replicas,
    isr,
    leader,
    reassignment,
  };
}

function unique(list: number[]): number[] {
  return [...new Set(list)];
}

function sameOrder(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => b[i] === x);
}
