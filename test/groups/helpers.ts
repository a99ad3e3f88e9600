/** Fixtures for the group coordinator tests: a manual clock and timers, an in-memory offset store. */
import { ErrorCode } from "../../src/errors.ts";
import { GroupCoordinator, type GroupOffsetStore } from "../../src/groups/coordinator.ts";
import { ManualTimers } from "../../src/util/timers.ts";
import type {
  GroupCommitRequest,
  GroupCoordinatorOptions,
  GroupJoinRequest,
  GroupJoinResult,
} from "../../src/groups/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { ManualClock } from "../../src/util/clock.ts";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export class MemoryOffsetStore implements GroupOffsetStore {
  readonly offsets = new Map<string, Map<string, number>>();
  groups(): string[] {
    return [...this.offsets.keys()];
  }
  commit(groupId: string, offsets: GroupCommitRequest["offsets"]): Array<ErrorCode | null> {
    const g = this.offsets.get(groupId) ?? new Map<string, number>();
    this.offsets.set(groupId, g);
    return offsets.map((o) => {
      if (o.topic === "missing") return ErrorCode.TOPIC_NOT_FOUND;
      g.set(`${o.topic}-${o.partition}`, o.offset);
      return null;
    });
  }
  delete(groupId: string): void {
    this.offsets.delete(groupId);
  }
}

export interface Fixture {
  clock: ManualClock;
  timers: ManualTimers;
  store: MemoryOffsetStore;
  coordinator: GroupCoordinator;
  /** Start a JoinGroup (defaults: group "g", consumer/range, session 1 s, rebalance 5 s). */
  join(memberId: string, extra?: Partial<GroupJoinRequest>): Tracked<GroupJoinResult>;
}

export const INITIAL_DELAY_MS = 100;

export function fixture(options: GroupCoordinatorOptions = {}): Fixture {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const store = new MemoryOffsetStore();
  let n = 0;
  const coordinator = new GroupCoordinator({
    timers,
    logger: silentLogger,
    store,
    options: { initialRebalanceDelayMs: INITIAL_DELAY_MS, minSessionTimeoutMs: 10, ...options },
    newId: () => `id${++n}`,
  });
  const join = (memberId: string, extra: Partial<GroupJoinRequest> = {}) =>
    track(
      coordinator.joinGroup({
        groupId: "g",
        memberId,
        clientId: "client",
        clientHost: "/127.0.0.1",
        sessionTimeoutMs: 1000,
        rebalanceTimeoutMs: 5000,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: enc(`meta-${memberId || "new"}`) }],
        requireKnownMemberId: false,
        ...extra,
      }),
    );
  return { clock, timers, store, coordinator, join };
}

/** A promise whose settlement can be checked synchronously after `settle()`. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  done(): boolean;
  /** The value; throws if not settled yet. */
  value(): T;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  let settled = false;
  let result: T | undefined;
  promise.then((v) => {
    settled = true;
    result = v;
  });
  return {
    promise,
    done: () => settled,
    value: () => {
      if (!settled) throw new Error("the promise has not settled yet");
      return result as T;
    },
  };
}

/** Let pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
