/**
 * Eddy's typed errors: one closed list of codes, each with a retriable flag and
 * its meaning in every protocol we speak. Frontends map `EddyError.code` through
 * `ERROR_TABLE`; nobody matches on message text.
 *
 * Kafka codes are the protocol's numeric error codes; HTTP is the status used
 * by the REST API; MQTT is a v5 reason code; CoAP is a response code ("4.04").
 */

export const ErrorCode = {
  UNKNOWN: "UNKNOWN",
  INVALID_REQUEST: "INVALID_REQUEST",
  INVALID_TOPIC: "INVALID_TOPIC",
  TOPIC_NOT_FOUND: "TOPIC_NOT_FOUND",
  TOPIC_EXISTS: "TOPIC_EXISTS",
  PARTITION_NOT_FOUND: "PARTITION_NOT_FOUND",
  INVALID_PARTITIONS: "INVALID_PARTITIONS",
  INVALID_CONFIG: "INVALID_CONFIG",
  RECORD_TOO_LARGE: "RECORD_TOO_LARGE",
  BATCH_TOO_LARGE: "BATCH_TOO_LARGE",
  CORRUPT_RECORD: "CORRUPT_RECORD",
  UNSUPPORTED_FORMAT: "UNSUPPORTED_FORMAT",
  UNSUPPORTED_COMPRESSION: "UNSUPPORTED_COMPRESSION",
  OFFSET_OUT_OF_RANGE: "OFFSET_OUT_OF_RANGE",
  INVALID_TIMESTAMP: "INVALID_TIMESTAMP",
  STORAGE_FULL: "STORAGE_FULL",
  STORAGE_ERROR: "STORAGE_ERROR",
  TIMEOUT: "TIMEOUT",
  NOT_LEADER: "NOT_LEADER",
  FENCED_LEADER_EPOCH: "FENCED_LEADER_EPOCH",
  NOT_ENOUGH_REPLICAS: "NOT_ENOUGH_REPLICAS",
  GROUP_NOT_FOUND: "GROUP_NOT_FOUND",
  GROUP_NOT_EMPTY: "GROUP_NOT_EMPTY",
  INVALID_GROUP_ID: "INVALID_GROUP_ID",
  DUPLICATE_SEQUENCE: "DUPLICATE_SEQUENCE",
  OUT_OF_ORDER_SEQUENCE: "OUT_OF_ORDER_SEQUENCE",
  INVALID_PRODUCER_EPOCH: "INVALID_PRODUCER_EPOCH",
  UNKNOWN_PRODUCER_ID: "UNKNOWN_PRODUCER_ID",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  SHUTTING_DOWN: "SHUTTING_DOWN",
  NOT_FOUND: "NOT_FOUND",
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  // Consumer groups (src/groups)
  ILLEGAL_GENERATION: "ILLEGAL_GENERATION",
  UNKNOWN_MEMBER_ID: "UNKNOWN_MEMBER_ID",
  REBALANCE_IN_PROGRESS: "REBALANCE_IN_PROGRESS",
  MEMBER_ID_REQUIRED: "MEMBER_ID_REQUIRED",
  INCONSISTENT_GROUP_PROTOCOL: "INCONSISTENT_GROUP_PROTOCOL",
  INVALID_SESSION_TIMEOUT: "INVALID_SESSION_TIMEOUT",
  COORDINATOR_NOT_AVAILABLE: "COORDINATOR_NOT_AVAILABLE",
  /** Cluster mode: another node coordinates this group / transactional id (find the coordinator again). */
  NOT_COORDINATOR: "NOT_COORDINATOR",
  /** Cluster mode: this node just became the coordinator and is still loading its state. */
  COORDINATOR_LOAD_IN_PROGRESS: "COORDINATOR_LOAD_IN_PROGRESS",
  FENCED_INSTANCE_ID: "FENCED_INSTANCE_ID",
  GROUP_MAX_SIZE_REACHED: "GROUP_MAX_SIZE_REACHED",
  OFFSET_METADATA_TOO_LARGE: "OFFSET_METADATA_TOO_LARGE",
  INVALID_TXN_STATE: "INVALID_TXN_STATE",
  INVALID_PRODUCER_ID_MAPPING: "INVALID_PRODUCER_ID_MAPPING",
  INVALID_TRANSACTION_TIMEOUT: "INVALID_TRANSACTION_TIMEOUT",
  CONCURRENT_TRANSACTIONS: "CONCURRENT_TRANSACTIONS",
  PRODUCER_FENCED: "PRODUCER_FENCED",
  /** A transaction marker from a coordinator older than the last one this partition saw (a deposed coordinator). */
  TRANSACTION_COORDINATOR_FENCED: "TRANSACTION_COORDINATOR_FENCED",
  TRANSACTIONAL_ID_NOT_FOUND: "TRANSACTIONAL_ID_NOT_FOUND",
  OPERATION_NOT_ATTEMPTED: "OPERATION_NOT_ATTEMPTED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorMapping {
  readonly retriable: boolean;
  readonly http: number;
  readonly kafka: number;
  readonly mqtt: number;
  readonly coap: string;
}

