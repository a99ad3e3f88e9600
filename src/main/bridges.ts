/**
 * The composition root's bridge wiring (part of src/main.ts, split out for
 * size): MQTT (TCP, TLS, WebSocket at /mqtt), CoAP and the mirror, their
 * config checks, operator views for the HTTP API, metrics and health checks.
 */
import fs from "node:fs";
import type { BrokerApi } from "../broker/index.ts";
import { ConfigError } from "../config/errors.ts";
import { formatHostPort, parseHostPort } from "../config/listen.ts";
import { mqttAuthenticator, mqttScramCredentials } from "../config/mqtt-auth.ts";
import type { EddyConfig } from "../config/schema.ts";
import { isEddyError } from "../errors.ts";
import type { HealthCheck } from "../http/routes/health.ts";
import type { CoapAdmin } from "../http/routes/coap.ts";
import type { MirrorAdmin } from "../http/routes/mirror.ts";
import type { MqttAdmin } from "../http/routes/mqtt.ts";
import type { WebSocketHook } from "../http/server.ts";
import { attachMirrorMetrics, attachMqttMetrics } from "../observability/bridge-metrics.ts";
import type { Logger } from "../observability/logger.ts";
import type { MetricsRegistry } from "../observability/metrics.ts";
import { createMirrorHealth } from "../observability/mirror-health.ts";
import type { Clock } from "../util/clock.ts";
import type { CredentialStore } from "../util/credentials.ts";
import {
  compileAcl,
  compileMapping,
  disconnectClient,
  explain,
  listClients,
  listSessions,
  type MqttAuth,
  type MqttListener,
  type MqttMappingConfig,
  mqttWebSocketUpgrade,
  startMqttListener,
} from "../../bridges/mqtt/index.ts";
import { type CoapListener, startCoapListener } from "../../bridges/coap/index.ts";
import {
  attachMirrorDownlinkMetrics,
  type Mirror,
  mirrorLinksSchema,
  startMirror,
} from "../../bridges/mirror/index.ts";

/**
 * Bridge settings the schema cannot check alone: [[mirror.links]] against the
 * mirror's own schema, MQTT mapping rules against the MQTT bridge. Throws a
 * ConfigError (exit 2) naming each key path, like every other config error.
 */
