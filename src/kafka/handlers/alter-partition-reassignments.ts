/**
 * AlterPartitionReassignments (key 45), version 0 (KIP-455): what
 * kafka-reassign-partitions.sh --execute / --cancel and
 * AdminClient.alterPartitionReassignments send.
 *
 * Cluster mode: per partition, start or replace a reassignment to
 * `replicas` (preferred leader first), or cancel the one in progress
 * (`replicas` null), through BrokerApi.alterPartitionReassignments
 * (src/cluster/reassign.ts). The answer comes once the controller has put
 * the change in the metadata log; the data moves in the background (watch it
 * with ListPartitionReassignments or `eddy cluster`). Kafka routes this API
 * to the controller; any Eddy node answers, because the broker carries the
 * request to the controller itself. Partitions are carried out one by one
 * (in parallel), so each gets its own error:
 * - UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition;
 * - INVALID_REPLICA_ASSIGNMENT: empty target, a node twice, a node that is
 *   not a data node, or no replica of the new set is in sync;
 * - NO_REASSIGNMENT_IN_PROGRESS: a cancel with none to cancel;
 * - INVALID_REQUEST: the same partition twice in one request;
 * - REQUEST_TIMED_OUT: the controller has not accepted it within
 *   `timeoutMs` (it may still take effect) or is unreachable;
 * - NOT_CONTROLLER: the controller changed under the request or this node
 *   is stopping (retriable). When every partition fails so, the top-level
 *   error is NOT_CONTROLLER too, so that clients retry the whole request.
 * Single node: a partition can only live on this node, so a target of
 * exactly [this node] succeeds (nothing to do), any other target is
 * INVALID_REPLICA_ASSIGNMENT and a cancel NO_REASSIGNMENT_IN_PROGRESS.
 * Deviations: none known (v1's AllowReplicationFactorChange is not in the
 * message definitions Eddy generates from).
 * Spec: KIP-455; Kafka protocol guide "AlterPartitionReassignments API".
 */
import {
  ErrorCode,
  isEddyError,
  type PartitionReassignmentRequest,
  type TopicSummary,
} from "../../broker/index.ts";
import { systemTimers } from "../../util/timers.ts";
import type { AlterPartitionReassignmentsRequest } from "../generated/alter-partition-reassignments-request.ts";
import type {
  AlterPartitionReassignmentsResponse,
  ReassignablePartitionResponse,
} from "../generated/alter-partition-reassignments-response.ts";
import { AlterPartitionReassignments } from "../generated/index.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

interface Outcome {
  errorCode: number;
  errorMessage: string | null;
}

const OK: Outcome = { errorCode: KafkaError.NONE, errorMessage: null };
const TIMED_OUT = Symbol("timed out");

function fail(errorCode: number, message: string): Outcome {
  return { errorCode, errorMessage: message };
}

/** The checks this node can make from its own metadata; null when the controller must decide. */
function precheck(
  ctx: HandlerContext,
  req: PartitionReassignmentRequest,
  topics: ReadonlyMap<string, TopicSummary>,
  dataNodes: readonly number[] | null,
): Outcome | null {
  const where = `${req.topic}-${req.partition}`;
  const t = topics.get(req.topic);
  if (!t) return fail(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `topic '${req.topic}' does not exist`);
  if (req.partition < 0 || req.partition >= t.partitions) {
    return fail(
      KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      `topic '${req.topic}' has no partition ${req.partition} (it has ${t.partitions})`,
    );
  }
  if (dataNodes === null) {
    if (req.replicas === null) {
      return fail(
        KafkaError.NO_REASSIGNMENT_IN_PROGRESS,
        `no reassignment of ${where} is in progress: a single node never reassigns partitions`,
      );
    }
    if (req.replicas.length === 1 && req.replicas[0] === ctx.broker.nodeId) return OK;
    return fail(
      KafkaError.INVALID_REPLICA_ASSIGNMENT,
      `cannot place ${where} on ${req.replicas.join(",") || "no nodes"}: node ${ctx.broker.nodeId} runs alone and keeps every partition itself; run Eddy as a cluster ([cluster] config) to spread partitions over nodes`,
    );
  }
  if (req.replicas === null) return null;
  if (req.replicas.length === 0) {
    return fail(
      KafkaError.INVALID_REPLICA_ASSIGNMENT,
      `reassignment of ${where}: give at least one target replica`,
    );
  }
  if (new Set(req.replicas).size !== req.replicas.length) {
    return fail(
      KafkaError.INVALID_REPLICA_ASSIGNMENT,
      `reassignment of ${where}: a node appears twice in ${req.replicas.join(",")}`,
    );
  }
  const unknown = req.replicas.find((r) => !dataNodes.includes(r));
  if (unknown !== undefined) {
    return fail(
      KafkaError.INVALID_REPLICA_ASSIGNMENT,
      `reassignment of ${where}: node ${unknown} is not a data node of this cluster (data nodes: ${dataNodes.join(", ")})`,
    );
  }
  return null;
}

