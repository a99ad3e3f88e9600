/**
 * ListPartitionReassignments (key 46), version 0 (KIP-455): what
 * kafka-reassign-partitions.sh --verify / --list and
 * AdminClient.listPartitionReassignments send.
 *
 * Cluster mode: the reassignments in progress (BrokerApi
 * listPartitionReassignments), all of them when `topics` is null, else those
 * of the listed partitions; per partition the current replicas (the target,
 * then those still being removed), the replicas being added and those being
 * removed. Partitions not being reassigned and unknown topics are left out,
 * as Kafka does. Single node: always none.
 * Deviation: Kafka answers from the controller; any Eddy node answers from
 * its own copy of the metadata log, which may trail the controller's by a
 * moment.
 * Spec: KIP-455; Kafka protocol guide "ListPartitionReassignments API".
 */
import type { PartitionReassignment } from "../../broker/index.ts";
import { ListPartitionReassignments } from "../generated/index.ts";
import type { ListPartitionReassignmentsRequest } from "../generated/list-partition-reassignments-request.ts";
import type {
  ListPartitionReassignmentsResponse,
  OngoingTopicReassignment,
} from "../generated/list-partition-reassignments-response.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

function inProgress(ctx: HandlerContext): PartitionReassignment[] {
  if ((ctx.broker.clusterView?.() ?? null) === null) return [];
  return ctx.broker.listPartitionReassignments?.() ?? [];
}

export const handler: Handler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse> = {
  api: ListPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, _header, body) {
    let list: PartitionReassignment[];
    try {
      list = inProgress(ctx);
    } catch (err) {
      return {
        throttleTimeMs: 0,
        errorCode: kafkaErrorCode(err),
        errorMessage: errorMessage(err),
        topics: [],
      };
    }
    const wanted =
      body.topics === null
        ? null
        : new Set(body.topics.flatMap((t) => t.partitionIndexes.map((p) => `${t.name}\u0000${p}`)));
    const byTopic = new Map<string, OngoingTopicReassignment>();
    const sorted = [...list].sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
    );
    for (const r of sorted) {
      if (wanted !== null && !wanted.has(`${r.topic}\u0000${r.partition}`)) continue;
      let topic = byTopic.get(r.topic);
      if (!topic) {
        topic = { name: r.topic, partitions: [] };
        byTopic.set(r.topic, topic);
      }
      topic.partitions.push({
        partitionIndex: r.partition,
        replicas: r.replicas,
        addingReplicas: r.addingReplicas,
        removingReplicas: r.removingReplicas,
      });
    }
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      errorMessage: null,
      topics: [...byTopic.values()],
    };
  },
  errorResponse: (_body, errorCode) => ({ throttleTimeMs: 0, errorCode, errorMessage: null, topics: [] }),
};
