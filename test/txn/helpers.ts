/** Shared fixtures for the idempotence and transaction tests. */
import { type Broker, encodeBatch } from "../../src/broker/index.ts";
import { enc } from "../broker/helpers.ts";

export { codeOf, dec, enc, memoryBroker, readValues } from "../broker/helpers.ts";

export interface ProducerRef {
  producerId: number;
  producerEpoch: number;
}

/** A RecordBatch v2 of `values` from an idempotent (or transactional) producer. */
export function producerBatch(
  values: string[],
  p: ProducerRef & { seq: number; transactional?: boolean },
): Uint8Array {
  return encodeBatch(
    values.map((v) => ({ value: enc(v) })),
    {
      producerId: p.producerId,
      producerEpoch: p.producerEpoch,
      baseSequence: p.seq,
      transactional: p.transactional ?? false,
    },
  );
}

/** InitProducerId that must succeed. */
export async function initProducer(
  broker: Broker,
  transactionalId: string | null = null,
  transactionTimeoutMs = 60_000,
): Promise<ProducerRef> {
  const r = await broker.initProducerId({ transactionalId, transactionTimeoutMs });
  if (r.error !== null) throw new Error(`initProducerId failed: ${r.error} ${r.errorMessage ?? ""}`);
  return { producerId: r.producerId, producerEpoch: r.producerEpoch };
}

/** All values of a partition as a read_committed reader sees them. */
export async function committedValues(broker: Broker, topic: string, partition = 0): Promise<string[]> {
  const { records } = await broker.readRecords({
    topic,
    partition,
    offset: broker.partitionState(topic, partition).logStartOffset,
    maxRecords: 10_000,
    isolation: "read_committed",
  });
  return records.map((r) => new TextDecoder().decode(r.value ?? new Uint8Array()));
}
