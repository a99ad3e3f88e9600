/** Request bodies for the Kafka server tests, valid at every version they are sent at. */
import { encodeBatch } from "../../src/broker/index.ts";
import type { FetchRequest } from "../../src/kafka/generated/fetch-request.ts";
import type { MetadataRequest } from "../../src/kafka/generated/metadata-request.ts";
import type { ProduceRequest } from "../../src/kafka/generated/produce-request.ts";
import { ZERO_UUID } from "../../src/kafka/protocol/values.ts";

const te = new TextEncoder();

export function batchOf(values: string[], opts: { key?: string } = {}): Uint8Array {
  return encodeBatch(
    values.map((v) => ({ key: opts.key === undefined ? null : te.encode(opts.key), value: te.encode(v) })),
    { now: Date.now() },
  );
}

export function produceBody(
  topic: string,
  records: Uint8Array,
  opts: { acks?: number; partition?: number } = {},
): ProduceRequest {
  return {
    transactionalId: null,
    acks: opts.acks ?? -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: opts.partition ?? 0, records }] }],
  };
}

export function metadataBody(topics: string[] | null, allowAutoTopicCreation = true): MetadataRequest {
  return {
    topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
    allowAutoTopicCreation,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

export function fetchBody(
  topic: string,
  offset: number,
  opts: { maxWaitMs?: number; minBytes?: number; sessionId?: number; sessionEpoch?: number } = {},
): FetchRequest {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: opts.maxWaitMs ?? 0,
    minBytes: opts.minBytes ?? 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: opts.sessionId ?? 0,
    sessionEpoch: opts.sessionEpoch ?? -1,
    topics: [
      {
        topic,
        topicId: ZERO_UUID,
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: ZERO_UUID,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}
