/**
 * Fetch (key 1), versions 4-12.
 *
 * One broker.fetch per request (long-poll up to max_wait_ms until min_bytes,
 * response-wide max_bytes, per-partition partition_max_bytes, isolation level
 * 1 = read_committed), aborted when the connection closes. Records are passed
 * through as the stored RecordBatch bytes (never re-encoded; the first batch
 * may start before the fetch offset, as in Kafka). Per partition: error code
 * (OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH...),
 * high watermark, last stable offset, log start offset, and for
 * read_committed the aborted transactions the broker reports.
 *
 * Fetch sessions (KIP-227, v7+): Eddy creates none. A full fetch (session id
 * 0) is answered with session id 0, which tells the client that no session
 * exists, so it keeps sending full fetches; a request naming a session id
 * gets FETCH_SESSION_ID_NOT_FOUND (70), after which clients start over with
 * a full fetch. Forgotten topics only matter inside sessions and are ignored.
 * Deviations: no preferred read replica, no diverging epoch (single node).
 * Spec: Kafka protocol guide "Fetch API", KIP-227, KIP-392.
 */
import { ERROR_TABLE, type FetchPartitionRequest } from "../../broker/index.ts";
import type { FetchRequest } from "../generated/fetch-request.ts";
import {
  defaultEpochEndOffset,
  defaultLeaderIdAndEpoch,
  defaultSnapshotId,
  type FetchableTopicResponse,
  type FetchResponse,
  type PartitionData,
} from "../generated/fetch-response.ts";
import { Fetch } from "../generated/index.ts";
import { EMPTY_BYTES } from "../protocol/values.ts";
import { type Handler, KafkaError } from "./context.ts";

function partitionData(partitionIndex: number, errorCode: number): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    divergingEpoch: defaultEpochEndOffset(),
    currentLeader: defaultLeaderIdAndEpoch(),
    snapshotId: defaultSnapshotId(),
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: EMPTY_BYTES,
  };
}

function fetchError(body: FetchRequest, errorCode: number, topLevel: boolean): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: topLevel ? errorCode : KafkaError.NONE,
    sessionId: 0,
    responses: topLevel
      ? []
      : body.topics.map((t) => ({
          topic: t.topic,
          topicId: t.topicId,
          partitions: t.partitions.map((p) => partitionData(p.partition, errorCode)),
        })),
    nodeEndpoints: [],
  };
}

export const handler: Handler<FetchRequest, FetchResponse> = {
  api: Fetch,
  minVersion: 4,
  maxVersion: 12,
  pipelined: true,
  async handle(ctx, header, body) {
    if (header.apiVersion >= 7 && body.sessionId !== 0) {
      return fetchError(body, KafkaError.FETCH_SESSION_ID_NOT_FOUND, true);
    }
    const readCommitted = body.isolationLevel === 1;
    const partitions: FetchPartitionRequest[] = [];
    for (const t of body.topics) {
      for (const p of t.partitions) {
        partitions.push({
          topic: t.topic,
          partition: p.partition,
          offset: p.fetchOffset,
          maxBytes: Math.max(0, p.partitionMaxBytes),
          ...(p.currentLeaderEpoch >= 0 ? { currentLeaderEpoch: p.currentLeaderEpoch } : {}),
        });
      }
    }
    const result = await ctx.broker.fetch({
      partitions,
      maxWaitMs: Math.max(0, body.maxWaitMs),
      minBytes: Math.max(0, body.minBytes),
      maxBytes: body.maxBytes > 0 ? body.maxBytes : undefined,
      isolation: readCommitted ? "read_committed" : "read_uncommitted",
      signal: ctx.signal,
    });
    const responses: FetchableTopicResponse[] = [];
    let i = 0;
    for (const t of body.topics) {
      const out: FetchableTopicResponse = { topic: t.topic, topicId: t.topicId, partitions: [] };
      for (const p of t.partitions) {
        const r = result.partitions[i++];
        const d = partitionData(p.partition, KafkaError.NONE);
        if (r === undefined) {
          d.errorCode = KafkaError.UNKNOWN_SERVER_ERROR;
        } else {
          d.errorCode = r.error === null ? KafkaError.NONE : ERROR_TABLE[r.error].kafka;
          d.highWatermark = r.highWatermark;
          d.lastStableOffset = r.lastStableOffset;
          d.logStartOffset = r.logStartOffset;
          d.records = r.records;
          d.abortedTransactions = readCommitted
            ? r.abortedTransactions.map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }))
            : null;
        }
        out.partitions.push(d);
      }
      responses.push(out);
    }
    return { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses, nodeEndpoints: [] };
  },
  errorResponse: (body, errorCode) => fetchError(body, errorCode, false),
};
