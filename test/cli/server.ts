/** The real broker (memory log, in-memory SQLite) behind the real HTTP app, on port 0. */
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createHttpApp, type HttpAppOptions } from "../../src/http/app.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { CredentialStore, hashPassword, hashToken } from "../../src/util/credentials.ts";

export interface TestServer {
  url: string;
  broker: Broker;
  close(): Promise<void>;
}

/**
 * The real broker (memory log, in-memory SQLite) behind the real HTTP app on port 0;
 * `app` adds HTTP app options (credentials, bridge views).
 */
export async function startServer(app: Omit<HttpAppOptions, "broker"> = {}): Promise<TestServer> {
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    clock: systemClock,
    metadata: openMetadataStore({ path: ":memory:" }),
    housekeepingIntervalMs: 0,
  });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: createHttpApp({ broker, ...app }).fetch,
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    broker,
    async close() {
      await server.stop(true);
      await broker.close();
    },
  };
}

/** [auth] credentials: user "ops" with password "hunter2" (cheap hash), and API token `token` named "ci". */
export async function testCredentials(token: string): Promise<CredentialStore> {
  return new CredentialStore({
    users: { ops: { password_hash: await hashPassword("hunter2", { memoryCost: 1024, timeCost: 1 }) } },
    tokens: { ci: hashToken(token) },
  });
}
