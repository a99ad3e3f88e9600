/**
 * What the produce and read forwarders (produce-forwarder.ts,
 * read-forwarder.ts) share when they carry a call to another node: which
 * failures are worth another try (at a refreshed leader or another replica),
 * the pause between tries, and the partition as this node's metadata has it
 * now.
 */
import type { BrokerContext } from "../broker/context.ts";
import type { Partition } from "../broker/partition.ts";
import { EddyError, ErrorCode } from "../errors.ts";
import { sleep } from "../util/sleep.ts";

const RETRY_BACKOFF_MS = 50;
const RETRIABLE = new Set<string>([
  ErrorCode.NOT_LEADER,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.TIMEOUT,
  ErrorCode.UNKNOWN,
]);

/** A leader change, a node shutting down or a transport failure: another try may succeed. */
export function isRetriableForward(err: unknown): err is EddyError {
  return err instanceof EddyError && RETRIABLE.has(err.code);
}

/** The pause before the next try, never longer than the `leftMs` the call has. */
export function pauseBeforeRetry(leftMs: number, signal?: AbortSignal): Promise<void> {
  return sleep(Math.min(RETRY_BACKOFF_MS, Math.max(0, leftMs)), signal);
}

/** The partition as this node's metadata has it now (the object is replaced on reconcile), if it exists. */
export function currentPartition(
  ctx: BrokerContext,
  topic: string,
  partition: number,
): Partition | undefined {
  return ctx.topics.get(topic)?.partitions[partition];
}
