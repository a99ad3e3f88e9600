/**
 * The serving side of remote-partition watches (POST /broker/v1/watch, see
 * remote-watch.ts): a node without a replica of some partitions asks a node
 * holding one for their offsets (high watermark, last stable offset, log
 * start and end, leader epoch). The caller sends what it knows; the answer
 * lists only the partitions whose state differs from that (or an error
 * code for a partition this node cannot serve), at once when there is any,
 * otherwise after the first high-watermark advance of one of them or when
 * `maxWaitMs` is up (then possibly empty): a long-poll covering many
 * partitions in one stream.
 *
 * Served from the local replica as it is (leader or follower: a follower's
 * high watermark trails the leader's by at most one fetch), never forwarded.
 */
import type { BrokerContext } from "../broker/context.ts";
import { isAbsentLog } from "../broker/absent-log.ts";
import { partitionKey } from "../broker/waiters.ts";
import { ErrorCode } from "../errors.ts";
import { decodeJson, encodeJson, type PeerCall } from "./peer-protocol.ts";

/** A partition's offsets as its replica knows them. */
export interface WatchState {
  epoch: number;
  logStart: number;
  logEnd: number;
  hw: number;
  lso: number;
  /** The serving node leads the partition. */
  leads: boolean;
}

export interface WatchRequest {
  maxWaitMs: number;
  partitions: Array<{ topic: string; partition: number; known: WatchState | null }>;
}

export interface WatchAnswer {
  topic: string;
  partition: number;
  state?: WatchState;
  /** An ErrorCode: NOT_LEADER (no replica here), TOPIC_NOT_FOUND, PARTITION_NOT_FOUND. */
  error?: string;
}

export interface WatchResponse {
  partitions: WatchAnswer[];
}

/** Longest a watch request may wait on the serving side, whatever it asks. */
export const WATCH_MAX_WAIT_MS = 30_000;

/** Same offsets and epoch (what a watcher acts on; the log end alone does not wake it). */
export function sameState(a: WatchState | null, b: WatchState | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.epoch === b.epoch &&
    a.hw === b.hw &&
    a.lso === b.lso &&
    a.logStart === b.logStart &&
    a.leads === b.leads
  );
}

export function watchRoute(ctx: () => BrokerContext): (call: PeerCall) => Promise<Uint8Array | null> {
  return async (call) => {
    const c = ctx();
    const req = decodeJson<WatchRequest>(call.body, "watch request");
    const list = Array.isArray(req.partitions) ? req.partitions : [];
    const waitMs = Math.min(Math.max(0, Number(req.maxWaitMs) || 0), WATCH_MAX_WAIT_MS);
    const deadline = c.clock.monotonic() + waitMs;
    const keys = list.map((w) => partitionKey(w.topic, w.partition));
    for (;;) {
      const out = answers(c, list);
      const left = deadline - c.clock.monotonic();
      if (out.length > 0 || left <= 0 || call.signal.aborted || c.closing()) {
        return encodeJson({ partitions: out } satisfies WatchResponse);
      }
      await c.waiters.wait(keys, left, call.signal);
    }
  };
}

function answers(ctx: BrokerContext, list: WatchRequest["partitions"]): WatchAnswer[] {
  const out: WatchAnswer[] = [];
  for (const w of list) {
    const topic = ctx.topics.get(w.topic);
    const p = topic?.partitions[w.partition];
    if (!topic || !p) {
      const error = topic ? ErrorCode.PARTITION_NOT_FOUND : ErrorCode.TOPIC_NOT_FOUND;
      out.push({ topic: w.topic, partition: w.partition, error });
      continue;
    }
    if (isAbsentLog(p.log)) {
      out.push({ topic: w.topic, partition: w.partition, error: ErrorCode.NOT_LEADER });
      continue;
    }
    const t = p.tracker;
    const state: WatchState = {
      epoch: p.leaderEpoch,
      logStart: t.logStartOffset,
      logEnd: t.logEndOffset,
      hw: t.highWatermark,
      lso: t.lastStableOffset,
      leads: p.leads,
    };
    if (!sameState(state, w.known ?? null)) out.push({ topic: w.topic, partition: w.partition, state });
  }
  return out;
}
