/**
 * Produce (key 0), versions 0-9 (advertised from 0 so that librdkafka keeps
 * compression and idempotence on; see DESIGN "Protocol notes").
 *
 * Each partition's `records` field is split into its RecordBatches, which are
 * checked structurally first (nothing is appended when any is malformed) and
 * then appended in order with broker.appendBatch (acks, timeoutMs). Partitions
 * of one request are appended concurrently. The connection's next request
 * starts once every partition's batches are in the log (`releasesEarly`,
 * connection.ts), not when they are acknowledged: pipelined requests
 * (max.in.flight > 1) share group commits, and a producer's batches keep
 * their order.
 *
 * - Message formats below RecordBatch v2 (magic 0/1, the only formats of
 *   Produce v0-v2 clients such as kafka-python with api_version < 0.11) are
 *   refused with UNSUPPORTED_FOR_MESSAGE_FORMAT (43): upgrade the client.
 * - A truncated or inconsistent batch: CORRUPT_MESSAGE (2); a bad CRC too.
 * - acks=0: no response (the appends still happen before the next request).
 * - Errors are per partition (v8+ with error_message); base offset and log
 *   start offset come from the first batch; log_append_time is -1 unless the
 *   topic uses LogAppendTime.
 * Spec: Kafka protocol guide "Produce API", KIP-467 (record errors).
 */
import type { PartitionProduceData, ProduceRequest } from "../generated/produce-request.ts";
import {
  defaultLeaderIdAndEpoch,
  type PartitionProduceResponse,
  type ProduceResponse,
} from "../generated/produce-response.ts";
import { Produce } from "../generated/index.ts";
import { errorMessage, type Handler, type HandlerContext, KafkaError, kafkaErrorCode } from "./context.ts";

const LOG_OVERHEAD = 12;
const MAGIC_OFFSET = 16;
const V2_HEADER_SIZE = 61;

/** Split a records field into batches; an error code + message when it is not a sequence of v2 batches. */
export function splitBatches(
  records: Uint8Array,
): { batches: Uint8Array[] } | { errorCode: number; message: string } {
  const batches: Uint8Array[] = [];
  let pos = 0;
  while (pos < records.length) {
    const left = records.length - pos;
    if (left < LOG_OVERHEAD + 5) {
      return { errorCode: KafkaError.CORRUPT_MESSAGE, message: `truncated record batch (${left} bytes)` };
    }
    const magic = records[pos + MAGIC_OFFSET]!;
    if (magic < 2) {
      return {
        errorCode: KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT,
        message: `message format v${magic} is not supported: Eddy stores RecordBatch v2 only (Kafka 0.11+ clients); upgrade the client or set its api version to 0.11 or later`,
      };
    }
    if (magic !== 2) {
      return { errorCode: KafkaError.CORRUPT_MESSAGE, message: `unknown record batch magic ${magic}` };
    }
    const length = new DataView(records.buffer, records.byteOffset + pos + 8, 4).getInt32(0);
    const size = length + LOG_OVERHEAD;
    if (size < V2_HEADER_SIZE || size > left) {
      return {
        errorCode: KafkaError.CORRUPT_MESSAGE,
        message: `record batch length ${length} does not fit the ${left} bytes sent`,
      };
    }
    batches.push(records.subarray(pos, pos + size));
    pos += size;
  }
  if (batches.length === 0) return { errorCode: KafkaError.CORRUPT_MESSAGE, message: "no record batch sent" };
  return { batches };
}

function partitionResponse(
  index: number,
  errorCode: number,
  message: string | null,
): PartitionProduceResponse {
  return {
    index,
    errorCode,
    baseOffset: -1,
    logAppendTimeMs: -1,
    logStartOffset: -1,
    recordErrors: [],
    errorMessage: message,
    currentLeader: defaultLeaderIdAndEpoch(),
  };
}

async function producePartition(
  ctx: HandlerContext,
  req: ProduceRequest,
  topic: string,
  p: PartitionProduceData,
  appended: () => void,
): Promise<PartitionProduceResponse> {
  try {
    const split = splitBatches(p.records ?? new Uint8Array(0));
    if ("errorCode" in split) return partitionResponse(p.index, split.errorCode, split.message);
    const out = partitionResponse(p.index, KafkaError.NONE, null);
    const last = split.batches.length - 1;
    for (let i = 0; i <= last; i++) {
      try {
        const r = await ctx.broker.appendBatch({
          topic,
          partition: p.index,
          batch: split.batches[i]!,
          acks: req.acks as 0 | 1 | -1,
          timeoutMs: req.timeoutMs,
          // Kafka clients route by Metadata: a stale one gets NOT_LEADER_OR_FOLLOWER, never a forward.
          requireLeader: true,
          // The partition's last batch is in the log: later requests may append behind it.
          ...(i === last ? { onAppended: appended } : {}),
        });
        if (out.baseOffset === -1) {
          out.baseOffset = r.baseOffset;
          out.logAppendTimeMs = r.logAppendTime;
        }
        out.logStartOffset = r.logStartOffset;
      } catch (err) {
        out.errorCode = kafkaErrorCode(err);
        out.errorMessage = errorMessage(err);
        if (out.baseOffset === -1) out.logStartOffset = -1;
        ctx.logger.debug("kafka: produce refused", { topic, partition: p.index, error: out.errorMessage });
        break;
      }
    }
    return out;
  } catch (err) {
    // Never reject: the request's frame may be reused once every partition has settled.
    return partitionResponse(p.index, kafkaErrorCode(err), errorMessage(err));
  } finally {
    appended();
  }
}

/** A callback per partition; `done` runs once every one of them has been called (each counts once). */
function countdown(n: number, done: () => void): () => () => void {
  let left = n;
  if (left === 0) done();
  return () => {
    let called = false;
    return () => {
      if (called) return;
      called = true;
      if (--left === 0) done();
    };
  };
}

export const handler: Handler<ProduceRequest, ProduceResponse> = {
  api: Produce,
  minVersion: 0,
  maxVersion: 9,
  releasesEarly: true,
  reusableFrame: true,
  async handle(ctx, _header, body, release) {
    if (body.acks !== 0 && body.acks !== 1 && body.acks !== -1) {
      return produceError(body, KafkaError.INVALID_REQUIRED_ACKS);
    }
    let partitions = 0;
    for (const t of body.topicData) partitions += t.partitionData.length;
    const next = countdown(partitions, () => release?.());
    const responses = await Promise.all(
      body.topicData.map(async (t) => ({
        name: t.name,
        partitionResponses: await Promise.all(
          t.partitionData.map((p) => producePartition(ctx, body, t.name, p, next())),
        ),
      })),
    );
    if (body.acks === 0) return null;
    return { responses, throttleTimeMs: 0, nodeEndpoints: [] };
  },
  errorResponse: (body, errorCode) => produceError(body, errorCode),
};

function produceError(body: ProduceRequest, errorCode: number): ProduceResponse {
  return {
    responses: body.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => partitionResponse(p.index, errorCode, null)),
    })),
    throttleTimeMs: 0,
    nodeEndpoints: [],
  };
}
