/** The group coordinator (classic consumer groups), used by src/broker. */
export {
  DEFAULT_INITIAL_REBALANCE_DELAY_MS,
  DEFAULT_MAX_SESSION_TIMEOUT_MS,
  DEFAULT_MIN_SESSION_TIMEOUT_MS,
  GroupCoordinator,
  type GroupCoordinatorDeps,
  type GroupOffsetStore,
} from "./coordinator.ts";
export { type CancelTimer, ManualTimers, systemTimers, type Timers } from "../util/timers.ts";
export * from "./types.ts";
