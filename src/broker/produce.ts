/**
 * Produce structured records: place each record on a partition (explicit,
 * murmur2 by key, or sticky for keyless), encode one RecordBatch v2 per
 * partition (split when it would exceed max.message.bytes; a single record
 * over the limit is RECORD_TOO_LARGE), append through the partition's queue,
 * then acknowledge per acks (see acks.ts). Everything is validated before the
 * first byte is written; results list offsets in input order.
 *
 * Cluster mode: a partition this node does not lead is forwarded to its
 * leader (src/cluster/produce-forwarder.ts) unless the caller sets
 * `requireLeader` (the Kafka frontend), which gets NOT_LEADER as before.
 * Key placement is decided here (the partition count is shared metadata).
 */
import { EddyError, ErrorCode } from "../errors.ts";
import { encodeBatch } from "../log/record-batch.ts";
import type { AppendInfo, RecordInput } from "../log/types.ts";
import { checkDisk, checkMinInsync, checkMinInsyncAfterAppend, validateAcks, withTimeout } from "./acks.ts";
import type { ProduceForwarder } from "../cluster/produce-forwarder.ts";
import { FORWARD_MAX_BATCH_BYTES } from "../cluster/produce-forwarder.ts";
import { checkLeader } from "./epochs.ts";
import type { BrokerContext } from "./context.ts";
import type { Partition } from "./partition.ts";
import { assignPartitions } from "./partitioner.ts";
import { isCompacted } from "./topic-configs.ts";
import type { ProducedPartition, ProduceRequest, ProduceResult } from "./types.ts";

interface PlannedBatch {
  bytes: Uint8Array;
  /** Input indexes of the batch's records, in order. */
  indexes: number[];
}

interface PartitionPlan {
  partition: Partition;
  batches: PlannedBatch[];
  /** Appended at the leader over the peer transport (this node does not lead). */
  forward: boolean;
}

export async function produce(
  ctx: BrokerContext,
  req: ProduceRequest,
  forwarder?: ProduceForwarder,
): Promise<ProduceResult> {
  const acks = validateAcks(req.acks);
  if (!Array.isArray(req.records)) throw new EddyError(ErrorCode.INVALID_REQUEST, "records must be an array");
  req.records.forEach(validateRecord);
  const topic = await ctx.topics.ensure(req.topic);
  const name = topic.record.name;
  if (req.records.length === 0) return { topic: name, partitions: [], records: [] };

  let targets: number[];
  if (req.partition !== undefined) {
    ctx.topics.partition(name, req.partition);
    targets = req.records.map(() => req.partition as number);
  } else {
    targets = assignPartitions(req.records, topic.partitions.length, topic);
  }
  if (isCompacted(topic.configs) && req.records.some((r) => r.key === undefined || r.key === null)) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      `topic '${name}' is compacted (cleanup.policy=${topic.configs["cleanup.policy"]}): every record needs a key`,
    );
  }

  const byPartition = new Map<number, number[]>();
  targets.forEach((p, i) => {
    const list = byPartition.get(p);
    if (list) list.push(i);
    else byPartition.set(p, [i]);
  });
  const now = ctx.clock.now();
  const maxBytes = topic.configs["max.message.bytes"];
  const plans: PartitionPlan[] = [...byPartition].map(([p, indexes]) => {
    const partition = ctx.topics.partition(name, p);
    const forward = forwarder?.shouldForward(partition, req.requireLeader) === true;
    const limit = forward ? Math.min(maxBytes, FORWARD_MAX_BATCH_BYTES) : maxBytes;
    return {
      partition,
      forward,
      batches: planBatches(req.records, indexes, { now, maxBytes: limit, topic: name }),
    };
  });
  const local = plans.filter((plan) => !plan.forward);
  for (const plan of local) {
    checkLeader(plan.partition);
    checkMinInsync(topic, acks, plan.partition);
  }

  if (local.length > 0) checkDisk(ctx);
  const forwarded = Promise.all(
    plans
      .filter((plan) => plan.forward)
      .map((plan) => forwardPlan(forwarder!, { plan, topic: name, acks, timeoutMs: req.timeoutMs })),
  );
  forwarded.catch(() => {}); // awaited below; a local failure first must not leave it unhandled
  const appendedLocal = await Promise.all(local.map((plan) => appendPlan(ctx, plan)));

  if (acks !== 0 && appendedLocal.length > 0) {
    const commits = appendedLocal.map(({ plan, infos }) =>
      plan.partition.waitAcked(infos.at(-1)!.lastOffset + 1, acks),
    );
    await withTimeout(Promise.all(commits), req.timeoutMs, `produce to '${name}'`);
    for (const { plan } of appendedLocal) checkMinInsyncAfterAppend(topic, acks, plan.partition);
  }
  const done = new Map([...appendedLocal, ...(await forwarded)].map((a) => [a.plan, a]));
  const appended = plans.map((plan) => done.get(plan)!);

  const records: ProduceResult["records"] = req.records.map(() => ({ partition: -1, offset: -1 }));
  const partitions: ProducedPartition[] = appended.map(({ plan, infos }) => {
    plan.batches.forEach((batch, b) => {
      const info = infos[b]!;
      batch.indexes.forEach((input, i) => {
        records[input] = { partition: plan.partition.id, offset: acks === 0 ? -1 : info.baseOffset + i };
      });
    });
    const last = infos.at(-1)!;
    return {
      partition: plan.partition.id,
      baseOffset: acks === 0 ? -1 : infos[0]!.baseOffset,
      lastOffset: acks === 0 ? -1 : last.lastOffset,
      recordCount: infos.reduce((n, info) => n + info.recordCount, 0),
      logAppendTime: last.logAppendTime,
    };
  });
  return { topic: name, partitions, records };
}

