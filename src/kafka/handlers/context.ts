/**
 * The contract between the Kafka connection loop (src/kafka/connection.ts) and
 * the handlers: one file per API key under src/kafka/handlers/, each exporting
 * a `Handler` (usually as `export const handler`), registered in ./index.ts.
 *
 * The connection decodes the request header and body (at the client's version,
 * after checking it lies in the handler's [minVersion, maxVersion]), calls
 * `handle(ctx, header, body)` and encodes what it returns at the same version.
 * Responses leave in request order whatever order handlers finish in.
 *
 * - Return `null` for "no response" (only Produce with acks=0 does).
 * - Per-item failures go into the response's own error fields: use
 *   `kafkaErrorCode(err)` to map anything thrown to a Kafka error code.
 * - If `handle` throws, the connection answers with `errorResponse(body, code)`
 *   when the handler has one, else it logs the error and closes the connection
 *   (what Kafka does for a request it cannot answer).
 * - `ctx.signal` aborts when the connection closes: pass it to long waits
 *   (Fetch long-poll, JoinGroup/SyncGroup waits).
 */
import type { BrokerApi } from "../../broker/index.ts";
import { ERROR_TABLE, toEddyError } from "../../broker/index.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Clock } from "../../util/clock.ts";
import type { ScramCredentialSource } from "../../util/scram.ts";
import type { ApiCodec } from "../protocol/api.ts";
import type { RequestHeader } from "../protocol/headers.ts";

export type { RequestHeader };

/** SASL settings of the listener (from config `kafka.sasl`). */
export interface SaslSettings {
  /** Mechanisms offered, e.g. ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]. */
  mechanisms: readonly string[];
  /** user name -> password (plain text from config). */
  users: ReadonlyMap<string, string>;
  /**
   * PLAIN only: checks users not in `users` (auth.users with a password_hash;
   * src/util/credentials.ts). A hash cannot answer SCRAM: see `scram`.
   */
  verifyPlain?: (user: string, password: string) => Promise<boolean>;
  /**
   * SCRAM only: credentials of users not in `users` (auth.users with stored
   * scram_sha_256 / scram_sha_512; src/util/scram.ts ScramUsers).
   */
  scram?: ScramCredentialSource;
}

/** Mutable per-connection state shared by the handlers of one connection. */
export interface ConnectionState {
  readonly id: number;
  readonly remoteAddress: string;
  /** client.id of the latest request header (null when the client sends none). */
  clientId: string | null;
  /** From ApiVersions v3+ (KIP-511). */
  clientSoftwareName: string | null;
  clientSoftwareVersion: string | null;
  /** Mechanism chosen by SaslHandshake; null before. */
  saslMechanism: string | null;
  /** In-progress SASL exchange (owned by the SASL handlers). */
  saslExchange: unknown;
  /**
   * Set by SaslHandshake v0: the next frames are bare SASL tokens (no Kafka
   * header), answered with bare tokens, until authentication ends (KIP-43).
   */
  saslRawTokens: boolean;
  /** The authenticated user; null while unauthenticated or when SASL is off. */
  principal: string | null;
  /** Aborted when the connection closes. */
  readonly signal: AbortSignal;
}

export interface HandlerContext {
  readonly broker: BrokerApi;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Host and port clients should connect to (Metadata, FindCoordinator, DescribeCluster). */
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  readonly clock: Clock;
  /** Already a child logger carrying the connection id and remote address. */
  readonly logger: Logger;
  /** SASL settings, or null when the listener needs no authentication. */
  readonly sasl: SaslSettings | null;
  readonly connection: ConnectionState;
  /** Aborted when the connection closes (same as connection.signal). */
  readonly signal: AbortSignal;
  /** Broker-level settings as Kafka-style keys ("num.partitions", "log.retention.ms"...), for DescribeConfigs. */
  readonly brokerConfigs: Readonly<Record<string, string>>;
  /** The advertised ranges of every registered handler, sorted by API key (for ApiVersions). */
  readonly apiVersions: readonly AdvertisedApi[];
}

export interface AdvertisedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface Handler<Req = unknown, Res = unknown> {
  readonly api: ApiCodec<Req, Res>;
  /** Advertised in ApiVersions; versions outside get UNSUPPORTED_VERSION. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /**
   * true: later requests on the connection may start while this one waits
   * (long waits such as Fetch long-polls or JoinGroup); their responses still
   * leave in order. Default false: the next request starts when this one ends.
   */
  readonly pipelined?: boolean;
  /**
   * true: the handler calls `release()` (the 4th argument of handle) once the
   * next request on the connection may start, e.g. Produce once its batches are
   * in the log, before waiting for their acknowledgement. The connection also
   * releases when handle settles. Ignored when `pipelined` is set.
   */
  readonly releasesEarly?: boolean;
  /**
   * true: nothing keeps a view into the request frame once handle has settled
   * and the response is encoded, so the connection may reuse the frame's memory
   * for a later request (Produce: the log copies each batch when appending).
   */
  readonly reusableFrame?: boolean;
  /** The response body, or null when the request gets no response (Produce acks=0). */
  handle(ctx: HandlerContext, header: RequestHeader, body: Req, release?: () => void): Promise<Res | null>;
  /**
   * A response carrying `errorCode` for every item of `body` (used when a
   * version is outside the advertised range but the codec can decode it, and
   * when `handle` throws). Without it such requests close the connection.
   */
  errorResponse?(body: Req, errorCode: number, header: RequestHeader): Res;
}

/** Erase a handler's types for the registry. */
// biome-ignore lint/suspicious/noExplicitAny: registry of heterogeneous handlers
export type AnyHandler = Handler<any, any>;

/** Kafka error codes used by the frontend that have no EddyError code. */
export const KafkaError = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  INVALID_REQUIRED_ACKS: 21,
  TOPIC_AUTHORIZATION_FAILED: 29,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REQUEST: 42,
  INVALID_REPLICA_ASSIGNMENT: 39,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  POLICY_VIOLATION: 44,
  INVALID_CONFIG: 40,
  SASL_AUTHENTICATION_FAILED: 58,
  FETCH_SESSION_ID_NOT_FOUND: 70,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  INVALID_FETCH_SESSION_EPOCH: 71,
  UNKNOWN_TOPIC_ID: 100,
  INCONSISTENT_TOPIC_ID: 103,
  UNSUPPORTED_ENDPOINT_TYPE: 119,
  NOT_CONTROLLER: 41,
  NO_REASSIGNMENT_IN_PROGRESS: 85,
} as const;

/** Map anything thrown to a Kafka error code (ERROR_TABLE[code].kafka). */
export function kafkaErrorCode(err: unknown): number {
  return ERROR_TABLE[toEddyError(err).code].kafka;
}

/** The user-facing message of anything thrown. */
export function errorMessage(err: unknown): string {
  return toEddyError(err).message;
}
