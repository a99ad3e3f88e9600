/**
 * Produce on one connection (connection.ts + handlers/produce.ts, fake broker):
 * the next request starts once the previous one's batches are in the log, not
 * when they are acknowledged, so pipelined requests share durability waits;
 * appends keep request order and responses leave in request order. Large
 * Produce frames that span socket chunks are assembled in reused buffers.
 */
import { describe, expect, it } from "bun:test";
import type { AppendBatchRequest, AppendBatchResult, BrokerApi } from "../../src/broker/index.ts";
import { KafkaConnection, type Transport } from "../../src/kafka/connection.ts";
import { Produce } from "../../src/kafka/generated/index.ts";
import type { ProduceResponse } from "../../src/kafka/generated/produce-response.ts";
import { handler as produceHandler } from "../../src/kafka/handlers/produce.ts";
import { FrameDecoder } from "../../src/kafka/protocol/frame.ts";
import { decodeResponse, encodeRequest } from "../../src/kafka/protocol/messages.ts";
import { encodeBatch } from "../../src/log/record-batch.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

class FakeTransport implements Transport {
  private readonly chunks: Uint8Array[] = [];
  write(data: Uint8Array, offset: number, length: number): number {
    this.chunks.push(data.slice(offset, offset + length));
    return length;
  }
  end(): void {}
  pause(): void {}
  resume(): void {}
  responses(): { correlationId: number; body: ProduceResponse }[] {
    return new FrameDecoder().push(Buffer.concat(this.chunks)).map((f) => decodeResponse(Produce, 9, f));
  }
}

interface Call {
  req: AppendBatchRequest;
  /** A copy of the batch bytes taken when appendBatch was called (the last value byte is at -2). */
  bytes: Uint8Array;
  ack: () => void;
}

/**
 * appendBatch: "appends" at once (calls onAppended unless told not to, or
 * later for the partitions in `slowPartitions`), acknowledges when the test says.
 */
function fakeBroker(opts: { signalAppended: boolean; slowPartitions?: number[] }) {
  const calls: Call[] = [];
  const slow: Array<() => void> = [];
  let next = 0;
  const broker = {
    nodeId: 1,
    clusterId: "c",
    appendBatch(req: AppendBatchRequest): Promise<AppendBatchResult> {
      const baseOffset = next;
      next += 1;
      return new Promise((resolve) => {
        calls.push({
          req,
          bytes: req.batch.slice(),
          ack: () => resolve({ baseOffset, lastOffset: baseOffset, logAppendTime: -1, logStartOffset: 0 }),
        });
        if (!opts.signalAppended) return;
        if (opts.slowPartitions?.includes(req.partition)) slow.push(() => req.onAppended?.());
        else req.onAppended?.();
      });
    },
  };
  return { broker: broker as unknown as BrokerApi, calls, slow };
}

function setup(broker: BrokerApi) {
  const t = new FakeTransport();
  const conn = new KafkaConnection(
    {
      broker,
      logger: silentLogger,
      clock: systemClock,
      sasl: null,
      advertisedHost: "127.0.0.1",
      advertisedPort: 9092,
      maxFrameBytes: 64 << 20,
      handlers: new Map([[Produce.apiKey, produceHandler]]),
      apiVersions: [{ apiKey: Produce.apiKey, minVersion: 0, maxVersion: 9 }],
    },
    t,
    { id: 1, remoteAddress: "test" },
  );
  return { t, conn };
}

