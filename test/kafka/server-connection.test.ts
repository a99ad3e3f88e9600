/**
 * KafkaConnection with a fake transport: responses leave in request order
 * even when handlers finish out of order, short writes keep their unsent
 * tail until drain, and reading pauses while too much is in flight.
 */
import { describe, expect, it } from "bun:test";
import type { BrokerApi } from "../../src/broker/index.ts";
import { KafkaConnection, type Transport } from "../../src/kafka/connection.ts";
import { ApiVersions, Metadata } from "../../src/kafka/generated/index.ts";
import type { AnyHandler } from "../../src/kafka/handlers/context.ts";
import { FrameDecoder } from "../../src/kafka/protocol/frame.ts";
import { decodeResponse, encodeRequest } from "../../src/kafka/protocol/messages.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

class FakeTransport implements Transport {
  written: number[] = [];
  /** Bytes accepted per write call; Infinity = all. */
  capacity = Number.POSITIVE_INFINITY;
  paused = false;
  ended = false;
  write(data: Uint8Array, offset: number, length: number): number {
    const n = Math.min(length, this.capacity);
    for (let i = 0; i < n; i++) this.written.push(data[offset + i]!);
    return n;
  }
  end(): void {
    this.ended = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  frames(): Uint8Array[] {
    return new FrameDecoder().push(Uint8Array.from(this.written));
  }
}

/** A Metadata handler whose answers are released by the test, in any order. */
function gatedHandler(pipelined: boolean) {
  const gates: Array<() => void> = [];
  const handler: AnyHandler = {
    api: Metadata,
    minVersion: 0,
    maxVersion: 12,
    pipelined,
    async handle() {
      await new Promise<void>((resolve) => gates.push(resolve));
      return {
        throttleTimeMs: 0,
        brokers: [],
        clusterId: null,
        controllerId: 1,
        topics: [],
        clusterAuthorizedOperations: -2147483648,
      };
    },
  };
  return { handler, gates };
}

function setup(handlers: AnyHandler[]) {
  const t = new FakeTransport();
  const conn = new KafkaConnection(
    {
      broker: { nodeId: 1, clusterId: "c" } as unknown as BrokerApi,
      logger: silentLogger,
      clock: systemClock,
      sasl: null,
      advertisedHost: "127.0.0.1",
      advertisedPort: 9092,
      maxFrameBytes: 1 << 20,
      handlers: new Map(handlers.map((h) => [h.api.apiKey, h])),
      apiVersions: handlers.map((h) => ({
        apiKey: h.api.apiKey,
        minVersion: h.minVersion,
        maxVersion: h.maxVersion,
      })),
    },
    t,
    { id: 1, remoteAddress: "test" },
  );
  return { t, conn };
}

const metadataFrame = (id: number) =>
  Buffer.concat(
    encodeRequest(
      Metadata,
      { apiVersion: 1, correlationId: id, clientId: "t" },
      {
        topics: [],
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
    ),
  );

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("KafkaConnection", () => {
  it("answers in request order when pipelined handlers finish out of order", async () => {
    const { handler, gates } = gatedHandler(true);
    const { t, conn } = setup([handler]);
    conn.onData(Buffer.concat([metadataFrame(1), metadataFrame(2), metadataFrame(3)]));
    await tick();
    expect(gates).toHaveLength(3); // all three started
    gates[2]!();
    gates[1]!();
    await tick();
    expect(t.written).toEqual([]); // the first is still pending
    gates[0]!();
    await tick();
    expect(t.frames().map((f) => decodeResponse(Metadata, 1, f).correlationId)).toEqual([1, 2, 3]);
  });

  it("runs non-pipelined requests one after another", async () => {
    const { handler, gates } = gatedHandler(false);
    const { conn } = setup([handler]);
    conn.onData(Buffer.concat([metadataFrame(1), metadataFrame(2)]));
    await tick();
    expect(gates).toHaveLength(1);
    gates[0]!();
    await tick();
    expect(gates).toHaveLength(2);
  });

  it("keeps the unsent tail of short writes until drain, and pauses reading while too much is in flight", async () => {
    const { handler, gates } = gatedHandler(true);
    const { t, conn } = setup([handler]);
    const frames = Array.from({ length: 130 }, (_, i) => metadataFrame(i + 1));
    conn.onData(Buffer.concat(frames));
    await tick();
    expect(t.paused).toBe(true);
    t.capacity = 7;
    for (const g of gates) g();
    await tick();
    expect(t.paused).toBe(false);
    expect(t.written.length).toBeLessThan(130 * 20);
    t.capacity = Number.POSITIVE_INFINITY;
    conn.onDrain();
    expect(t.frames().map((f) => decodeResponse(Metadata, 1, f).correlationId)).toEqual(
      Array.from({ length: 130 }, (_, i) => i + 1),
    );
  });

  it("aborts pending work on close and closes on a frame it cannot read", async () => {
    const { handler } = gatedHandler(true);
    const { t, conn } = setup([handler]);
    conn.onData(metadataFrame(1));
    conn.onClose();
    expect(conn.state.signal.aborted).toBe(true);
    const other = setup([handler]);
    other.conn.onData(Buffer.from([0, 0, 0, 2, 0, 0]));
    expect(other.t.ended).toBe(true);
    expect(t.ended).toBe(false);
    const v = setup([{ ...handler, api: ApiVersions, minVersion: 0, maxVersion: 3 } as AnyHandler]);
    v.conn.onData(Buffer.from([0, 0, 0, 4, 0, 18, 0, 0]));
    expect(v.t.ended).toBe(true);
  });
});