export function checkBridgeConfig(config: EddyConfig): void {
  const issues: string[] = [];
  const links = mirrorLinksSchema.safeParse(config.mirror.links);
  if (!links.success) {
    for (const issue of links.error.issues) {
      issues.push(`${["mirror", "links", ...issue.path.map(String)].join(".")}: ${issue.message}`);
    }
  }
  try {
    compileMapping(mqttMapping(config));
  } catch (err) {
    issues.push(
      `mqtt.rules / mqtt.reverse / mqtt.default_topic: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

export function mqttMapping(config: EddyConfig): MqttMappingConfig {
  const m = config.mqtt;
  return {
    rules: m.rules.map((r) => ({
      filter: r.filter,
      topic: r.topic,
      ...(r.key !== undefined ? { key: r.key } : {}),
    })),
    reverse: m.reverse.map((r) => ({ topic: r.topic, mqttTopic: r.mqtt_topic, qos: r.qos })),
    defaultTopic: m.default_topic === "" ? null : m.default_topic,
  };
}

export interface Bridges {
  /** Bound addresses for the banner and listeners.json (mqtt, mqtt_tls, coap). */
  listeners: Record<string, string>;
  /** createHttpApp options: operator views and the mirror's health check. */
  http: {
    mqtt?: MqttAdmin;
    coap?: CoapAdmin;
    mirror: MirrorAdmin;
    healthChecks: Record<string, HealthCheck>;
  };
  /** MQTT over WebSocket on the HTTP listener, when MQTT runs. */
  websocket?: WebSocketHook;
  /** Idempotent: MQTT (saves sessions), CoAP, the mirror — all before the broker closes. */
  close(): Promise<void>;
}

export async function startBridges(d: {
  config: EddyConfig;
  broker: BrokerApi;
  logger: Logger;
  clock: Clock;
  registry: MetricsRegistry;
  credentials: CredentialStore;
}): Promise<Bridges> {
  const { config, broker, logger, clock, registry, credentials } = d;
  const steps: Array<() => Promise<void> | void> = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const step of steps.splice(0).reverse()) {
        try {
          await step();
        } catch (err) {
          logger.error("bridge shutdown step failed", {
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }
    })();
    return closing;
  };
  const out: Bridges = { listeners: {}, http: { mirror: { links: () => [] }, healthChecks: {} }, close };
  try {
    if (config.listeners.mqtt) {
      const mqtt = await startMqtt(config, broker, logger, clock, credentials);
      steps.push(() => mqtt.close());
      const bridge = mqtt.bridge;
      steps.push(
        attachMqttMetrics(registry, () => ({
          connections: bridge.connections.size,
          sessions: bridge.sessions.size,
          retained: bridge.retained.size,
          ...windowSizes(bridge),
          ...bridge.stats,
        })),
      );
      out.listeners.mqtt = formatHostPort({ host: mqtt.host, port: mqtt.port });
      if (mqtt.tlsPort !== null) {
        const tlsHost = parseHostPort(config.mqtt.tls_listen!)!.host;
        out.listeners.mqtt_tls = formatHostPort({ host: tlsHost, port: mqtt.tlsPort });
      }
      out.http.mqtt = {
        clients: () => listClients(bridge),
        sessions: () => listSessions(bridge),
        disconnect: (clientId) => disconnectClient(bridge, clientId),
        explain: (topic) => explain(bridge, topic),
      };
      out.websocket = {
        path: "/mqtt",
        upgrade: (req) => mqttWebSocketUpgrade(req),
        handlers: mqtt.websocket as unknown as WebSocketHook["handlers"],
      };
    }
    if (config.listeners.coap) {
      const coap = await startCoap(config, broker, logger, clock, registry);
      steps.push(() => coap.close());
      const address = formatHostPort({ host: coap.host, port: coap.port });
      out.listeners.coap = address;
      out.http.coap = {
        observers: () => coap.observers(),
        address: () => address,
        observations: (limit) => coap.observations(limit),
      };
    }
    // Always started: links may also be added over the HTTP API (stored in __mirror_links).
    const mirror = await startMirror({
      broker,
      links: mirrorLinksSchema.parse(config.mirror.links),
      logger,
      clock,
      sourceId: config.mirror.source_id || undefined,
    });
    steps.push(() => mirror.close());
    steps.push(attachMirrorMetrics(registry, () => mirror.status()));
    steps.push(attachMirrorDownlinkMetrics(registry, () => mirror.status()));
    out.http.mirror = mirrorAdmin(mirror);
    out.http.healthChecks.mirror = mirrorHealthCheck(mirror, clock, steps);
    return out;
  } catch (err) {
    await close();
    throw err;
  }
}

/** The HTTP API's view of the mirror bridge: status, and links added or removed at runtime. */
function mirrorAdmin(mirror: Mirror): MirrorAdmin {
  return {
    links: () => mirror.status(),
    putLink: async (name, body) => {
      const r = await mirror.addLink(name, body);
      return { created: r.created, link: r.status ?? null };
    },
    deleteLink: (name) => mirror.removeLink(name),
  };
}

/** /health's "mirror" check: down links and links whose lag keeps rising; lag sampled every 5 s. */
function mirrorHealthCheck(
  mirror: Mirror,
  clock: Clock,
  steps: Array<() => Promise<void> | void>,
): HealthCheck {
  const health = createMirrorHealth({ clock, read: () => mirror.status() });
  const timer = setInterval(() => health.sample(), 5000);
  timer.unref();
  steps.push(() => clearInterval(timer));
  return () => health.check();
}

async function startMqtt(
  config: EddyConfig,
  broker: BrokerApi,
  logger: Logger,
  clock: Clock,
  credentials: CredentialStore,
): Promise<MqttListener> {
  const hp = parseHostPort(config.listeners.mqtt!)!;
  const m = config.mqtt;
  let tls: { cert: string; key: string; host: string; port: number } | undefined;
  if (m.tls_cert_file && m.tls_listen) {
    const tlsHp = parseHostPort(m.tls_listen)!;
    tls = {
      cert: readPem(m.tls_cert_file, "mqtt.tls_cert_file"),
      key: readPem(m.tls_key_file, "mqtt.tls_key_file"),
      host: tlsHp.host,
      port: tlsHp.port,
    };
  }
  try {
    return await startMqttListener({
      broker,
      host: hp.host,
      port: hp.port,
      logger,
      clock,
      mapping: mqttMapping(config),
      auth: mqttAuth(config, credentials, logger),
      maxPacketSize: m.max_packet_bytes,
      maxConnections: m.max_connections,
      ...(m.max_session_expiry_ms >= 0
        ? { maxSessionExpiry: Math.floor(m.max_session_expiry_ms / 1000) }
        : {}),
      ...(m.keep_alive_override_ms >= 0
        ? { serverKeepAlive: Math.min(65_535, Math.ceil(m.keep_alive_override_ms / 1000)) }
        : {}),
      tls,
      ...(m.redirect !== ""
        ? { redirect: { serverReference: m.redirect, permanent: m.redirect_permanent } }
        : {}),
    });
  } catch (err) {
    throw listenError(err, "MQTT", config.listeners.mqtt!, "--mqtt-listen (or --mqtt-tls-listen)");
  }
}

/** eddy_mqtt_inflight_messages / eddy_mqtt_queued_messages: in-flight windows and log backlog of all sessions. */
function windowSizes(bridge: MqttListener["bridge"]): { inflight: number; queued: number } {
  let inflight = 0;
  let queued = 0;
  for (const s of listSessions(bridge)) {
    inflight += s.inflight;
    queued += s.backlog;
  }
  return { inflight, queued };
}

/** MQTT auth hooks: CONNECT from [auth.users], SCRAM (stored or plain-text), ACLs from [auth.acl]. */
function mqttAuth(config: EddyConfig, credentials: CredentialStore, logger: Logger): MqttAuth {
  const acl = compileAcl(config.auth.acl);
  return {
    authenticate: mqttAuthenticator({ credentials, allowAnonymous: config.auth.allow_anonymous })
      .authenticate,
    // Offered whenever there are users, so a user without a SCRAM credential gets 0x86 and a log line.
    ...(credentials.userCount > 0
      ? { scramCredential: mqttScramCredentials(config.auth.users, { logger }) }
      : {}),
    ...(acl ? { canPublish: acl.canPublish, canSubscribe: acl.canSubscribe, canRead: acl.canRead } : {}),
  };
}

async function startCoap(
  config: EddyConfig,
  broker: BrokerApi,
  logger: Logger,
  clock: Clock,
  registry: MetricsRegistry,
): Promise<CoapListener> {
  const hp = parseHostPort(config.listeners.coap!)!;
  const c = config.coap;
  try {
    return await startCoapListener({
      broker,
      logger,
      clock,
      host: hp.host,
      port: hp.port,
      prefix: c.prefix,
      // The same topic mapping as MQTT: /ps/data/sensors/dev1/temp is MQTT topic sensors/dev1/temp.
      mapping: mqttMapping(config),
      maxBodyBytes: c.max_body_bytes,
      rateLimit:
        c.rate_limit_per_second > 0
          ? { ratePerSecond: c.rate_limit_per_second, burst: c.rate_limit_burst }
          : false,
      metrics: registry,
    });
  } catch (err) {
    throw listenError(err, "CoAP", config.listeners.coap!, "--coap-listen");
  }
}

/** A bind failure as a message that says what to do. */
function listenError(err: unknown, what: string, address: string, flag: string): Error {
  if (isEddyError(err)) return err;
  const code = (err as { code?: unknown }).code;
  const why =
    code === "EADDRINUSE" ? "the address is in use" : err instanceof Error ? err.message : String(err);
  return new Error(
    `cannot listen for ${what} on ${address}: ${why}; choose another address with ${flag} or "off"`,
    {
      cause: err,
    },
  );
}

function readPem(file: string, key: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `cannot read ${key} '${file}': ${(err as Error).message}; point it at a PEM file eddy can read`,
    );
  }
}
