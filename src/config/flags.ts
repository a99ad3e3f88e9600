/**
 * Command-line flags of `eddy serve`. Each flag becomes a setting on a schema
 * key (the highest-precedence layer); `--set KEY=VALUE` reaches any key,
 * Kafka-style ones included.
 */
import { ConfigError } from "./errors.ts";
import { LISTENER_NAMES } from "./schema.ts";

export interface Setting {
  key: string;
  value: unknown;
  /** Where it came from, for messages: "--http-listen", "EDDY_LOG_LEVEL", "eddy.toml". */
  source: string;
}

export interface ServeArgs {
  configFile: string | null;
  settings: Setting[];
  help: boolean;
}

/** Flags that take a value, and the schema key each one sets. */
const VALUE_FLAGS: Record<string, string> = {
  "data-dir": "data_dir",
  "node-id": "node_id",
  "log-level": "logging.level",
  "log-format": "logging.format",
  ...Object.fromEntries(LISTENER_NAMES.map((name) => [`${name}-listen`, `listeners.${name}`])),
  "mqtt-tls-listen": "mqtt.tls_listen",
};

export const SERVE_USAGE = `Usage: eddy serve [options]

Runs the broker. Every option can also be set in the config file or as EDDY_… environment
(precedence: defaults < config file < environment < options).

Options:
  -c, --config FILE          read settings from a TOML file (see config/eddy.toml)
      --data-dir DIR         where data lives (default ./eddy-data)
      --http-listen HOST:PORT  HTTP API, /metrics (default 127.0.0.1:8080; port 0 picks a free port)
      --kafka-listen HOST:PORT Kafka protocol (default 127.0.0.1:9092; "off" disables it)
      --mqtt-listen HOST:PORT  MQTT over TCP (default 127.0.0.1:1883; "off" disables it);
                             MQTT over WebSocket is served at /mqtt on the HTTP listener
      --mqtt-tls-listen HOST:PORT
                             MQTT over TLS (default 127.0.0.1:8883; only with
                             mqtt.tls_cert_file and mqtt.tls_key_file)
      --coap-listen HOST:PORT  CoAP over UDP (default 127.0.0.1:5683; "off" disables it)
      --peer-listen HOST:PORT  peer replication over HTTP/2 (default 127.0.0.1:9093 when
                             cluster.peers is set; off otherwise)
      --node-id N            this node's id (default 1)
      --log-level LEVEL      debug | info | warn | error
      --log-format FORMAT    json | pretty | auto
      --allow-anonymous      allow non-loopback listeners without authentication
      --set KEY=VALUE        set any config key, e.g. --set log.retention.ms=3600000
  -h, --help                 show this help
`;

export function parseServeArgs(argv: readonly string[]): ServeArgs {
  const out: ServeArgs = { configFile: null, settings: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") {
      out.help = true;
      continue;
    }
    if (arg === "--allow-anonymous") {
      out.settings.push({ key: "auth.allow_anonymous", value: true, source: arg });
      continue;
    }
    const m = /^(?:--([a-z][a-z0-9-]*)|(-c))(?:=(.*))?$/s.exec(arg);
    const name = m ? (m[1] ?? "config") : null;
    if (!m || !name || !(name === "config" || name === "set" || name in VALUE_FLAGS)) {
      throw new ConfigError([`unknown option '${arg}'; run 'eddy serve --help' for the list`]);
    }
    let value = m[3];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError([`option '${arg}' needs a value`]);
      value = next;
      i++;
    }
    const flag = m[2] ? "-c" : `--${name}`;
    if (name === "config") {
      out.configFile = value;
    } else if (name === "set") {
      const eq = value.indexOf("=");
      if (eq <= 0) throw new ConfigError([`--set: expected KEY=VALUE, got '${value}'`]);
      out.settings.push({
        key: value.slice(0, eq).trim(),
        value: value.slice(eq + 1),
        source: `--set ${value.slice(0, eq)}`,
      });
    } else {
      out.settings.push({ key: VALUE_FLAGS[name]!, value, source: flag });
    }
  }
  return out;
}
