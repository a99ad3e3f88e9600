/**
 * Eddy's configuration: ONE zod schema, the single source of truth.
 *
 * Precedence (lowest to highest): these defaults < eddy.toml < environment
 * (`EDDY_…`) < command-line flags. The loader (load.ts) flattens every source
 * into dotted key paths, maps Kafka-style keys (aliases.ts) onto them, and
 * parses the merged object with `configSchema`. `config/eddy.toml` documents
 * every key with its default; a test checks that it matches `defaultConfig()`.
 *
 * Values that name a size (`*_bytes`) accept plain numbers or "64MiB"/"1GB";
 * values that name a duration (`*_ms`) accept plain numbers or "500ms"/"30s"/"7d".
 */
import { z } from "zod";
import { authAcl, authTokens, authUsers } from "./auth-schema.ts";
import { parseHostPort } from "./listen.ts";

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};
const MS_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Turn "42", "64MiB", "7d" (per unit table) into a number; anything else passes through for zod to reject. */
function toNumber(units: Record<string, number> | null) {
  return (value: unknown): unknown => {
    if (typeof value === "bigint") return Number(value);
    if (typeof value !== "string") return value;
    const s = value.trim().replace(/_/g, "");
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
    const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$/.exec(s);
    const factor = m && units ? units[m[2]!.toLowerCase()] : undefined;
    return m && factor !== undefined ? Math.round(Number(m[1]) * factor) : value;
  };
}

const int = (min: number, units: Record<string, number> | null = null) =>
  z.preprocess(
    toNumber(units),
    z
      .number({ error: "expected a number" })
      .int({ error: "expected a whole number" })
      .min(min, { error: `expected a number >= ${min}` })
      .max(Number.MAX_SAFE_INTEGER, { error: "number too large" }),
  );
const bytes = (min: number) => int(min, BYTE_UNITS);
const millis = (min: number) => int(min, MS_UNITS);

const bool = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const s = v.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(s)) return true;
    if (["false", "0", "no", "off"].includes(s)) return false;
    return v;
  },
  z.boolean({ error: "expected true or false" }),
);

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess(
    (v) => (typeof v === "string" ? v.trim() : v),
    z.enum(values, { error: `expected one of ${values.map((v) => `"${v}"`).join(", ")}` }),
  );

/** "host:port" (IPv6 as "[::1]:8080"); "off", "disabled", "none" or "" disable the listener. */
const listener = z.preprocess(
  (v) =>
    typeof v === "string" && ["", "off", "disabled", "none"].includes(v.trim().toLowerCase()) ? null : v,
  z
    .string({ error: "expected host:port" })
    .trim()
    .refine((v) => parseHostPort(v) !== null, {
      error: "expected host:port (port 0-65535; 0 picks a free port)",
    })
    .nullable(),
);

export const SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;

/** A list or a comma-separated string of SASL mechanism names. */
const saslMechanisms = z.preprocess(
  (v) =>
    typeof v === "string"
      ? v
          .split(",")
          .map((m) => m.trim().toUpperCase())
          .filter((m) => m !== "")
      : v,
  z.array(z.enum(SASL_MECHANISMS, { error: `expected mechanisms from ${SASL_MECHANISMS.join(", ")}` })),
);

/** A table user = "password", or "user:password,user2:password2" (environment, flags). */
const saslUsers = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const out: Record<string, string> = {};
    for (const pair of v.split(",")) {
      const i = pair.indexOf(":");
      if (pair.trim() === "") continue;
      if (i <= 0) return v;
      out[pair.slice(0, i).trim()] = pair.slice(i + 1);
    }
    return out;
  },
  z.record(
    z.string().min(1, { error: "expected a user name" }),
    z.string({ error: "expected the password as a string" }),
    { error: 'expected a table of user = "password" (or "user:password,...")' },
  ),
);

/** An array of tables ([[x]] in TOML); a JSON string in the environment or --set. */
function tableList<T extends z.ZodType>(item: T) {
  return z.preprocess(
    (v) => {
      if (typeof v !== "string") return v;
      try {
        return JSON.parse(v) as unknown;
      } catch {
        return v;
      }
    },
    z.array(item, { error: "expected a list of tables ([[...]] in TOML, a JSON array elsewhere)" }),
  );
}

const mqttRule = z.strictObject({
  /** MQTT topic filter (+ and # allowed), e.g. "sensors/+/temp". */
  filter: z.string({ error: "expected an MQTT topic filter" }).min(1),
  /** Stream topic the records go to. */
  topic: z.string({ error: "expected a topic name" }).min(1),
  /** Record key template: {topic}, {1}..{n} (+ levels), {#}; "" = no key. Default "{topic}". */
  key: z.string({ error: "expected a key template" }).optional(),
});

