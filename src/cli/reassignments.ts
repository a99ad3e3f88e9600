/** Partition reassignments in progress as the HTTP API lists them (GET /v1/cluster, /v1/cluster/reassignments). */
import type { PartitionReassignment } from "../broker/index.ts";
import { table } from "./format.ts";

/** One reassignment in progress: the API serves the broker's PartitionReassignment as JSON. */
export type ReassignmentView = PartitionReassignment;

/** The reassignments in progress: where each partition goes and what is still moving. */
export function formatReassignments(list: readonly ReassignmentView[]): string {
  return table(
    ["TOPIC", "PARTITION", "REPLICAS", "TARGET", "ADDING", "REMOVING", "ISR", "LEADER"],
    list.map((r) => [
      r.topic,
      r.partition,
      r.replicas.join(","),
      r.targetReplicas.join(","),
      r.addingReplicas.join(",") || null,
      r.removingReplicas.join(",") || null,
      r.isr.join(","),
      r.leader < 0 ? "none" : r.leader,
    ]),
  );
}

/** A map key for a topic partition. */
export function partitionKey(p: { topic: string; partition: number }): string {
  return `${p.topic}\u0000${p.partition}`;
}
