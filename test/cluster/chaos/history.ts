/**
 * The history the chaos workload records and the checker reads.
 *
 * One `Op` per produce attempt of one unique value, with its invocation and
 * its completion (Jepsen's invoke/ok/fail/info pair):
 * - "ok":   the broker acknowledged the write (acks=all) at `offset`;
 * - "fail": the write certainly did not happen (the request never left the client);
 * - "info": unknown: a timeout, a dropped connection or an error answer that
 *           Kafka allows after the append (NOT_LEADER_OR_FOLLOWER,
 *           NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT, ...).
 *
 * A producer runs one op at a time, so its ops are totally ordered by `seq`.
 * Times are milliseconds on one monotonic clock (performance.now()).
 */
export const OpStatus = { OK: "ok", FAIL: "fail", INFO: "info" } as const;
export type OpStatus = (typeof OpStatus)[keyof typeof OpStatus];

export interface Op {
  /** The producer. */
  process: number;
  /** Position in the producer's sequence of ops. */
  seq: number;
  partition: number;
  /** Unique across the history. */
  value: string;
  invokeAt: number;
  completeAt: number;
  status: OpStatus;
  /** The acknowledged offset ("ok" only). */
  offset?: number;
  /** The node the request went to, if any. */
  node?: number;
  error?: string;
}

export interface ReadRecord {
  offset: number;
  value: string;
}

/**
 * A final read of one partition: "fetch" is what a consumer reads from the
 * leader (up to the high watermark); "disk" is one node's replica read from its
 * segment files after the cluster healed and the nodes stopped.
 */
export interface FinalRead {
  partition: number;
  node: number;
  source: "fetch" | "disk";
  records: ReadRecord[];
}

/** The unique value of op `seq` of producer `producer`. */
export function opValue(producer: number, seq: number): string {
  return `p${producer}-${seq}`;
}
