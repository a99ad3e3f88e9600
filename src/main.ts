/**
 * Eddy's entry point and composition root: the only file that wires the
 * storage engine, metadata, broker, listeners and bridges (MQTT, CoAP, the
 * mirror) together.
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
import { type BrokerApi, type ClusterOptions, createBroker } from "./broker/index.ts";
import { FileRaftStorage } from "./cluster/raft/file-storage.ts";
import { runCli } from "./cli/index.ts";
import { formatBanner } from "./config/banner.ts";
import { CONFIG_ERROR_EXIT_CODE, ConfigError } from "./config/errors.ts";
import { parseServeArgs, SERVE_USAGE } from "./config/flags.ts";
import { formatHostPort, parseHostPort } from "./config/listen.ts";
import { type LoadedConfig, listenerHasAuth, loadConfig } from "./config/load.ts";
import type { EddyConfig } from "./config/schema.ts";
import { isEddyError } from "./errors.ts";
import { createHttpApp } from "./http/app.ts";
import { startHttpServer } from "./http/server.ts";
import { type KafkaListener, startKafkaListener } from "./kafka/server.ts";
import { createFileLogStore } from "./log/file-store.ts";
import { openMetadataStore } from "./metadata/index.ts";
import { type PeerNetwork, startPeerNetwork } from "./replication/peers.ts";
import { createBrokerMetrics } from "./observability/broker-metrics.ts";
import { createLogger, type Logger } from "./observability/logger.ts";
import { systemClock } from "./util/clock.ts";
import { CredentialStore } from "./util/credentials.ts";
import { ScramUsers } from "./util/scram.ts";
import { acquireDirLock } from "./util/lock-file.ts";
import { VERSION } from "./version.ts";
import { checkBridgeConfig, mqttMapping, startBridges } from "./main/bridges.ts";

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
    checkBridgeConfig(loaded.config);
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
      authenticated: Object.keys(running.listeners).filter((n) => listenerHasAuth(config, n)),
      tls: [
        config.http.tls_cert_file ? "http" : "",
        config.kafka.tls_cert_file ? "kafka" : "",
        running.listeners.mqtt_tls ? "mqtt_tls" : "",
      ].filter(Boolean),
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
    // Cluster mode: Raft storage and the peer network come up before the broker and go down after it.
    const peers = config.cluster.peers.length > 0 ? await openPeers(config, dataDir, logger) : null;
    if (peers) undo.push(() => peers.close());
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
      groups: {
        initialRebalanceDelayMs: config.groups.initial_rebalance_delay_ms,
        minSessionTimeoutMs: config.groups.min_session_timeout_ms,
        maxSessionTimeoutMs: config.groups.max_session_timeout_ms,
        maxSize: config.groups.max_size,
      },
      transactions: { maxTimeoutMs: config.transactions.max_timeout_ms },
      diskFull: minFree > 0 ? diskGuard(dataDir, minFree) : undefined,
      cluster: peers ? clusterOptions(config, peers) : undefined,
    });
    // The broker now owns the log store and the metadata store: its close() closes both.
    undo.splice(-2, 2, () => broker.close());
    const detach = metrics.attach(broker);
    undo.push(() => detach());

    const listeners: Record<string, string> = {};
    if (peers) {
      peers.network.serve(broker.peerRoutes());
      listeners.peer = peers.network.url;
    }
    // Bridges first: the HTTP listener serves their WebSocket and status endpoints.
    const credentials = credentialStore(config);
    const bridges = await startBridges({
      config,
      broker,
      logger,
      clock,
      registry: metrics.registry,
      credentials,
    });
    undo.push(() => bridges.close());
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
        credentials,
        metricsRequireAuth: config.auth.metrics_require_auth,
        mapping: mqttMapping(config),
        peers: config.cluster.peers.map((p) => ({ id: p.id, url: p.url, witness: p.witness })),
        ...bridges.http,
      });
      const h = config.http;
      const tls = h.tls_cert_file ? { certFile: h.tls_cert_file, keyFile: h.tls_key_file } : null;
      const websocket = bridges.websocket;
      const server = await startHttpServer({ app, host: hp.host, port: hp.port, shutdown, tls, websocket });
      undo.push(() => server.stop());
      // Shutdown: the bridges (MQTT over WebSocket included) close before the HTTP server stops.
      undo.push(() => bridges.close());
      listeners.http = formatHostPort({ host: hp.host, port: server.port });
    }

    if (config.listeners.kafka) {
      const kafka = await startKafka(config, broker, logger, credentials);
      undo.push(() => kafka.close());
      listeners.kafka = formatHostPort({ host: kafka.host, port: kafka.port });
    }
    Object.assign(listeners, bridges.listeners);

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

interface Peers {
  raft: FileRaftStorage;
  network: PeerNetwork;
  close(): Promise<void>;
}

/** Cluster mode: Raft's storage under <data_dir>/raft and the peer listener and client. */
async function openPeers(config: EddyConfig, dataDir: string, logger: Logger): Promise<Peers> {
  const c = config.cluster;
  if (config.listeners.peer === null) {
    throw new Error("listeners.peer is off but cluster.peers is set: give the peer listener an address");
  }
  const hp = parseHostPort(config.listeners.peer ?? "127.0.0.1:9093")!;
  const raft = await FileRaftStorage.open(path.join(dataDir, "raft"));
  let network: PeerNetwork;
  try {
    network = startPeerNetwork({
      nodeId: config.node_id,
      peers: c.peers,
      host: hp.host,
      port: hp.port,
      secret: c.secret,
      tlsFiles: {
        certFile: c.tls_cert_file || undefined,
        keyFile: c.tls_key_file || undefined,
        caFile: c.tls_ca_file || undefined,
      },
      logger: logger.child({ component: "peer" }),
    });
  } catch (err) {
    await raft.close();
    throw err;
  }
  return {
    raft,
    network,
    close: async () => {
      await network.close();
      await raft.close();
    },
  };
}