function produceFrame(id: number, valueSize: number, fill: number, partitions = [0]): Buffer {
  const batch = encodeBatch([{ key: null, value: new Uint8Array(valueSize).fill(fill), timestamp: 1 }]);
  return Buffer.concat(
    encodeRequest(
      Produce,
      { apiVersion: 9, correlationId: id, clientId: "t" },
      {
        transactionalId: null,
        acks: 1,
        timeoutMs: 5000,
        topicData: [{ name: "t", partitionData: partitions.map((index) => ({ index, records: batch })) }],
      },
    ),
  );
}

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("Produce pipelining on one connection", () => {
  it("starts the next request once the batches are in the log, and answers in request order", async () => {
    const { broker, calls } = fakeBroker({ signalAppended: true });
    const { t, conn } = setup(broker);
    conn.onData(Buffer.concat([produceFrame(1, 10, 1), produceFrame(2, 10, 2), produceFrame(3, 10, 3)]));
    await tick();
    // All three appended (in order) while none is acknowledged yet.
    expect(calls.map((c) => c.bytes.at(-2))).toEqual([1, 2, 3]);
    calls[2]!.ack();
    calls[1]!.ack();
    await tick();
    expect(t.responses()).toEqual([]);
    calls[0]!.ack();
    await tick();
    const rs = t.responses();
    expect(rs.map((r) => r.correlationId)).toEqual([1, 2, 3]);
    expect(rs.map((r) => r.body.responses[0]!.partitionResponses[0]!.baseOffset)).toEqual([0, 1, 2]);
  });

  it("starts the next request only once every partition of this one is in the log", async () => {
    const { broker, calls, slow } = fakeBroker({ signalAppended: true, slowPartitions: [1] });
    const { t, conn } = setup(broker);
    conn.onData(Buffer.concat([produceFrame(1, 10, 1, [0, 1]), produceFrame(2, 10, 2, [0])]));
    await tick();
    expect(calls.map((c) => c.req.partition)).toEqual([0, 1]); // request 2 waits for partition 1
    slow[0]!();
    await tick();
    expect(calls.map((c) => c.req.partition)).toEqual([0, 1, 0]);
    for (const c of calls) c.ack();
    await tick();
    expect(t.responses().map((r) => r.correlationId)).toEqual([1, 2]);
  });

  it("waits for the whole request when the broker never reports the append", async () => {
    const { broker, calls } = fakeBroker({ signalAppended: false });
    const { t, conn } = setup(broker);
    conn.onData(Buffer.concat([produceFrame(1, 10, 1), produceFrame(2, 10, 2)]));
    await tick();
    expect(calls).toHaveLength(1);
    calls[0]!.ack();
    await tick();
    expect(calls).toHaveLength(2);
    calls[1]!.ack();
    await tick();
    expect(t.responses().map((r) => r.correlationId)).toEqual([1, 2]);
  });

  it("reuses the buffer of a large frame split across chunks once its request is answered", async () => {
    const { broker, calls } = fakeBroker({ signalAppended: true });
    const { t, conn } = setup(broker);
    const first = produceFrame(1, 200_000, 7);
    conn.onData(first.subarray(0, 100_000));
    conn.onData(first.subarray(100_000));
    await tick();
    expect(calls).toHaveLength(1);
    // Not reused while its request is still in progress.
    const second = produceFrame(2, 200_000, 8);
    conn.onData(second.subarray(0, 50_000));
    conn.onData(second.subarray(50_000));
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1]!.req.batch.buffer).not.toBe(calls[0]!.req.batch.buffer);
    calls[0]!.ack();
    calls[1]!.ack();
    await tick();
    // Both answered: the next large frame lands in one of their buffers, intact.
    const third = produceFrame(3, 200_000, 9);
    conn.onData(third.subarray(0, 70_000));
    conn.onData(third.subarray(70_000));
    await tick();
    expect(calls).toHaveLength(3);
    const reused = calls[2]!.req.batch.buffer;
    expect(reused === calls[0]!.req.batch.buffer || reused === calls[1]!.req.batch.buffer).toBe(true);
    expect(calls[2]!.bytes).toEqual(new Uint8Array(calls[2]!.req.batch));
    expect(calls[2]!.bytes.at(-2)).toBe(9);
    calls[2]!.ack();
    await tick();
    expect(t.responses().map((r) => r.correlationId)).toEqual([1, 2, 3]);
  });
});
