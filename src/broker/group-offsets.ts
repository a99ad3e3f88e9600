/**
 * Consumer-group committed offsets, stored in the MetadataStore: commit
 * (topic and partition must exist), fetch, list groups, lag (committed
 * offset versus high watermark) and delete. Member checks (generation,
 * member id, GROUP_NOT_EMPTY) are the group coordinator's (src/groups).
 *
 * Cluster mode (ctx.coordinators): only the group's coordinator serves it;
 * commits and deletes are replicated through __consumer_offsets first
 * (src/cluster/coordinator-offsets.ts), and the store is the materialized
 * view. The module functions run here and refuse with NOT_COORDINATOR /
 * COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE elsewhere.
 * `GroupAdmin` is what BrokerApi calls: it runs a call here when this node
 * coordinates the group (or with `requireCoordinator`, the Kafka frontend's
 * flag), else carries it to the coordinator over the peer transport
 * (coordinator-rpc.ts, op "group"), retrying while the coordinator moves;
 * listGroups asks the coordinator of every __consumer_offsets partition.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { GroupCoordinator } from "../groups/index.ts";
import type { CommittedOffset } from "../metadata/types.ts";
import { CONSUMER_OFFSETS_TOPIC } from "../cluster/coordinator-placement.ts";
import {
  COORDINATOR_PEER_PATH,
  type CoordinatorPeerRequest,
  type GroupCall,
  type GroupListAnswer,
  onLeader,
} from "../cluster/coordinator-rpc.ts";
import { decodeJson, encodeJson, type PeerRpc } from "../cluster/peer-protocol.ts";
import { sleep } from "../util/sleep.ts";
import { isAbsentLog } from "./absent-log.ts";
import type { BrokerContext } from "./context.ts";
import type { GroupCallOptions, GroupLag, GroupOffset, OffsetCommit } from "./types.ts";

/** Kafka's offset.metadata.max.bytes default. */
export const MAX_COMMIT_METADATA_BYTES = 4096;
const MAX_GROUP_ID_LENGTH = 255;
/** Cluster mode: how long a group call looks for its coordinator. */
export const GROUP_CALL_DEADLINE_MS = 10_000;
const LIST_RETRY_MS = 50;

function validateGroupId(group: unknown): asserts group is string {
  if (typeof group !== "string" || group.length === 0 || group.length > MAX_GROUP_ID_LENGTH) {
    throw new EddyError(
      ErrorCode.INVALID_GROUP_ID,
      `group id must be a non-empty string of at most ${MAX_GROUP_ID_LENGTH} characters`,
    );
  }
}

export async function commitOffsets(
  ctx: BrokerContext,
  group: string,
  offsets: OffsetCommit[],
): Promise<void> {
  validateGroupId(group);
  ctx.coordinators?.offsets.partitions.require(group);
  if (!Array.isArray(offsets)) throw new EddyError(ErrorCode.INVALID_REQUEST, "offsets must be an array");
  const now = ctx.clock.now();
  const rows: CommittedOffset[] = offsets.map((o) => {
    ctx.topics.partition(o.topic, o.partition);
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `committed offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${o.offset}`,
      );
    }
    const metadata = o.metadata ?? "";
    if (new TextEncoder().encode(metadata).length > MAX_COMMIT_METADATA_BYTES) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `commit metadata for ${o.topic}-${o.partition} is over ${MAX_COMMIT_METADATA_BYTES} bytes: shorten it`,
      );
    }
    return {
      group,
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch ?? -1,
      metadata,
      commitTimestamp: now,
    };
  });
  if (ctx.coordinators) await ctx.coordinators.offsets.commit(group, rows);
  else if (rows.length > 0) ctx.metadata.commitOffsets(rows);
}

export function fetchOffsets(ctx: BrokerContext, group: string, topic?: string): GroupOffset[] {
  validateGroupId(group);
  ctx.coordinators?.offsets.partitions.require(group);
  return ctx.metadata.fetchOffsets(group, topic).map((c) => ({
    topic: c.topic,
    partition: c.partition,
    offset: c.offset,
    leaderEpoch: c.leaderEpoch,
    metadata: c.metadata,
    commitTimestamp: c.commitTimestamp,
  }));
}

