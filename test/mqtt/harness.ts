/** A real broker (memory or file stores) with an in-process MQTT listener on port 0, and MQTT.js helpers. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { type MqttBridgeOptions, type MqttListener, startMqttListener } from "../../bridges/mqtt/index.ts";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createFileLogStore } from "../../src/log/file-store.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

export interface TestServer {
  broker: Broker;
  listener: MqttListener;
  url: string;
  /** Close every client made with connect(), the listener and the broker. */
  close(): Promise<void>;
  connect(opts?: IClientOptions): Promise<MqttClient>;
  /** Connect, collecting messages from the very first packet; resolves with CONNACK's Session Present. */
  resume(opts: IClientOptions): Promise<{ client: MqttClient; got: Received[]; sessionPresent: boolean }>;
}

export async function openBroker(dir?: string): Promise<Broker> {
  return createBroker({
    logStore: dir
      ? createFileLogStore({ dataDir: path.join(dir, "data"), clock: systemClock, logger: silentLogger })
      : createMemoryLogStore({ clock: systemClock }),
    metadata: openMetadataStore({ path: dir ? path.join(dir, "eddy.db") : ":memory:" }),
    clock: systemClock,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: false, topicConfigs: { durability: "write" } },
  });
}

export async function startServer(
  opts: Partial<Omit<MqttBridgeOptions, "broker">> & { dir?: string; broker?: Broker } = {},
): Promise<TestServer> {
  const { dir, broker: given, ...rest } = opts;
  const broker = given ?? (await openBroker(dir));
  const listener = await startMqttListener({ broker, port: 0, sweepIntervalMs: 100, ...rest });
  const url = `mqtt://127.0.0.1:${listener.port}`;
  const clients: MqttClient[] = [];
  return {
    broker,
    listener,
    url,
    async connect(clientOpts = {}) {
      const client = await mqtt.connectAsync(url, {
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...clientOpts,
      });
      clients.push(client);
      return client;
    },
    resume(clientOpts) {
      const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...clientOpts });
      clients.push(client);
      const got = collect(client);
      return new Promise((resolve, reject) => {
        client.once("connect", (ack) => resolve({ client, got, sessionPresent: ack.sessionPresent }));
        client.once("error", reject);
      });
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
      await listener.close();
      await broker.close();
    },
  };
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "eddy-mqtt-"));
}

export interface Received {
  topic: string;
  payload: string;
  packet: mqtt.IPublishPacket;
}

/** MQTT 5 options of a persistent session: clean start off, the session kept `expiry` seconds after disconnect. */
export function persistentSession(clientId: string, expiry: number): IClientOptions {
  return { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: expiry } };
}

/** Collect every message a client receives. */
export function collect(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on("message", (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
  return got;
}

/** Wait until `check` holds (polling), or fail after `ms`. */
export async function until(check: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}