/** The one table that maps every error code to each protocol. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorMapping>> = {
  UNKNOWN: { retriable: false, http: 500, kafka: -1, mqtt: 0x80, coap: "5.00" },
  INVALID_REQUEST: { retriable: false, http: 400, kafka: 42, mqtt: 0x81, coap: "4.00" },
  INVALID_TOPIC: { retriable: false, http: 400, kafka: 17, mqtt: 0x90, coap: "4.00" },
  TOPIC_NOT_FOUND: { retriable: true, http: 404, kafka: 3, mqtt: 0x90, coap: "4.04" },
  TOPIC_EXISTS: { retriable: false, http: 409, kafka: 36, mqtt: 0x80, coap: "4.09" },
  PARTITION_NOT_FOUND: { retriable: true, http: 404, kafka: 3, mqtt: 0x80, coap: "4.04" },
  INVALID_PARTITIONS: { retriable: false, http: 400, kafka: 37, mqtt: 0x80, coap: "4.00" },
  INVALID_CONFIG: { retriable: false, http: 400, kafka: 40, mqtt: 0x80, coap: "4.00" },
  RECORD_TOO_LARGE: { retriable: false, http: 413, kafka: 10, mqtt: 0x95, coap: "4.13" },
  BATCH_TOO_LARGE: { retriable: false, http: 413, kafka: 18, mqtt: 0x95, coap: "4.13" },
  CORRUPT_RECORD: { retriable: true, http: 400, kafka: 2, mqtt: 0x81, coap: "4.00" },
  UNSUPPORTED_FORMAT: { retriable: false, http: 400, kafka: 43, mqtt: 0x84, coap: "4.15" },
  UNSUPPORTED_COMPRESSION: { retriable: false, http: 400, kafka: 76, mqtt: 0x80, coap: "4.15" },
  OFFSET_OUT_OF_RANGE: { retriable: false, http: 416, kafka: 1, mqtt: 0x80, coap: "4.02" },
  INVALID_TIMESTAMP: { retriable: false, http: 400, kafka: 32, mqtt: 0x80, coap: "4.00" },
  STORAGE_FULL: { retriable: true, http: 507, kafka: 56, mqtt: 0x97, coap: "5.03" },
  STORAGE_ERROR: { retriable: true, http: 500, kafka: 56, mqtt: 0x80, coap: "5.00" },
  TIMEOUT: { retriable: true, http: 504, kafka: 7, mqtt: 0x80, coap: "5.04" },
  NOT_LEADER: { retriable: true, http: 421, kafka: 6, mqtt: 0x9d, coap: "5.03" },
  FENCED_LEADER_EPOCH: { retriable: true, http: 409, kafka: 74, mqtt: 0x80, coap: "5.03" },
  NOT_ENOUGH_REPLICAS: { retriable: true, http: 503, kafka: 19, mqtt: 0x97, coap: "5.03" },
  GROUP_NOT_FOUND: { retriable: false, http: 404, kafka: 69, mqtt: 0x80, coap: "4.04" },
  GROUP_NOT_EMPTY: { retriable: false, http: 409, kafka: 68, mqtt: 0x80, coap: "4.09" },
  INVALID_GROUP_ID: { retriable: false, http: 400, kafka: 24, mqtt: 0x80, coap: "4.00" },
  DUPLICATE_SEQUENCE: { retriable: false, http: 409, kafka: 46, mqtt: 0x80, coap: "4.09" },
  OUT_OF_ORDER_SEQUENCE: { retriable: false, http: 409, kafka: 45, mqtt: 0x80, coap: "4.09" },
  INVALID_PRODUCER_EPOCH: { retriable: false, http: 409, kafka: 47, mqtt: 0x80, coap: "4.09" },
  UNKNOWN_PRODUCER_ID: { retriable: false, http: 409, kafka: 59, mqtt: 0x80, coap: "4.09" },
  UNAUTHORIZED: { retriable: false, http: 401, kafka: 58, mqtt: 0x86, coap: "4.01" },
  FORBIDDEN: { retriable: false, http: 403, kafka: 29, mqtt: 0x87, coap: "4.03" },
  SHUTTING_DOWN: { retriable: true, http: 503, kafka: 6, mqtt: 0x8b, coap: "5.03" },
  NOT_FOUND: { retriable: false, http: 404, kafka: -1, mqtt: 0x80, coap: "4.04" },
  UNSUPPORTED_VERSION: { retriable: false, http: 400, kafka: 35, mqtt: 0x84, coap: "4.00" },
  ILLEGAL_GENERATION: { retriable: false, http: 409, kafka: 22, mqtt: 0x80, coap: "4.09" },
  UNKNOWN_MEMBER_ID: { retriable: false, http: 404, kafka: 25, mqtt: 0x80, coap: "4.04" },
  REBALANCE_IN_PROGRESS: { retriable: false, http: 409, kafka: 27, mqtt: 0x80, coap: "4.09" },
  MEMBER_ID_REQUIRED: { retriable: false, http: 409, kafka: 79, mqtt: 0x80, coap: "4.09" },
  INCONSISTENT_GROUP_PROTOCOL: { retriable: false, http: 409, kafka: 23, mqtt: 0x80, coap: "4.09" },
  INVALID_SESSION_TIMEOUT: { retriable: false, http: 400, kafka: 26, mqtt: 0x80, coap: "4.00" },
  COORDINATOR_NOT_AVAILABLE: { retriable: true, http: 503, kafka: 15, mqtt: 0x80, coap: "5.03" },
  NOT_COORDINATOR: { retriable: true, http: 421, kafka: 16, mqtt: 0x80, coap: "5.03" },
  COORDINATOR_LOAD_IN_PROGRESS: { retriable: true, http: 503, kafka: 14, mqtt: 0x80, coap: "5.03" },
  FENCED_INSTANCE_ID: { retriable: false, http: 409, kafka: 82, mqtt: 0x80, coap: "4.09" },
  GROUP_MAX_SIZE_REACHED: { retriable: false, http: 409, kafka: 81, mqtt: 0x80, coap: "4.09" },
  OFFSET_METADATA_TOO_LARGE: { retriable: false, http: 400, kafka: 12, mqtt: 0x80, coap: "4.00" },
  INVALID_TXN_STATE: { retriable: false, http: 409, kafka: 48, mqtt: 0x80, coap: "4.09" },
  INVALID_PRODUCER_ID_MAPPING: { retriable: false, http: 409, kafka: 49, mqtt: 0x80, coap: "4.09" },
  INVALID_TRANSACTION_TIMEOUT: { retriable: false, http: 400, kafka: 50, mqtt: 0x80, coap: "4.00" },
  CONCURRENT_TRANSACTIONS: { retriable: true, http: 409, kafka: 51, mqtt: 0x80, coap: "5.03" },
  PRODUCER_FENCED: { retriable: false, http: 409, kafka: 90, mqtt: 0x80, coap: "4.09" },
  TRANSACTION_COORDINATOR_FENCED: { retriable: false, http: 409, kafka: 52, mqtt: 0x80, coap: "4.09" },
  TRANSACTIONAL_ID_NOT_FOUND: { retriable: false, http: 404, kafka: 105, mqtt: 0x80, coap: "4.04" },
  OPERATION_NOT_ATTEMPTED: { retriable: false, http: 409, kafka: 55, mqtt: 0x80, coap: "4.09" },
};

export class EddyError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = "EddyError";
    this.code = code;
    this.details = details;
  }

  get retriable(): boolean {
    return ERROR_TABLE[this.code].retriable;
  }
}

export function isEddyError(err: unknown): err is EddyError {
  return err instanceof EddyError;
}

/** Wrap anything thrown into an EddyError, keeping the original as the cause. */
export function toEddyError(err: unknown): EddyError {
  if (err instanceof EddyError) return err;
  const errno = (err as { code?: unknown } | null)?.code;
  if (errno === "ENOSPC" || errno === "EDQUOT") {
    return new EddyError(
      ErrorCode.STORAGE_FULL,
      "the disk is full: free space or lower retention, then retry",
      undefined,
      { cause: err },
    );
  }
  if (typeof errno === "string" && (errno === "EIO" || errno === "EROFS" || errno === "EACCES")) {
    return new EddyError(ErrorCode.STORAGE_ERROR, `storage error (${errno})`, undefined, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new EddyError(ErrorCode.UNKNOWN, message, undefined, { cause: err });
}
