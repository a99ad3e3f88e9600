/** The real broker (memory log, in-memory SQLite) behind the real HTTP app, on port 0. */
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { systemClock } from "../../src/util/clock.ts";

export interface TestServer {
  url: string;
  broker: Broker;
  close(): Promise<void>;
}

/** The real broker (memory log, in-memory SQLite) behind the real HTTP app on port 0. */
export async function startServer(): Promise<TestServer> {
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    clock: systemClock,
    metadata: openMetadataStore({ path: ":memory:" }),
    housekeepingIntervalMs: 0,
  });
  const app = createHttpApp({ broker });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return {
    url: `http://127.0.0.1:${server.port}`,
    broker,
    async close() {
      await server.stop(true);
      await broker.close();
    },
  };
}