function clusterOptions(config: EddyConfig, peers: Peers): ClusterOptions {
  const c = config.cluster;
  const kafka = c.peers.flatMap((p) => {
    const hp = p.kafka ? parseHostPort(p.kafka) : null;
    return hp ? [[p.id, hp] as const] : [];
  });
  return {
    voters: c.peers.map((p) => (p.witness ? { id: p.id, witness: true } : { id: p.id })),
    raftStorage: peers.raft,
    rpc: peers.network.rpc,
    electionTimeoutMs: c.election_timeout_ms,
    heartbeatIntervalMs: c.heartbeat_interval_ms,
    replicaLagTimeMaxMs: c.replica_lag_time_max_ms,
    replicaFetchMaxWaitMs: c.replica_fetch_wait_max_ms,
    preferredLeaderCheckMs: c.preferred_leader_check_ms,
    kafkaAddresses: new Map(kafka),
  };
}

/** The Kafka listener, with TLS and SASL from the config. */
async function startKafka(
  config: EddyConfig,
  broker: BrokerApi,
  logger: Logger,
  credentials: CredentialStore,
): Promise<KafkaListener> {
  const hp = parseHostPort(config.listeners.kafka!)!;
  const k = config.kafka;
  if ((k.tls_cert_file === "") !== (k.tls_key_file === "")) {
    throw new Error("kafka.tls_cert_file and kafka.tls_key_file must be set together (or neither)");
  }
  // [auth.users] sign in over SASL too: plain-text passwords with every mechanism, hashed ones with
  // PLAIN, and with SCRAM when they have a stored scram_sha_256 / scram_sha_512.
  const users = new Map([...credentials.plaintextPasswords(), ...Object.entries(k.sasl.users)]);
  const verifyPlain =
    credentials.userCount > 0 ? (u: string, p: string) => credentials.verifyPassword(u, p) : undefined;
  return startKafkaListener({
    broker,
    host: hp.host,
    port: hp.port,
    advertisedHost: k.advertised_host || undefined,
    logger: logger.child({ component: "kafka" }),
    clock: systemClock,
    tls: k.tls_cert_file ? { certFile: k.tls_cert_file, keyFile: k.tls_key_file } : null,
    sasl:
      users.size > 0 || verifyPlain
        ? { mechanisms: k.sasl.mechanisms, users, verifyPlain, scram: new ScramUsers(config.auth.users) }
        : null,
    maxFrameBytes: k.max_request_bytes,
    brokerConfigs: kafkaBrokerConfigs(config),
  });
}

/** Users and API tokens from [auth], shared by the HTTP API and the Kafka listener's SASL. */
function credentialStore(config: EddyConfig): CredentialStore {
  return new CredentialStore({ users: config.auth.users, tokens: config.auth.tokens });
}

/** Broker settings under their Kafka names, for DescribeConfigs (read-only: they come from eddy.toml). */
function kafkaBrokerConfigs(config: EddyConfig): Record<string, string> {
  const t = topicDefaults(config);
  return {
    "broker.id": String(config.node_id),
    "num.partitions": String(config.broker.num_partitions),
    "default.replication.factor": String(
      config.broker.default_replication_factor ??
        Math.min(3, Math.max(1, config.cluster.peers.filter((p) => !p.witness).length)),
    ),
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
    "group.initial.rebalance.delay.ms": String(config.groups.initial_rebalance_delay_ms),
    "group.min.session.timeout.ms": String(config.groups.min_session_timeout_ms),
    "group.max.session.timeout.ms": String(config.groups.max_session_timeout_ms),
    "group.max.size": String(config.groups.max_size),
    "transaction.max.timeout.ms": String(config.transactions.max_timeout_ms),
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
