/**
 * A second, in-process Eddy with its Kafka listener as the central cluster
 * (memory store, auto-created topics). The listener can be stopped and
 * started again on the same port (an uplink outage seen from the edge), and
 * can advertise another address (a fault proxy in front of it).
 */
import type { Broker, StoredRecord } from "../../src/broker/index.ts";
import { createBroker } from "../../src/broker/index.ts";
import type { SaslSettings } from "../../src/kafka/handlers/context.ts";
import { type KafkaListener, type KafkaTlsOptions, startKafkaListener } from "../../src/kafka/server.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";

export interface CentralEddy {
  broker: Broker;
  /** host:port of the listener (valid while it runs; the port stays the same across restarts). */
  readonly bootstrap: string;
  readonly port: number;
  /** Close the listener and every connection (the uplink goes away). */
  stopListener(): Promise<void>;
  /** Listen again on the same port. */
  startListener(): Promise<void>;
  /**
   * Every record of a partition, from the log start; read_committed by
   * default (what central consumers see: the mirror's aborted transactions
   * are not), or every record appended with `{ uncommitted: true }`.
   */
  records(topic: string, partition: number, opts?: { uncommitted?: boolean }): Promise<StoredRecord[]>;
  close(): Promise<void>;
}

export interface CentralEddyOptions {
  advertisedPort?: number;
  /** Serve the Kafka listener over TLS (cert and key files). */
  tls?: KafkaTlsOptions;
  /** Require SASL (PLAIN / SCRAM) before any other request. */
  sasl?: SaslSettings;
}

export async function startCentralEddy(opts: CentralEddyOptions = {}): Promise<CentralEddy> {
  const metadata = await openMetadataStore({ path: ":memory:" });
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata,
    logger: silentLogger,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: true },
  });
  const listen = (port: number): Promise<KafkaListener> =>
    startKafkaListener({
      broker,
      host: "127.0.0.1",
      port,
      advertisedHost: "127.0.0.1",
      ...(opts.advertisedPort === undefined ? {} : { advertisedPort: opts.advertisedPort }),
      logger: silentLogger,
      clock: systemClock,
      sasl: opts.sasl ?? null,
      tls: opts.tls ?? null,
      brokerConfigs: { "broker.id": "1", "num.partitions": "1" },
    });
  let listener: KafkaListener | null = await listen(0);
  const port = listener.port;
  return {
    broker,
    bootstrap: `127.0.0.1:${port}`,
    port,
    async stopListener() {
      await listener?.close();
      listener = null;
    },
    async startListener() {
      if (listener !== null) return;
      // The port was just released; retry briefly if the OS has not let go of it yet.
      for (let attempt = 0; ; attempt++) {
        try {
          listener = await listen(port);
          return;
        } catch (err) {
          if (attempt >= 50) throw err;
          await Bun.sleep(20);
        }
      }
    },
    async records(topic, partition, opts = {}) {
      const out: StoredRecord[] = [];
      let state: ReturnType<Broker["partitionState"]>;
      try {
        state = broker.partitionState(topic, partition);
      } catch {
        return out;
      }
      let offset = state.logStartOffset;
      while (offset < state.highWatermark) {
        const page = await broker.readRecords({
          topic,
          partition,
          offset,
          maxRecords: 100_000,
          isolation: opts.uncommitted ? "read_uncommitted" : "read_committed",
        });
        out.push(...page.records);
        if (page.nextOffset <= offset) break;
        offset = page.nextOffset;
      }
      return out;
    },
    async close() {
      await listener?.close();
      listener = null;
      await broker.close();
    },
  };
}

const dec = new TextDecoder();

/** Record values as strings (null → "<null>"). */
export function valuesOf(records: readonly StoredRecord[]): string[] {
  return records.map((r) => (r.value === null ? "<null>" : dec.decode(r.value)));
}

/** One header's value as a string, or undefined / null. */
export function header(record: StoredRecord, key: string): string | null | undefined {
  const h = record.headers.find((x) => x.key === key);
  if (h === undefined) return undefined;
  return h.value === null ? null : dec.decode(h.value);
}
