/**
 * In-process Kafka listener on port 0 over a real broker (memory log store,
 * in-memory metadata), and a raw-frame client built on the generated codecs.
 */
import type { Socket } from "bun";
import type { Broker } from "../../src/broker/index.ts";
import type { ApiCodec } from "../../src/kafka/protocol/api.ts";
import { FrameDecoder } from "../../src/kafka/protocol/frame.ts";
import { decodeResponse, encodeRequest } from "../../src/kafka/protocol/messages.ts";
import type { SaslSettings } from "../../src/kafka/handlers/context.ts";
import { type KafkaListener, startKafkaListener } from "../../src/kafka/server.ts";
import { type Logger, silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { createMemoryBroker } from "../helpers/memory-broker.ts";

export interface KafkaHarness {
  broker: Broker;
  listener: KafkaListener;
  connect(): Promise<RawClient>;
  close(): Promise<void>;
}

export async function createKafkaHarness(
  opts: { autoCreateTopics?: boolean; sasl?: SaslSettings; maxFrameBytes?: number; logger?: Logger } = {},
): Promise<KafkaHarness> {
  const broker = await createMemoryBroker({ autoCreateTopics: opts.autoCreateTopics });
  const listener = await startKafkaListener({
    broker,
    host: "127.0.0.1",
    port: 0,
    logger: opts.logger ?? silentLogger,
    clock: systemClock,
    sasl: opts.sasl ?? null,
    maxFrameBytes: opts.maxFrameBytes,
    brokerConfigs: { "broker.id": "1", "num.partitions": "1", "log.retention.ms": "604800000" },
  });
  const clients: RawClient[] = [];
  return {
    broker,
    listener,
    async connect() {
      const c = await RawClient.connect(listener.port);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await listener.close();
      await broker.close();
    },
  };
}

/** A Kafka client that speaks raw frames: send anything, read frames in arrival order. */
export class RawClient {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Uint8Array[] = [];
  private waiters: Array<() => void> = [];
  private nextCorrelation = 1;
  closed = false;

  private constructor(private socket: Socket<undefined> | null) {}

  static async connect(port: number): Promise<RawClient> {
    const client = new RawClient(null);
    client.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_s, chunk) {
          for (const f of client.decoder.push(new Uint8Array(chunk))) client.frames.push(f);
          client.wake();
        },
        close() {
          client.closed = true;
          client.wake();
        },
        error() {
          client.closed = true;
          client.wake();
        },
      },
    });
    return client;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Write raw bytes (handles short writes). */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (this.closed || this.socket === null) return;
      const n = this.socket.write(bytes, off, bytes.length - off);
      if (n < 0) return;
      off += n;
      if (off < bytes.length) await Bun.sleep(1);
    }
  }

  /** Send a request; returns its correlation id. */
  async send<Req>(
    api: ApiCodec<Req, unknown>,
    version: number,
    body: Req,
    correlationId?: number,
  ): Promise<number> {
    const id = correlationId ?? this.nextCorrelation++;
    const chunks = encodeRequest(
      api,
      { apiVersion: version, correlationId: id, clientId: "eddy-test" },
      body,
    );
    await this.writeRaw(Buffer.concat(chunks));
    return id;
  }

  /** The next response frame, or null when the connection closed first. */
  async nextFrame(timeoutMs = 5000): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error("no response within the time limit");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.frames.shift()!;
  }

  async receive<Res>(
    api: ApiCodec<unknown, Res>,
    version: number,
  ): Promise<{ correlationId: number; body: Res }> {
    const frame = await this.nextFrame();
    if (frame === null) throw new Error(`connection closed while waiting for ${api.name} v${version}`);
    return decodeResponse(api, version, frame);
  }

  async request<Req, Res>(api: ApiCodec<Req, Res>, version: number, body: Req): Promise<Res> {
    const id = await this.send(api, version, body);
    const r = await this.receive(api, version);
    if (r.correlationId !== id) throw new Error(`correlation id ${r.correlationId}, expected ${id}`);
    return r.body;
  }

  /** Wait until the server closes the connection (true) or the time runs out (false). */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await Bun.sleep(10);
    return this.closed;
  }

  close(): void {
    this.socket?.end();
    this.closed = true;
  }
}