async function appendPlan(
  ctx: BrokerContext,
  plan: PartitionPlan,
): Promise<{ plan: PartitionPlan; infos: AppendInfo[] }> {
  const infos: AppendInfo[] = [];
  const p = plan.partition;
  for (const batch of plan.batches) {
    const info = await p.append(batch.bytes);
    infos.push(info);
    ctx.stats.appendedRecords += info.recordCount;
    ctx.stats.appendedBytes += info.size;
    ctx.observer.onProduce(p.topic, p.id, info.recordCount, info.size);
  }
  return { plan, infos };
}

/** Append a partition's planned batches at its leader (another node); offsets as if appended here. */
async function forwardPlan(
  forwarder: ProduceForwarder,
  o: { plan: PartitionPlan; topic: string; acks: -1 | 0 | 1; timeoutMs: number | undefined },
): Promise<{ plan: PartitionPlan; infos: AppendInfo[] }> {
  const results = await forwarder.forward({
    topic: o.topic,
    partition: o.plan.partition.id,
    batches: o.plan.batches.map((b) => b.bytes),
    acks: o.acks,
    timeoutMs: o.timeoutMs,
  });
  const infos = results.map((r, i) => {
    const bytes = o.plan.batches[i]!.bytes;
    return {
      baseOffset: r.baseOffset,
      lastOffset: r.lastOffset,
      maxTimestamp: -1,
      logAppendTime: r.logAppendTime,
      recordCount: o.plan.batches[i]!.indexes.length,
      size: bytes.length,
    };
  });
  return { plan: o.plan, infos };
}

/** Encode the partition's records, splitting into several batches if one would be too large. */
function planBatches(
  records: readonly RecordInput[],
  indexes: number[],
  opts: { now: number; maxBytes: number; topic: string },
): PlannedBatch[] {
  const bytes = encodeBatch(
    indexes.map((i) => records[i]!),
    { now: opts.now },
  );
  if (bytes.length <= opts.maxBytes) return [{ bytes, indexes }];
  if (indexes.length === 1) {
    throw new EddyError(
      ErrorCode.RECORD_TOO_LARGE,
      `record ${indexes[0]} is ${bytes.length} bytes as a batch, over topic '${opts.topic}' max.message.bytes=${opts.maxBytes}: send a smaller record or raise max.message.bytes`,
      { topic: opts.topic, size: bytes.length, limit: opts.maxBytes },
    );
  }
  const half = Math.ceil(indexes.length / 2);
  return [
    ...planBatches(records, indexes.slice(0, half), opts),
    ...planBatches(records, indexes.slice(half), opts),
  ];
}

function validateRecord(record: RecordInput, index: number): void {
  const bad = (what: string): never => {
    throw new EddyError(ErrorCode.INVALID_REQUEST, `record ${index}: ${what}`);
  };
  if (record === null || typeof record !== "object") bad("must be an object with a value");
  if (record.value !== null && !(record.value instanceof Uint8Array)) bad("value must be bytes or null");
  if (record.key !== undefined && record.key !== null && !(record.key instanceof Uint8Array)) {
    bad("key must be bytes or null");
  }
  if (record.headers !== undefined) {
    if (!Array.isArray(record.headers)) bad("headers must be an array");
    for (const h of record.headers ?? []) {
      if (typeof h?.key !== "string") bad("every header needs a string key");
      if (h.value !== null && !(h.value instanceof Uint8Array))
        bad(`header '${h.key}' value must be bytes or null`);
    }
  }
  if (record.timestamp !== undefined && (!Number.isSafeInteger(record.timestamp) || record.timestamp < -1)) {
    throw new EddyError(
      ErrorCode.INVALID_TIMESTAMP,
      `record ${index}: timestamp must be milliseconds since the epoch, got ${record.timestamp}`,
    );
  }
}