const mqttReverseRule = z.strictObject({
  /** Stream topic whose records reach MQTT subscribers. */
  topic: z.string({ error: "expected a topic name" }).min(1),
  /** MQTT topic template; {key} = the record key. */
  mqtt_topic: z.string({ error: "expected an MQTT topic template" }).min(1),
  qos: z
    .preprocess(
      toNumber(null),
      z.union([z.literal(0), z.literal(1), z.literal(2)], { error: "expected 0, 1 or 2" }),
    )
    .default(1),
});

export const CLEANUP_POLICIES = ["delete", "compact", "compact,delete"] as const;

const cleanupPolicy = z.preprocess(
  (v) => {
    if (typeof v !== "string" && !Array.isArray(v)) return v;
    const parts = (Array.isArray(v) ? v.map(String) : v.split(",")).map((p) => p.trim().toLowerCase());
    const set = [...new Set(parts)].sort();
    return set.join(",");
  },
  z.enum(CLEANUP_POLICIES, { error: `expected one of "delete", "compact", "compact,delete"` }),
);

export const configSchema = z.strictObject({
  /** Where partitions, metadata.db, listeners.json and the lock file live. */
  data_dir: z
    .string({ error: "expected a directory path" })
    .trim()
    .min(1, { error: "expected a directory path" })
    .default("./eddy-data"),
  /** This node's id (Kafka broker.id). */
  node_id: int(0).default(1),

  listeners: z
    .strictObject({
      http: listener.default("127.0.0.1:8080"),
      /** Kafka wire protocol (kcat, kafkajs, Java clients). */
      kafka: listener.default("127.0.0.1:9092"),
      /** MQTT 3.1.1/5.0 over TCP (mosquitto, MQTT.js, Paho); TLS: mqtt.tls_listen. */
      mqtt: listener.default("127.0.0.1:1883"),
      /** CoAP over UDP (libcoap, Californium). */
      coap: listener.default("127.0.0.1:5683"),
      /** Peer replication over HTTP/2 (Raft, replica fetch); unset = 127.0.0.1:9093 once cluster.peers is set. */
      peer: listener.optional(),
    })
    .prefault({}),

  /** Eddy's own log lines ([logging]; `log.level`/`log.format` are accepted too). */
  logging: z
    .strictObject({
      level: oneOf(["debug", "info", "warn", "error"] as const).default("info"),
      /** "auto": human-readable on a terminal, JSON lines otherwise. */
      format: oneOf(["json", "pretty", "auto"] as const).default("auto"),
    })
    .prefault({}),

  broker: z
    .strictObject({
      num_partitions: int(1).default(1),
      /**
       * Replication factor of topics created without one (auto-created
       * topics, the bridges' topics). Unset: 1 on a single node, min(3, data
       * nodes) in a cluster, so a cluster replicates without extra config.
       */
      default_replication_factor: int(1).optional(),
      auto_create_topics: bool.default(true),
      /** How often retention, compaction and disk checks run. */
      housekeeping_interval_ms: millis(10).default(30_000),
      /** fsync data of `write`-durability topics in the background this often (`fsync` topics sync before each ack)... */
      flush_interval_ms: millis(0).default(5),
      /** ...or as soon as this many bytes wait. */
      flush_bytes: bytes(0).default(1024 * 1024),
      /** Refuse produce (STORAGE_FULL) when the data dir's disk has less free space than this. */
      min_free_disk_bytes: bytes(0).default(64 * 1024 * 1024),
    })
    .prefault({}),

  topic_defaults: z
    .strictObject({
      /** -1 keeps records forever. */
      retention_ms: millis(-1).default(7 * 24 * 3600 * 1000),
      /** Per partition; -1 = unlimited. */
      retention_bytes: bytes(-1).default(-1),
      segment_bytes: bytes(1024).default(128 * 1024 * 1024),
      segment_ms: millis(1).default(7 * 24 * 3600 * 1000),
      cleanup_policy: cleanupPolicy.default("delete"),
      delete_retention_ms: millis(0).default(24 * 3600 * 1000),
      min_compaction_lag_ms: millis(0).default(0),
      max_message_bytes: bytes(1).default(1024 * 1024 + 12),
      message_timestamp_type: oneOf(["CreateTime", "LogAppendTime"] as const).default("CreateTime"),
      /** fsync: ack after fdatasync (group commit); write: after write(2); memory: at once. */
      durability: oneOf(["fsync", "write", "memory"] as const).default("fsync"),
      min_insync_replicas: int(1).default(1),
    })
    .prefault({}),

  /** The consumer-group coordinator (Kafka group.* broker keys). */
  groups: z
    .strictObject({
      /** Wait this long for more members before an empty group's first generation (group.initial.rebalance.delay.ms). */
      initial_rebalance_delay_ms: millis(0).default(3000),
      /** Session timeouts clients may ask for (group.min/max.session.timeout.ms). */
      min_session_timeout_ms: millis(1).default(6000),
      max_session_timeout_ms: millis(1).default(1_800_000),
      /** Members a group may have (group.max.size). */
      max_size: int(1).default(2_147_483_647),
    })
    .prefault({}),

  /** The transaction coordinator (Kafka transaction.* broker keys). */
  transactions: z
    .strictObject({
      /** Largest transaction timeout a producer may ask for (transaction.max.timeout.ms). */
      max_timeout_ms: millis(1).default(900_000),
    })
    .prefault({}),

  kafka: z
    .strictObject({
      /** Host that Metadata tells clients to connect to; "" = the listen host (this machine's name for 0.0.0.0). */
      advertised_host: z.string({ error: "expected a host name" }).trim().default(""),
      /** Largest request frame accepted (Kafka: socket.request.max.bytes). 100 MiB. */
      max_request_bytes: bytes(1024).default(104_857_600),
      /** PEM certificate and key: both set = the Kafka listener speaks TLS. */
      tls_cert_file: z.string({ error: "expected a file path" }).trim().default(""),
      tls_key_file: z.string({ error: "expected a file path" }).trim().default(""),
      sasl: z
        .strictObject({
          /** Offered mechanisms (when users are configured). */
          mechanisms: saslMechanisms.default(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]),
          /** user = "password"; any user makes SASL mandatory on the Kafka listener. */
          users: saslUsers.default({}),
        })
        .prefault({}),
    })
    .prefault({}),

  http: z
    .strictObject({
      max_body_bytes: bytes(1024).default(8 * 1024 * 1024),
      /** PEM certificate and key: both set = the HTTP listener (API, console, /metrics) speaks HTTPS. */
      tls_cert_file: z.string({ error: "expected a file path" }).trim().default(""),
      tls_key_file: z.string({ error: "expected a file path" }).trim().default(""),
    })
    .prefault({}),

  mqtt: z
    .strictObject({
      /** MQTT over TLS, served only when tls_cert_file and tls_key_file are set. */
      tls_listen: listener.default("127.0.0.1:8883"),
      /** PEM certificate chain and private key: both set = MQTT over TLS on tls_listen. */
      tls_cert_file: z.string({ error: "expected a file path" }).trim().default(""),
      tls_key_file: z.string({ error: "expected a file path" }).trim().default(""),
      /** Largest MQTT packet accepted (v5 Maximum Packet Size). */
      max_packet_bytes: bytes(64).default(1024 * 1024),
      /** Cap on a client's Session Expiry Interval; -1 = no cap. */
      max_session_expiry_ms: millis(-1).default(-1),
      /** Impose this keep-alive on every client (v5 Server Keep Alive); -1 = the client's own. */
      keep_alive_override_ms: millis(-1).default(-1),
      /** Connected clients allowed at once. */
      max_connections: int(1).default(10_000),
      /**
       * Topic mapping, shared by MQTT and CoAP (coap://host/ps/data/a/b is MQTT topic a/b).
       * Stream topic for MQTT topics no rule matches (key = the MQTT topic); "" refuses them.
       */
      default_topic: z.string({ error: "expected a topic name" }).trim().default("mqtt"),
      /** Forward rules, first match wins: MQTT filter → stream topic + key template. */
      rules: tableList(mqttRule).default([]),
      /** Reverse rules: records of a stream topic → MQTT topic template (for devices). */
      reverse: tableList(mqttReverseRule).default([]),
      /** Server redirection: answer every CONNECT with this Server Reference (v5 0x9C); "" = off. */
      redirect: z
        .string({ error: 'expected a server reference such as "mqtt.example.com:1883"' })
        .trim()
        .default(""),
      /** With redirect: 0x9D Server moved (permanent) instead of 0x9C Use another server. */
      redirect_permanent: bool.default(false),
    })
    .prefault({}),

  coap: z
    .strictObject({
      /** Path of the pub/sub topic collection: coap://host/ps/<topic>. */
      prefix: z
        .string({ error: "expected a path segment" })
        .trim()
        .regex(/^[A-Za-z0-9._~-]+$/, { error: 'expected one path segment such as "ps"' })
        .default("ps"),
      /** Largest request body (block-wise included); 4.13 above. */
      max_body_bytes: bytes(16).default(64 * 1024),
      /** Requests per second per source address; 0 = no limit. */
      rate_limit_per_second: int(0).default(1000),
      /** Burst allowed above the rate. */
      rate_limit_burst: int(1).default(2000),
    })
    .prefault({}),

  mirror: z
    .strictObject({
      /**
       * [[mirror.links]] tables. Their keys belong to the mirror bridge's schema
       * (bridges/mirror/config.ts); src/main.ts validates them with it and reports
       * errors under mirror.links.<n>.<key>. Here: only "a list of tables".
       */
      links: tableList(z.record(z.string(), z.unknown())).default([]),
      /** `{source.id}` in remote topic names and record headers; "" = the cluster id. */
      source_id: z.string({ error: "expected a name" }).trim().default(""),
    })
    .prefault({}),

  /**
   * A cluster of 2-5 nodes (src/cluster): metadata agreed by Raft, partitions
   * replicated with leaders, followers and ISR. No peers = a single node.
   */
  cluster: z
    .strictObject({
      /**
       * Every node, this one included: [[cluster.peers]] id = <its node_id>,
       * url = "https://host:9093" (its peer listener; http:// only on loopback),
       * witness = true for a Raft voter that holds no partitions,
       * kafka = "host:port" where Kafka clients reach it.
       */
      peers: tableList(
        z.strictObject({
          id: int(0),
          url: z.string({ error: "expected the peer listener's URL" }).trim().min(1),
          witness: bool.default(false),
          kafka: z.string().trim().default(""),
        }),
      ).default([]),
      /** Shared secret every peer presents (and checks); or mutual TLS with tls_ca_file. */
      secret: z.string().default(""),
      /** PEM certificate and key of this node's peer listener (TLS; required off loopback). */
      tls_cert_file: z.string().trim().default(""),
      tls_key_file: z.string().trim().default(""),
      /** CA that signs the peers' certificates: with it, peers must present one (mutual TLS). */
      tls_ca_file: z.string().trim().default(""),
      /** Raft election timeout; a dead node's partitions move after about this long. */
      election_timeout_ms: millis(50).default(1000),
      heartbeat_interval_ms: millis(10).default(100),
      /** A follower not caught up for this long leaves the ISR (Kafka replica.lag.time.max.ms). */
      replica_lag_time_max_ms: millis(100).default(30_000),
      /** How long a follower's fetch waits at the leader for new records (Kafka replica.fetch.wait.max.ms). */
      replica_fetch_wait_max_ms: millis(10).default(500),
      /** Hand leadership back to preferred replicas this often; 0 = never (Kafka leader.imbalance.check.interval). */
      preferred_leader_check_ms: millis(0).default(300_000),
    })
    .prefault({}),

  auth: z
    .strictObject({
      /** Allow listeners on non-loopback addresses without credentials. */
      allow_anonymous: bool.default(false),
      /** Users (HTTP Basic auth, Kafka SASL): any user or token makes the HTTP API require credentials. */
      users: authUsers.default({}),
      /** Named API tokens (HTTP Bearer auth), stored as "sha256:<hex>". */
      tokens: authTokens.default({}),
      /** MQTT ACLs per user / anonymous / pattern (auth-schema.ts); none = everything allowed. */
      acl: authAcl.prefault({}),
      /** Whether /metrics needs credentials too when auth is on (false: Prometheus scrapes without). */
      metrics_require_auth: bool.default(true),
    })
    .prefault({}),
});

