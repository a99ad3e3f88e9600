/** The real broker (memory log, in-memory SQLite) behind the real HTTP app on port 0, for the console tests. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { createBrokerMetrics } from "../../src/observability/broker-metrics.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

export interface ConsoleServer {
  url: string;
  broker: Broker;
  dataDir: string;
  close(): Promise<void>;
}

export async function startConsoleServer(): Promise<ConsoleServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-console-"));
  const metrics = createBrokerMetrics();
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock, observer: metrics.logObserver }),
    metadata: await openMetadataStore({ path: ":memory:" }),
    logger: silentLogger,
    clock: systemClock,
    housekeepingIntervalMs: 0,
    observer: metrics.brokerObserver,
    defaults: { autoCreateTopics: false },
  });
  const detach = metrics.attach(broker);
  const shutdown = new AbortController();
  const app = createHttpApp({
    broker,
    metrics,
    logger: silentLogger,
    shutdownSignal: shutdown.signal,
    version: "test",
    dataDir,
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return {
    url: `http://127.0.0.1:${server.port}`,
    broker,
    dataDir,
    async close() {
      shutdown.abort();
      await server.stop(true);
      detach();
      await broker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
