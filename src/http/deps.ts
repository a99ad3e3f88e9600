/** What every route module gets from createHttpApp. */
import type { BrokerApi } from "../broker/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";

export interface HttpDeps {
  broker: BrokerApi;
  logger: Logger;
  clock: Clock;
  /** Aborted when the server shuts down: live streams end. */
  shutdownSignal: AbortSignal;
  /** SSE heartbeat comment interval (ms). */
  sseHeartbeatMs: number;
  /** Upper bound for maxWaitMs on long-polling reads (ms). */
  maxWaitMsLimit: number;
}
