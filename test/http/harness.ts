/** A real broker (memory log + in-memory metadata) behind the HTTP app, for the HTTP tests. */
import { type Broker, type BrokerApi, createBroker } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { type BrokerMetrics, createBrokerMetrics } from "../../src/observability/broker-metrics.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

export interface Harness {
  app: ReturnType<typeof createHttpApp>;
  broker: Broker;
  metrics: BrokerMetrics;
  shutdown: AbortController;
  ready: { value: boolean };
  /** app.request with a JSON body. */
  json(method: string, path: string, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

export async function createHarness(
  opts: {
    maxBodyBytes?: number;
    autoCreateTopics?: boolean;
    sseHeartbeatMs?: number;
    /** Put a spy between the app and the broker. */
    wrapBroker?: (broker: Broker) => BrokerApi;
  } = {},
): Promise<Harness> {
  const metrics = createBrokerMetrics();
  const metadata = await openMetadataStore({ path: ":memory:" });
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock, observer: metrics.logObserver }),
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    observer: metrics.brokerObserver,
    defaults: {
      autoCreateTopics: opts.autoCreateTopics ?? false,
      topicConfigs: { "max.message.bytes": 10_000 },
    },
  });
  const detach = metrics.attach(broker);
  const shutdown = new AbortController();
  const ready = { value: true };
  const app = createHttpApp({
    broker: opts.wrapBroker ? opts.wrapBroker(broker) : broker,
    metrics,
    logger: silentLogger,
    shutdownSignal: shutdown.signal,
    isReady: () => ready.value,
    maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024,
    sseHeartbeatMs: opts.sseHeartbeatMs ?? 100,
    version: "test",
  });
  return {
    app,
    broker,
    metrics,
    shutdown,
    ready,
    json: (method, path, body) =>
      Promise.resolve(
        app.request(path, {
          method,
          headers: { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      ),
    async close() {
      shutdown.abort();
      detach();
      await broker.close();
    },
  };
}

export interface ErrorJson {
  error: { code: string; message: string; retriable: boolean; details: Record<string, unknown> | null };
}

export async function expectError(res: Response, status: number, code: string): Promise<ErrorJson> {
  const body = (await res.json()) as ErrorJson;
  if (res.status !== status || body.error?.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status} ${JSON.stringify(body)}`);
  }
  return body;
}
