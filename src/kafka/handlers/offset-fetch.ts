/**
 * OffsetFetch (key 9), versions 1-9.
 *
 * Returns committed offsets: for the listed partitions (offset -1 and empty
 * metadata where nothing is committed), or for every committed partition when
 * the topic list is null (v2+). v8+ batches several groups, each with its own
 * error. An unknown group has no offsets and no error. v5+ returns the
 * committed leader epoch (-1 when unknown).
 * require_stable (v7+, KIP-447): Eddy keeps no pending transactional offset
 * commits in the group coordinator, so every offset is stable and
 * UNSTABLE_OFFSET_COMMIT is never returned.
 * Deviations: v9's member id / epoch (KIP-848 consumer groups) are ignored.
 * v0 (ZooKeeper-stored offsets) is not served.
 * Cluster mode: served by the group's coordinator only (requireCoordinator:
 * NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE as
 * the group error; the client finds the coordinator again).
 * Spec: Kafka protocol guide "OffsetFetch API", KIP-447, KIP-709.
 */
import { ERROR_TABLE, type GroupOffset, toEddyError } from "../../broker/index.ts";
import { OffsetFetch } from "../generated/index.ts";
import type { OffsetFetchRequest } from "../generated/offset-fetch-request.ts";
import type { OffsetFetchResponse, OffsetFetchResponseTopics } from "../generated/offset-fetch-response.ts";
import type { Handler, HandlerContext } from "./context.ts";

interface GroupAnswer {
  errorCode: number;
  topics: OffsetFetchResponseTopics[];
}

type TopicRequest = { name: string; partitionIndexes: number[] };

async function fetchGroup(
  ctx: HandlerContext,
  groupId: string,
  topics: TopicRequest[] | null,
): Promise<GroupAnswer> {
  let committed: GroupOffset[];
  try {
    committed = await ctx.broker.fetchOffsets(groupId, undefined, { requireCoordinator: true });
  } catch (err) {
    const errorCode = ERROR_TABLE[toEddyError(err).code].kafka;
    const failed = (partitionIndex: number) => ({
      partitionIndex,
      committedOffset: -1,
      committedLeaderEpoch: -1,
      metadata: "",
      errorCode,
    });
    return {
      errorCode,
      topics: (topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map(failed) })),
    };
  }
  const byKey = new Map(committed.map((o) => [`${o.partition}:${o.topic}`, o]));
  const answer = (topic: string, partitionIndex: number) => {
    const o = byKey.get(`${partitionIndex}:${topic}`);
    return {
      partitionIndex,
      committedOffset: o?.offset ?? -1,
      committedLeaderEpoch: o?.leaderEpoch ?? -1,
      metadata: o?.metadata ?? "",
      errorCode: 0,
    };
  };
  if (topics !== null) {
    return {
      errorCode: 0,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p) => answer(t.name, p)),
      })),
    };
  }
  const grouped = new Map<string, number[]>();
  for (const o of committed) grouped.set(o.topic, [...(grouped.get(o.topic) ?? []), o.partition]);
  return {
    errorCode: 0,
    topics: [...grouped].map(([name, parts]) => ({ name, partitions: parts.map((p) => answer(name, p)) })),
  };
}

function single(v: number, g: GroupAnswer): OffsetFetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: v >= 2 ? g.errorCode : 0,
    groups: [],
    topics: g.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        ...p,
        committedLeaderEpoch: v >= 5 ? p.committedLeaderEpoch : -1,
      })),
    })),
  };
}

export const handler: Handler<OffsetFetchRequest, OffsetFetchResponse> = {
  api: OffsetFetch,
  minVersion: 1,
  maxVersion: 9,
  async handle(ctx, header, body) {
    const v = header.apiVersion;
    if (v < 8) {
      const g = await fetchGroup(ctx, body.groupId, body.topics);
      return single(v, g);
    }
    const groups = await Promise.all(
      body.groups.map(async (req) => ({
        groupId: req.groupId,
        ...(await fetchGroup(ctx, req.groupId, req.topics)),
      })),
    );
    return { throttleTimeMs: 0, errorCode: 0, topics: [], groups };
  },
  errorResponse(body, errorCode, header) {
    if (header.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        errorCode: 0,
        topics: [],
        groups: body.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })),
      };
    }
    return { throttleTimeMs: 0, errorCode, topics: [], groups: [] };
  },
};
