/**
 * Append one raw RecordBatch v2 (Kafka produce, mirror downlink, the MQTT
 * bridge's own batches). The batch is checked (exactly one batch, magic 2,
 * CRC-32C unless the in-process caller says `trusted`, at least one record, size <=
 * max.message.bytes, keys present on compacted topics), then appended through
 * the partition's queue with offsets assigned by the log, and acknowledged per
 * acks (acks.ts). With acks=0 the result still carries the assigned offsets.
 *
 * Idempotence and transactions: a batch with a producer id (>= 0) goes
 * through the partition's producer state (src/txn/producer-state.ts): a
 * duplicate of one of the producer's last 5 batches is answered with its
 * original offsets (`duplicate: true`, nothing written), a sequence gap is
 * OUT_OF_ORDER_SEQUENCE, an older epoch INVALID_PRODUCER_EPOCH. A
 * transactional batch must be for a partition added to its producer's
 * ongoing transaction (INVALID_TXN_STATE otherwise). Control batches (markers)
 * are written only by the transaction coordinator: refused here
 * (INVALID_REQUEST), as Kafka refuses them from clients.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { checkBatch, decodeBatch, isControl, isTransactional } from "../log/record-batch.ts";
import { checkDisk, checkMinInsync, checkMinInsyncAfterAppend, validateAcks, withTimeout } from "./acks.ts";
import type { BrokerContext } from "./context.ts";
import { checkLeaderEpoch } from "./epochs.ts";
import { isCompacted } from "./topic-configs.ts";
import type { AppendBatchRequest, AppendBatchResult } from "./types.ts";
import type { AppendInfo } from "../log/types.ts";

export async function appendBatch(ctx: BrokerContext, req: AppendBatchRequest): Promise<AppendBatchResult> {
  const acks = validateAcks(req.acks);
  const topic = await ctx.topics.ensure(req.topic);
  const name = topic.record.name;
  const partition = ctx.topics.partition(name, req.partition);
  checkLeaderEpoch(partition, req.expectedLeaderEpoch);
  const batch = req.batch;
  if (!(batch instanceof Uint8Array)) throw new EddyError(ErrorCode.INVALID_REQUEST, "batch must be bytes");

  const check = checkBatch(batch, 0, batch.length, req.trusted !== true);
  if (!check.ok) {
    const code = check.reason === "magic" ? ErrorCode.UNSUPPORTED_FORMAT : ErrorCode.CORRUPT_RECORD;
    throw new EddyError(code, `record batch for ${name}-${req.partition} rejected: ${check.message}`);
  }
  if (check.size !== batch.length) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `expected exactly one record batch for ${name}-${req.partition}, got ${batch.length} bytes of which the first batch is ${check.size}`,
    );
  }
  const header = check.header;
  if (header.recordCount < 1) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `record batch for ${name}-${req.partition} has no records`,
    );
  }
  if (isControl(header.attributes)) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `control batches for ${name}-${req.partition} are written only by the transaction coordinator: produce data batches`,
    );
  }
  const transactional = isTransactional(header.attributes);
  if (transactional && header.producerId < 0) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `transactional batch for ${name}-${req.partition} has no producer id: call InitProducerId first`,
    );
  }
  const maxBytes = topic.configs["max.message.bytes"];
  if (batch.length > maxBytes) {
    throw new EddyError(
      ErrorCode.RECORD_TOO_LARGE,
      `record batch of ${batch.length} bytes is over topic '${name}' max.message.bytes=${maxBytes}: send smaller batches or raise max.message.bytes`,
      { topic: name, size: batch.length, limit: maxBytes },
    );
  }
  if (isCompacted(topic.configs)) {
    const { records } = decodeBatch(batch, 0);
    if (records.some((r) => r.key === null)) {
      throw new EddyError(
        ErrorCode.INVALID_REQUEST,
        `topic '${name}' is compacted (cleanup.policy=${topic.configs["cleanup.policy"]}): every record needs a key`,
      );
    }
  }
  checkMinInsync(topic, acks, partition);
  checkDisk(ctx);

  let info: AppendInfo;
  let duplicate = false;
  if (header.producerId >= 0) {
    const tp = { topic: name, partition: partition.id };
    ({ info, duplicate } = await partition.appendProducerBatch(batch, {
      producer: {
        producerId: header.producerId,
        producerEpoch: header.producerEpoch,
        baseSequence: header.baseSequence,
        lastOffsetDelta: header.lastOffsetDelta,
        transactional,
      },
      now: ctx.clock.now(),
      verify: transactional
        ? () => ctx.txn.verifyTxnPartition(header.producerId, header.producerEpoch, tp)
        : undefined,
    }));
  } else {
    info = await partition.append(batch);
  }
  req.onAppended?.();
  if (!duplicate) {
    ctx.stats.appendedRecords += info.recordCount;
    ctx.stats.appendedBytes += info.size;
    ctx.observer.onProduce(name, partition.id, info.recordCount, info.size);
  }
  if (acks !== 0) {
    await withTimeout(
      partition.waitAcked(info.lastOffset + 1, acks),
      req.timeoutMs,
      `batch to ${name}-${partition.id}`,
    );
    checkMinInsyncAfterAppend(topic, acks, partition);
  }
  return {
    baseOffset: info.baseOffset,
    lastOffset: info.lastOffset,
    logAppendTime: info.logAppendTime,
    logStartOffset: partition.tracker.logStartOffset,
    ...(duplicate ? { duplicate: true } : {}),
  };
}
