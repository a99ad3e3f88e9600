/**
 * Writing a transaction marker on a partition this node leads (the receiving
 * side of Kafka's WriteTxnMarkers), with coordinator fencing: the marker
 * carries its coordinator's epoch, and a marker from an older coordinator
 * than the last one seen for the producer is refused with
 * TRANSACTION_COORDINATOR_FENCED (a deposed coordinator that still runs).
 *
 * The check and the append of one partition's markers run one at a time, so
 * two coordinators racing on the same producer cannot both pass the check.
 * Single node: the coordinator epoch is always 0 and never fenced.
 */
import type { Partition } from "../broker/partition.ts";
import type { AppendInfo } from "../log/types.ts";
import { resolvePendingMarker } from "./logged-batch.ts";

/** The coordinator epoch of a single node's markers (there is one coordinator, and it never moves). */
export const SINGLE_NODE_COORDINATOR_EPOCH = 0;

export interface MarkerWrite {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
  now: number;
}

const tails = new WeakMap<Partition, Promise<unknown>>();

/** Check the marker's coordinator epoch against the producer's, then append it. Throws TRANSACTION_COORDINATOR_FENCED. */
export function appendCheckedMarker(p: Partition, m: MarkerWrite): Promise<AppendInfo> {
  const run = (tails.get(p) ?? Promise.resolve()).then(async () => {
    await resolvePendingMarker(p.producers, p.log, m.producerId);
    p.producers.checkMarker(m);
    return p.appendMarker(m);
  });
  tails.set(
    p,
    run.then(
      () => undefined,
      () => undefined,
    ),
  );
  return run;
}
