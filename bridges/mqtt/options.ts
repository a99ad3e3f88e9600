/**
 * Options of the MQTT bridge (`startMqttListener`) and their defaults.
 */
import type { BrokerApi } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import type { MqttAuth } from "./auth.ts";
import type { MqttMappingConfig } from "./mapping.ts";

export interface MqttBridgeOptions {
  broker: BrokerApi;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 1883; 0 picks a free port. */
  port?: number;
  logger?: Logger;
  clock?: Clock;
  /** Topic mapping; default: every MQTT topic → stream topic `mqtt`, keyed by MQTT topic. */
  mapping?: MqttMappingConfig;
  /** Largest packet accepted, in bytes; announced as Maximum Packet Size (v5). Default 1 MiB. */
  maxPacketSize?: number;
  /** QoS 1/2 PUBLISHes a client may have unacknowledged towards us (v5 Receive Maximum). Default 100. */
  receiveMaximum?: number;
  /**
   * Upper bound on our outbound QoS 1/2 in-flight window per client. A v5 client's Receive Maximum
   * below 65535 is used as is (up to this bound); otherwise the window adapts to how fast the
   * client acknowledges (inflight-window.ts: starts at 100, grows while PUBACKs come back quickly,
   * halves when they lag), up to this bound. Default 1000.
   */
  maxInflight?: number;
  /** Topic aliases a client may use towards us (v5). Default 64. */
  topicAliasMaximum?: number;
  /** Override the client's keep-alive (seconds), announced as Server Keep Alive (v5). Default: none. */
  serverKeepAlive?: number;
  /** Cap on Session Expiry Interval (seconds). Default: no cap. */
  maxSessionExpiry?: number;
  /** How often persistent session cursors are saved while connected (ms). Default 1000. */
  sessionFlushIntervalMs?: number;
  /** A connection that has not completed CONNECT within this time is closed (ms). Default 10000. */
  connectTimeoutMs?: number;
  /** Keep-alive and expiry sweep period (ms). Default 500. */
  sweepIntervalMs?: number;
  /** Stop delivering to a client while this many bytes wait for its socket. Default 1 MiB. */
  writeHighWaterBytes?: number;
  /** QoS 0 publishes per connection stored but not yet durable before its socket stops being read. Default 1000. */
  maxInboundQos0?: number;
  /** Produce timeout for acknowledged publishes (ms). Default 30000. */
  produceTimeoutMs?: number;
  /** Partitions for stream topics the bridge creates. Default: the broker's default. */
  partitions?: number;
  /**
   * Response Information returned to v5 clients that ask for it (Request Response
   * Information = 1): this prefix + the client id, a topic base for responses. Default "response/".
   */
  responseInformationPrefix?: string;
  /** Connected clients allowed at once; more get CONNACK 0x97 (v5) / 0x03 (3.1.1). Default 10000. */
  maxConnections?: number;
  /** Authentication and ACL hooks; default: everyone may connect, publish and subscribe. */
  auth?: MqttAuth;
  /**
   * Also listen for MQTT over TLS (same bridge, same sessions): PEM certificate chain and
   * private key; port default 8883, host default `host`.
   */
  tls?: { cert: string; key: string; port?: number; host?: string };
  /**
   * Server redirection [MQTT-4.11]: refuse every CONNECT, pointing v5 clients at `serverReference`
   * (CONNACK 0x9D Server moved when `permanent`, else 0x9C Use another server); 3.1.1 gets return code 3.
   */
  redirect?: { serverReference: string; permanent?: boolean };
}

export type ResolvedOptions = Required<
  Omit<
    MqttBridgeOptions,
    | "broker"
    | "logger"
    | "clock"
    | "mapping"
    | "serverKeepAlive"
    | "maxSessionExpiry"
    | "partitions"
    | "auth"
    | "tls"
    | "redirect"
  >
> & {
  redirect: { serverReference: string; permanent: boolean } | null;
  serverKeepAlive: number | null;
  maxSessionExpiry: number | null;
  partitions: number | null;
};

export function resolveOptions(o: MqttBridgeOptions): ResolvedOptions {
  return {
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 1883,
    maxPacketSize: o.maxPacketSize ?? 1024 * 1024,
    receiveMaximum: o.receiveMaximum ?? 100,
    maxInflight: o.maxInflight ?? 1000,
    topicAliasMaximum: o.topicAliasMaximum ?? 64,
    serverKeepAlive: o.serverKeepAlive ?? null,
    maxSessionExpiry: o.maxSessionExpiry ?? null,
    sessionFlushIntervalMs: o.sessionFlushIntervalMs ?? 1000,
    sweepIntervalMs: o.sweepIntervalMs ?? 500,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    writeHighWaterBytes: o.writeHighWaterBytes ?? 1024 * 1024,
    produceTimeoutMs: o.produceTimeoutMs ?? 30_000,
    maxInboundQos0: o.maxInboundQos0 ?? 1000,
    partitions: o.partitions ?? null,
    maxConnections: o.maxConnections ?? 10_000,
    responseInformationPrefix: o.responseInformationPrefix ?? "response/",
    redirect: o.redirect
      ? { serverReference: o.redirect.serverReference, permanent: o.redirect.permanent ?? false }
      : null,
  };
}
