/**
 * Eddy's entry point and composition root: the only file that wires the
 * storage engine, metadata, broker, listeners (and later bridges) together.
 *
 *   eddy                      serve with the embedded defaults
 *   eddy serve [options]      serve (see `eddy serve --help`)
 *   eddy --version | version  print the version
 *   eddy --help | help        usage
 *   eddy <command> ...        client commands (topics, produce, consume, ...) → src/cli
 *
 * Start-up contract: port 0 picks a free port; the real addresses are printed
 * in the banner and written to <data-dir>/listeners.json. SIGTERM/SIGINT shut
 * down gracefully (stop accepting, flush + fsync + close the broker) and exit 0;
 * a second signal forces exit. Exit code 2: bad configuration.
 */
import fs from "node:fs";
import path from "node:path";
import { type BrokerApi, createBroker } from "./broker/index.ts";
import { runCli } from "./cli/index.ts";
import { formatBanner } from "./config/banner.ts";
import { CONFIG_ERROR_EXIT_CODE, ConfigError } from "./config/errors.ts";
import { parseServeArgs, SERVE_USAGE } from "./config/flags.ts";
import { formatHostPort, parseHostPort } from "./config/listen.ts";
import { type LoadedConfig, loadConfig } from "./config/load.ts";
import type { EddyConfig } from "./config/schema.ts";
import { isEddyError } from "./errors.ts";
import { createHttpApp } from "./http/app.ts";
import { startHttpServer } from "./http/server.ts";
import { type KafkaListener, startKafkaListener } from "./kafka/server.ts";
import { createFileLogStore } from "./log/file-store.ts";
import { openMetadataStore } from "./metadata/index.ts";
import { createBrokerMetrics } from "./observability/broker-metrics.ts";
import { createLogger, type Logger } from "./observability/logger.ts";
import { systemClock } from "./util/clock.ts";
import { acquireDirLock } from "./util/lock-file.ts";
import { VERSION } from "./version.ts";

export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-V" || first === "version") {
    process.stdout.write(`eddy ${VERSION}\n`);
    return 0;
  }
  // Top-level help lists every command; the CLI owns that text.
  if (first === "--help" || first === "-h") return runCli(["--help"]);
  if (first === undefined || first.startsWith("-")) return serve(argv);
  if (first === "serve") return serve(rest);
  return runCli([...argv]);
}

async function serve(argv: readonly string[]): Promise<number> {
  const startedAt = performance.now();
  let loaded: LoadedConfig;
  try {
    const args = parseServeArgs(argv);
    if (args.help) {
      process.stdout.write(SERVE_USAGE);
      return 0;
    }
    loaded = loadConfig({ configFile: args.configFile, env: process.env, flags: args.settings });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`eddy: ${err.message}\n`);
      return CONFIG_ERROR_EXIT_CODE;
    }
    throw err;
  }
  const { config } = loaded;
  const logger = createLogger({
    level: config.logging.level,
    format:
      config.logging.format === "auto" ? (process.stderr.isTTY ? "pretty" : "json") : config.logging.format,
  });
  for (const warning of loaded.warnings) logger.warn(warning);

  let running: Running;
  try {
    running = await start(config, logger);
  } catch (err) {
    const msg = isEddyError(err) ? err.message : err instanceof Error ? err.message : String(err);
    logger.error("start-up failed", { error: msg });
    process.stderr.write(`eddy: cannot start: ${msg}\n`);
    return 1;
  }
  process.stdout.write(
    formatBanner({
      version: VERSION,
      dataDir: running.dataDir,
      configFile: loaded.configFile,
      nodeId: config.node_id,
      listeners: running.listeners,
      startupMs: performance.now() - startedAt,
    }),
  );
  return waitForShutdown(running, logger);
}

interface Running {
  dataDir: string;
  listeners: Record<string, string>;
  /** Stop listeners, close the broker (flush, fsync), release the lock. */
  close(): Promise<void>;
}