function inProgress(ctx: HandlerContext, req: PartitionReassignmentRequest): boolean {
  const list = ctx.broker.listPartitionReassignments?.() ?? [];
  return list.some((r) => r.topic === req.topic && r.partition === req.partition);
}

/** Resolves to TIMED_OUT when `p` takes longer than `ms` (ms <= 0: no limit but the broker's own). */
function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  if (ms <= 0) return p;
  return new Promise((resolve, reject) => {
    const cancel = systemTimers.schedule(ms, () => resolve(TIMED_OUT));
    p.then(
      (v) => {
        cancel();
        resolve(v);
      },
      (err) => {
        cancel();
        reject(err);
      },
    );
  });
}

/** Map what the controller refused with to this API's error codes. */
function refusal(ctx: HandlerContext, req: PartitionReassignmentRequest, err: unknown): Outcome {
  const message = errorMessage(err);
  if (isEddyError(err)) {
    switch (err.code) {
      case ErrorCode.INVALID_REQUEST:
        // A cancel is refused when none is in progress (by the controller's
        // metadata, which may be ahead of ours) or none of the original replicas is in sync.
        if (req.replicas === null && !inProgress(ctx, req)) {
          return fail(KafkaError.NO_REASSIGNMENT_IN_PROGRESS, message);
        }
        return fail(KafkaError.INVALID_REPLICA_ASSIGNMENT, message);
      case ErrorCode.NOT_LEADER:
      case ErrorCode.SHUTTING_DOWN:
        return fail(KafkaError.NOT_CONTROLLER, message);
    }
  }
  return fail(kafkaErrorCode(err), message);
}

async function alterOne(
  ctx: HandlerContext,
  req: PartitionReassignmentRequest,
  timeoutMs: number,
): Promise<Outcome> {
  if (req.replicas === null && !inProgress(ctx, req)) {
    return fail(
      KafkaError.NO_REASSIGNMENT_IN_PROGRESS,
      `no reassignment of ${req.topic}-${req.partition} is in progress: nothing to cancel`,
    );
  }
  try {
    const done = await within(ctx.broker.alterPartitionReassignments!([req]), timeoutMs);
    if (done !== TIMED_OUT) return OK;
    return fail(
      KafkaError.REQUEST_TIMED_OUT,
      `the controller has not accepted the reassignment of ${req.topic}-${req.partition} within ${timeoutMs} ms; it may still take effect: check with ListPartitionReassignments or \`eddy cluster\``,
    );
  } catch (err) {
    return refusal(ctx, req, err);
  }
}

export const handler: Handler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse> = {
  api: AlterPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx, _header, body) {
    const view = ctx.broker.clusterView?.() ?? null;
    const dataNodes = view === null ? null : view.nodes.map((n) => n.id);
    const topics = new Map((await ctx.broker.listTopics()).map((t) => [t.name, t]));
    const counts = new Map<string, number>();
    const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
    for (const t of body.topics) {
      for (const p of t.partitions) {
        const k = key(t.name, p.partitionIndex);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
    const outcome = (topic: string, partition: number, replicas: number[] | null): Promise<Outcome> => {
      if ((counts.get(key(topic, partition)) ?? 0) > 1) {
        return Promise.resolve(
          fail(KafkaError.INVALID_REQUEST, `${topic}-${partition} appears more than once in the request`),
        );
      }
      const req = { topic, partition, replicas };
      const known = precheck(ctx, req, topics, dataNodes);
      return known ? Promise.resolve(known) : alterOne(ctx, req, body.timeoutMs);
    };
    const responses = await Promise.all(
      body.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(
            async (p): Promise<ReassignablePartitionResponse> => ({
              partitionIndex: p.partitionIndex,
              ...(await outcome(t.name, p.partitionIndex, p.replicas)),
            }),
          ),
        ),
      })),
    );
    const all = responses.flatMap((t) => t.partitions);
    const notController = all.length > 0 && all.every((p) => p.errorCode === KafkaError.NOT_CONTROLLER);
    return {
      throttleTimeMs: 0,
      errorCode: notController ? KafkaError.NOT_CONTROLLER : KafkaError.NONE,
      errorMessage: notController ? all[0]!.errorMessage : null,
      responses,
    };
  },
  errorResponse: (body, errorCode) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage: null,
    responses: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode,
        errorMessage: null,
      })),
    })),
  }),
};
