/**
 * The real broker (memory log, in-memory SQLite) behind the real HTTP app on
 * port 0, for the console tests; optionally with the real MQTT bridge on port
 * 0 (wired like src/main.ts does) and given CoAP / mirror providers.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Broker, createBroker, type TopicMappingConfig } from "../../src/broker/index.ts";
import {
  disconnectClient,
  explain,
  listClients,
  listSessions,
  type MqttListener,
  startMqttListener,
} from "../../bridges/mqtt/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { CoapAdmin } from "../../src/http/routes/coap.ts";
import type { MirrorAdmin } from "../../src/http/routes/mirror.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { createBrokerMetrics } from "../../src/observability/broker-metrics.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

export interface ConsoleServer {
  url: string;
  broker: Broker;
  dataDir: string;
  /** With `mqtt: true`: mqtt://127.0.0.1:port of the MQTT listener. */
  mqttUrl: string | null;
  close(): Promise<void>;
}

export interface ConsoleServerOptions {
  /** Start the MQTT bridge (default mapping: every MQTT topic → stream topic "mqtt"). */
  mqtt?: boolean;
  /** The topic mapping, given to the MQTT bridge and to the HTTP app (GET /v1/mapping). */
  mapping?: TopicMappingConfig;
  coap?: CoapAdmin;
  mirror?: MirrorAdmin;
}

export async function startConsoleServer(opts: ConsoleServerOptions = {}): Promise<ConsoleServer> {
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
  let mqtt: MqttListener | null = null;
  if (opts.mqtt)
    mqtt = await startMqttListener({ broker, port: 0, sweepIntervalMs: 100, mapping: opts.mapping });
  const bridge = mqtt?.bridge;
  const shutdown = new AbortController();
  const app = createHttpApp({
    broker,
    metrics,
    logger: silentLogger,
    shutdownSignal: shutdown.signal,
    version: "test",
    dataDir,
    mqtt: bridge && {
      clients: () => listClients(bridge),
      sessions: () => listSessions(bridge),
      disconnect: (clientId) => disconnectClient(bridge, clientId),
      explain: (topic) => explain(bridge, topic),
    },
    coap: opts.coap,
    mirror: opts.mirror,
    mapping: opts.mapping,
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  return {
    url: `http://127.0.0.1:${server.port}`,
    broker,
    dataDir,
    mqttUrl: mqtt ? `mqtt://127.0.0.1:${mqtt.port}` : null,
    async close() {
      shutdown.abort();
      await server.stop(true);
      await mqtt?.close();
      detach();
      await broker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