export type EddyConfig = z.infer<typeof configSchema>;
export type ListenerName = keyof EddyConfig["listeners"];
export const LISTENER_NAMES = [
  "http",
  "kafka",
  "mqtt",
  "coap",
  "peer",
] as const satisfies readonly ListenerName[];
/** Listeners that this version actually serves; the others are reserved for later. */
export const IMPLEMENTED_LISTENERS: readonly ListenerName[] = ["http", "kafka", "mqtt", "coap", "peer"];

export function defaultConfig(): EddyConfig {
  return configSchema.parse({});
}

/**
 * Every leaf key path of the schema ("broker.num_partitions", ...), found by
 * walking the zod shapes, so aliases and env names derive from the schema.
 */
export function schemaKeyPaths(): string[] {
  const out: string[] = [];
  const walk = (shape: Record<string, z.ZodType>, prefix: string): void => {
    for (const [key, type] of Object.entries(shape)) {
      const inner = unwrapObject(type);
      if (inner) walk(inner, `${prefix}${key}.`);
      else out.push(`${prefix}${key}`);
    }
  };
  walk(configSchema.shape as unknown as Record<string, z.ZodType>, "");
  return out;
}

function unwrapObject(type: z.ZodType): Record<string, z.ZodType> | null {
  let t: z.ZodType = type;
  for (let i = 0; i < 5; i++) {
    if (t instanceof z.ZodObject) return t.shape as Record<string, z.ZodType>;
    const def = (t as unknown as { def?: { innerType?: z.ZodType } }).def;
    if (!def?.innerType) return null;
    t = def.innerType;
  }
  return null;
}
