/**
 * Acknowledgement rules shared by produce and appendBatch:
 * acks=0 returns once written; acks=1 and acks=-1 (all) wait until the
 * records are committed under the topic's durability policy (with one node,
 * "all" means durable here), bounded by the request timeout → TIMEOUT.
 * acks=-1 also requires min.insync.replicas in-sync replicas, as Kafka does.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { BrokerContext } from "./context.ts";
import type { Partition } from "./partition.ts";
import type { TopicState } from "./topics.ts";
import type { Acks } from "./types.ts";

export const DEFAULT_PRODUCE_TIMEOUT_MS = 30_000;

export function validateAcks(acks: unknown): Acks {
  if (acks === undefined) return -1;
  if (acks === 0 || acks === 1 || acks === -1) return acks;
  throw new EddyError(ErrorCode.INVALID_REQUEST, `acks must be 0, 1 or -1 (all), got ${String(acks)}`);
}

/**
 * With acks=all, refuse before writing when fewer replicas are in sync than
 * min.insync.replicas (the partition's ISR in cluster mode; 1 on a single node).
 */
export function checkMinInsync(topic: TopicState, acks: Acks, partition?: Partition): void {
  if (acks !== -1) return;
  const inSync = partition?.assignment?.isr.length ?? 1;
  const min = topic.configs["min.insync.replicas"];
  if (inSync < min) {
    const where = partition ? `${topic.record.name}-${partition.id}` : `topic '${topic.record.name}'`;
    throw new EddyError(
      ErrorCode.NOT_ENOUGH_REPLICAS,
      `${where} needs ${min} in-sync replicas for acks=all but has ${inSync}: bring replicas back, lower min.insync.replicas or use acks=1`,
    );
  }
}

/**
 * After an acks=all write committed: if the ISR shrank below
 * min.insync.replicas meanwhile (Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND),
 * the record is not on enough replicas: answer NOT_ENOUGH_REPLICAS (the
 * producer retries; the record may then appear twice, never lost silently).
 */
export function checkMinInsyncAfterAppend(topic: TopicState, acks: Acks, partition: Partition): void {
  if (acks !== -1 || partition.assignment === null) return;
  const inSync = partition.assignment.isr.length;
  const min = topic.configs["min.insync.replicas"];
  if (inSync < min) {
    throw new EddyError(
      ErrorCode.NOT_ENOUGH_REPLICAS,
      `${topic.record.name}-${partition.id} was written, but its in-sync replicas fell to ${inSync}, below min.insync.replicas=${min}, before the write was acknowledged: retry once replicas are back`,
    );
  }
}

/** Refuse before writing anything when the operator's disk guard says the disk is full. */
export function checkDisk(ctx: BrokerContext): void {
  if (ctx.diskFull?.()) {
    throw new EddyError(
      ErrorCode.STORAGE_FULL,
      "the disk is full: free space or lower retention, then retry",
    );
  }
}

/** Await `work`, or throw TIMEOUT after `timeoutMs`. */
export async function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number | undefined,
  what: string,
): Promise<T> {
  const ms = timeoutMs ?? DEFAULT_PRODUCE_TIMEOUT_MS;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new EddyError(ErrorCode.INVALID_REQUEST, `timeoutMs must be a non-negative number, got ${ms}`);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EddyError(
            ErrorCode.TIMEOUT,
            `${what} was written but not confirmed durable within ${ms} ms: it may still become visible; retry or raise the timeout`,
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
