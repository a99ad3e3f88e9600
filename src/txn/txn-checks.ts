/** Argument checks of the transaction coordinator; each throws an EddyError that says what to fix. */
import { EddyError, ErrorCode } from "../errors.ts";
import type { TxnOffset } from "./types.ts";

const MAX_ID_LENGTH = 255;
/** Kafka's offset.metadata.max.bytes default. */
const MAX_METADATA_BYTES = 4096;

export function transactionalId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `transactional.id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  return id;
}

export function groupId(id: unknown): string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new EddyError(
      ErrorCode.INVALID_GROUP_ID,
      `group id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  return id;
}

export function timeout(ms: unknown, max: number): number {
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms <= 0 || ms > max) {
    throw new EddyError(
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
      `transaction.timeout.ms must be from 1 to ${max} (the broker's transaction.max.timeout.ms), got ${String(ms)}`,
    );
  }
  return ms;
}

export function offset(o: TxnOffset): void {
  if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `committed offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${o.offset}`,
    );
  }
  if (o.metadata !== undefined && new TextEncoder().encode(o.metadata).length > MAX_METADATA_BYTES) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `commit metadata for ${o.topic}-${o.partition} is over ${MAX_METADATA_BYTES} bytes: shorten it`,
    );
  }
}

export function fenced(
  id: string,
  current: { producerId: number; producerEpoch: number },
  asked: { producerId: number; producerEpoch: number },
): EddyError {
  return new EddyError(
    ErrorCode.PRODUCER_FENCED,
    `producer ${asked.producerId} epoch ${asked.producerEpoch} of transactional id '${id}' was fenced by producer ${current.producerId} epoch ${current.producerEpoch}: another instance took over; close this producer`,
    { currentProducerId: current.producerId, currentEpoch: current.producerEpoch },
  );
}