/** The groups this node serves (cluster mode: those it coordinates now). */
export function listGroups(ctx: BrokerContext): string[] {
  return ctx.coordinators ? ctx.coordinators.offsets.groups() : ctx.metadata.listGroups();
}

/**
 * Lag per committed partition that still exists: high watermark minus
 * committed offset, as kafka-consumer-groups shows it (never negative).
 * Cluster mode: partitions this node holds no replica of are left out (their
 * high watermark is not known here).
 */
export function groupLag(ctx: BrokerContext, group: string): GroupLag[] {
  validateGroupId(group);
  ctx.coordinators?.offsets.partitions.require(group);
  const lags: GroupLag[] = [];
  for (const c of ctx.metadata.fetchOffsets(group)) {
    const p = ctx.topics.get(c.topic)?.partitions[c.partition];
    if (!p || isAbsentLog(p.log)) continue;
    const t = p.tracker;
    lags.push({
      topic: c.topic,
      partition: c.partition,
      committedOffset: c.offset,
      logEndOffset: t.logEndOffset,
      highWatermark: t.highWatermark,
      lag: Math.max(0, t.highWatermark - c.offset),
    });
  }
  return lags.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

export async function deleteGroup(ctx: BrokerContext, group: string): Promise<void> {
  validateGroupId(group);
  ctx.coordinators?.offsets.partitions.require(group);
  if (!ctx.metadata.listGroups().includes(group)) {
    throw new EddyError(ErrorCode.GROUP_NOT_FOUND, `group '${group}' has no committed offsets`, { group });
  }
  if (ctx.coordinators) await ctx.coordinators.offsets.deleteGroup(group);
  else ctx.metadata.deleteGroup(group);
}

/** Delete a group that has no members (the coordinator's live state first, then its offsets). */
async function deleteIdleGroup(ctx: BrokerContext, groups: GroupCoordinator, group: string): Promise<void> {
  const [result] = await groups.deleteGroups([group]);
  if (result?.error === null) return;
  if (result?.error === ErrorCode.GROUP_NOT_EMPTY) {
    throw new EddyError(
      ErrorCode.GROUP_NOT_EMPTY,
      `group '${group}' still has members: stop its consumers, then delete it`,
      { group },
    );
  }
  await deleteGroup(ctx, group); // throws INVALID_GROUP_ID / GROUP_NOT_FOUND / NOT_COORDINATOR with their messages
}

export interface GroupAdminOptions {
  ctx: BrokerContext;
  groups: GroupCoordinator;
  nodeId: number;
  /** Cluster mode: the peer RPC (null on a single node). */
  rpc: PeerRpc | null;
  deadlineMs?: number;
}

/** BrokerApi's group calls: here, or on the group's coordinator (see the module header). */
export class GroupAdmin {
  constructor(private readonly o: GroupAdminOptions) {}

  async commit(group: string, offsets: OffsetCommit[], opts?: GroupCallOptions): Promise<void> {
    await this.call({ fn: "commit", group, offsets }, opts);
  }

  async fetch(group: string, topic?: string, opts?: GroupCallOptions): Promise<GroupOffset[]> {
    return (await this.call({ fn: "fetch", group, topic }, opts)) as GroupOffset[];
  }

  async lag(group: string, opts?: GroupCallOptions): Promise<GroupLag[]> {
    return (await this.call({ fn: "lag", group }, opts)) as GroupLag[];
  }

  async delete(group: string, opts?: GroupCallOptions): Promise<void> {
    await this.call({ fn: "delete", group }, opts);
  }

  async list(opts?: GroupCallOptions): Promise<string[]> {
    const { ctx, rpc } = this.o;
    if (!ctx.coordinators || !rpc || opts?.requireCoordinator) return listGroups(ctx).sort();
    return this.listEverywhere(rpc);
  }

  /** Run a call on this node, never forwarded (the peer route "group" and local calls). */
  async serve(call: GroupCall): Promise<unknown> {
    const { ctx } = this.o;
    switch (call.fn) {
      case "commit":
        return commitOffsets(ctx, call.group, call.offsets);
      case "fetch":
        return fetchOffsets(ctx, call.group, call.topic);
      case "lag":
        return groupLag(ctx, call.group);
      case "delete":
        return deleteIdleGroup(ctx, this.o.groups, call.group);
      case "list":
        return this.listHere(call.partitions);
    }
  }

  private async call(call: Exclude<GroupCall, { fn: "list" }>, opts: GroupCallOptions | undefined) {
    const { ctx, rpc } = this.o;
    const co = ctx.coordinators;
    if (!co || !rpc || opts?.requireCoordinator) return this.serve(call);
    validateGroupId(call.group);
    // No __consumer_offsets yet: nothing was ever committed (a commit creates it).
    if (call.fn !== "commit" && !ctx.topics.get(CONSUMER_OFFSETS_TOPIC)) return this.nothingCommitted(call);
    const parts = co.offsets.partitions;
    return onLeader<unknown>({
      what: `the call for group '${call.group}'`,
      clock: ctx.clock,
      rpc,
      deadlineMs: this.o.deadlineMs ?? GROUP_CALL_DEADLINE_MS,
      where: async () => {
        const error = parts.check(call.group);
        if (error === null) return "local";
        if (error !== ErrorCode.NOT_COORDINATOR) return null;
        const { leader } = await parts.locate(call.group);
        return leader >= 0 && leader !== this.o.nodeId ? leader : null;
      },
      local: () => this.serve(call),
      request: { op: "group", call },
      decode: (body) => (body === null ? undefined : decodeJson<unknown>(body, "group call answer")),
    });
  }

  private nothingCommitted(call: Exclude<GroupCall, { fn: "list" | "commit" }>): unknown {
    if (call.fn !== "delete") return [];
    throw new EddyError(ErrorCode.GROUP_NOT_FOUND, `group '${call.group}' has no committed offsets`, {
      group: call.group,
    });
  }

  /** The groups of those of `partitions` this node coordinates (loaded), and which those are. */
  private listHere(partitions: number[]): GroupListAnswer {
    const parts = this.o.ctx.coordinators?.offsets.partitions;
    if (!parts) return { groups: listGroups(this.o.ctx), served: partitions };
    const served = partitions.filter((k) => parts.owns(k));
    const set = new Set(served);
    const groups = this.o.ctx.metadata.listGroups().filter((g) => set.has(parts.partitionFor(g)));
    return { groups, served };
  }

  /** Ask the coordinator of every __consumer_offsets partition (retrying partitions whose coordinator moves). */
  private async listEverywhere(rpc: PeerRpc): Promise<string[]> {
    const { ctx } = this.o;
    const deadlineMs = this.o.deadlineMs ?? GROUP_CALL_DEADLINE_MS;
    const until = ctx.clock.monotonic() + deadlineMs;
    const found = new Set<string>();
    let missing: number[] | null = null;
    for (;;) {
      const state = ctx.topics.get(CONSUMER_OFFSETS_TOPIC);
      if (!state) return [];
      missing ??= state.partitions.map((p) => p.id);
      const byLeader = new Map<number, number[]>();
      for (const k of missing) {
        const leader = state.partitions[k]?.assignment?.leader ?? -1;
        if (leader >= 0) byLeader.set(leader, [...(byLeader.get(leader) ?? []), k]);
      }
      const answers = await Promise.all(
        [...byLeader].map(async ([leader, partitions]): Promise<GroupListAnswer> => {
          if (leader === this.o.nodeId) return this.listHere(partitions);
          const left = Math.max(100, until - ctx.clock.monotonic());
          try {
            const request: CoordinatorPeerRequest = { op: "group", call: { fn: "list", partitions } };
            const body = await rpc(leader, COORDINATOR_PEER_PATH, encodeJson(request), { timeoutMs: left });
            return decodeJson<GroupListAnswer>(body, "group list answer");
          } catch (err) {
            ctx.logger.debug("listing groups: a coordinator did not answer; retried", { leader, err });
            return { groups: [], served: [] };
          }
        }),
      );
      const served = new Set<number>();
      for (const a of answers) {
        for (const g of a.groups) found.add(g);
        for (const k of a.served) served.add(k);
      }
      missing = missing.filter((k) => !served.has(k));
      if (missing.length === 0) return [...found].sort();
      if (ctx.clock.monotonic() >= until) {
        throw new EddyError(
          ErrorCode.COORDINATOR_NOT_AVAILABLE,
          `no coordinator answered for ${CONSUMER_OFFSETS_TOPIC} partitions ${missing.join(", ")} in ${deadlineMs} ms (a failover may be under way): retry`,
        );
      }
      await sleep(LIST_RETRY_MS);
    }
  }
}