/** Build everything; on failure, undo what was built and rethrow. */
async function start(config: EddyConfig, logger: Logger): Promise<Running> {
  const dataDir = path.resolve(config.data_dir);
  const undo: Array<() => Promise<void> | void> = [];
  const unwind = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        logger.error("shutdown step failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    const lock = acquireDirLock(path.join(dataDir, "eddy.lock"), `the data directory ${dataDir}`);
    undo.push(() => lock.release());

    const clock = systemClock;
    const metrics = createBrokerMetrics();
    const metadata = openMetadataStore({ path: path.join(dataDir, "metadata.db") });
    undo.push(() => metadata.close());
    const logStore = await createFileLogStore({
      dataDir,
      clock,
      logger: logger.child({ component: "log" }),
      observer: metrics.logObserver,
      flushIntervalMs: config.broker.flush_interval_ms,
      flushBytes: config.broker.flush_bytes,
    });
    undo.push(() => logStore.close());
    const minFree = config.broker.min_free_disk_bytes;
    const broker = await createBroker({
      logStore,
      metadata,
      clock,
      logger: logger.child({ component: "broker" }),
      nodeId: config.node_id,
      housekeepingIntervalMs: config.broker.housekeeping_interval_ms,
      defaults: {
        numPartitions: config.broker.num_partitions,
        replicationFactor: config.broker.default_replication_factor,
        autoCreateTopics: config.broker.auto_create_topics,
        topicConfigs: topicDefaults(config),
      },
      diskFull: minFree > 0 ? diskGuard(dataDir, minFree) : undefined,
    });
    // The broker now owns the log store and the metadata store: its close() closes both.
    undo.splice(-2, 2, () => broker.close());
    const detach = metrics.attach(broker);
    undo.push(() => detach());

    const listeners: Record<string, string> = {};
    if (config.listeners.http) {
      const hp = parseHostPort(config.listeners.http)!;
      const shutdown = new AbortController();
      const app = createHttpApp({
        broker,
        metrics,
        logger: logger.child({ component: "http" }),
        clock,
        maxBodyBytes: config.http.max_body_bytes,
        shutdownSignal: shutdown.signal,
        version: VERSION,
        dataDir: config.data_dir,
      });
      const server = await startHttpServer({ app, host: hp.host, port: hp.port, shutdown });
      undo.push(() => server.stop());
      listeners.http = formatHostPort({ host: hp.host, port: server.port });
    }

    if (config.listeners.kafka) {
      const kafka = await startKafka(config, broker, logger);
      undo.push(() => kafka.close());
      listeners.kafka = formatHostPort({ host: kafka.host, port: kafka.port });
    }

    const listenersFile = path.join(dataDir, "listeners.json");
    writeFileAtomic(listenersFile, `${JSON.stringify(listeners, null, 2)}\n`);
    undo.push(() => fs.rmSync(listenersFile, { force: true }));
    logger.info("eddy started", { version: VERSION, dataDir, listeners });
    return { dataDir, listeners, close: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** The Kafka listener, with TLS and SASL from the config. */
async function startKafka(config: EddyConfig, broker: BrokerApi, logger: Logger): Promise<KafkaListener> {
  const hp = parseHostPort(config.listeners.kafka!)!;
  const k = config.kafka;
  if ((k.tls_cert_file === "") !== (k.tls_key_file === "")) {
    throw new Error("kafka.tls_cert_file and kafka.tls_key_file must be set together (or neither)");
  }
  const users = new Map(Object.entries(k.sasl.users));
  return startKafkaListener({
    broker,
    host: hp.host,
    port: hp.port,
    advertisedHost: k.advertised_host || undefined,
    logger: logger.child({ component: "kafka" }),
    clock: systemClock,
    tls: k.tls_cert_file ? { certFile: k.tls_cert_file, keyFile: k.tls_key_file } : null,
    sasl: users.size > 0 ? { mechanisms: k.sasl.mechanisms, users } : null,
    maxFrameBytes: k.max_request_bytes,
    brokerConfigs: kafkaBrokerConfigs(config),
  });
}

/** Broker settings under their Kafka names, for DescribeConfigs (read-only: they come from eddy.toml). */
function kafkaBrokerConfigs(config: EddyConfig): Record<string, string> {
  const t = topicDefaults(config);
  return {
    "broker.id": String(config.node_id),
    "num.partitions": String(config.broker.num_partitions),
    "default.replication.factor": String(config.broker.default_replication_factor),
    "auto.create.topics.enable": String(config.broker.auto_create_topics),
    "log.retention.ms": String(t["retention.ms"]),
    "log.retention.bytes": String(t["retention.bytes"]),
    "log.segment.bytes": String(t["segment.bytes"]),
    "log.roll.ms": String(t["segment.ms"]),
    "log.cleanup.policy": String(t["cleanup.policy"]),
    "log.cleaner.delete.retention.ms": String(t["delete.retention.ms"]),
    "log.cleaner.min.compaction.lag.ms": String(t["min.compaction.lag.ms"]),
    "message.max.bytes": String(t["max.message.bytes"]),
    "log.message.timestamp.type": String(t["message.timestamp.type"]),
    "min.insync.replicas": String(t["min.insync.replicas"]),
    "socket.request.max.bytes": String(config.kafka.max_request_bytes),
  };
}

/** Broker-wide topic defaults from the config, as Kafka-style topic config keys. */
function topicDefaults(config: EddyConfig): Record<string, string | number> {
  const t = config.topic_defaults;
  return {
    "retention.ms": t.retention_ms,
    "retention.bytes": t.retention_bytes,
    "segment.bytes": t.segment_bytes,
    "segment.ms": t.segment_ms,
    "cleanup.policy": t.cleanup_policy,
    "delete.retention.ms": t.delete_retention_ms,
    "min.compaction.lag.ms": t.min_compaction_lag_ms,
    "max.message.bytes": t.max_message_bytes,
    "message.timestamp.type": t.message_timestamp_type,
    durability: t.durability,
    "min.insync.replicas": t.min_insync_replicas,
  };
}

/** True when the data directory's file system has less than `minFree` bytes available (checked at most every 1 s). */
function diskGuard(dataDir: string, minFree: number): () => boolean {
  let checkedAt = -Infinity;
  let full = false;
  return () => {
    const now = performance.now();
    if (now - checkedAt < 1000) return full;
    checkedAt = now;
    try {
      const s = fs.statfsSync(dataDir);
      full = s.bavail * s.bsize < minFree;
    } catch {
      full = false;
    }
    return full;
  };
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Resolve with exit code 0 after a graceful shutdown on SIGTERM/SIGINT; a second signal forces exit 1. */
function waitForShutdown(running: Running, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`eddy: ${signal} again: exiting now without a clean shutdown\n`);
        process.exit(1);
      }
      stopping = true;
      logger.info("shutting down", { signal });
      running.close().then(
        () => {
          logger.info("eddy stopped");
          resolve(0);
        },
        (err: unknown) => {
          logger.error("shutdown failed", { error: err instanceof Error ? err.message : String(err) });
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Let pending stdout/stderr writes drain; then exit even if a handle is still open.
      process.exitCode = code;
      setTimeout(() => process.exit(code), 500).unref();
    },
    (err: unknown) => {
      process.stderr.write(`eddy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
