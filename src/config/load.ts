/**
 * Load the configuration: defaults < eddy.toml < EDDY_… environment < flags.
 *
 * Every layer is flattened into settings on dotted key paths; Kafka-style keys
 * are resolved onto schema keys (aliases.ts); the merged object is parsed by
 * the one zod schema (schema.ts). Problems are collected and thrown together
 * as a ConfigError whose lines name the key, the bad value and where it was set.
 */
import fs from "node:fs";
import { parse as parseToml } from "smol-toml";
import { envName, resolveKey, suggestKeys } from "./aliases.ts";
import { ConfigError } from "./errors.ts";
import type { Setting } from "./flags.ts";
import { formatHostPort, isLoopbackHost, parseHostPort } from "./listen.ts";
import { configSchema, type EddyConfig, IMPLEMENTED_LISTENERS, LISTENER_NAMES } from "./schema.ts";

/** Environment variables with an EDDY_ prefix that are not config keys. */
const NON_CONFIG_ENV = new Set(["EDDY_CONFIG", "EDDY_URL", "EDDY_TOKEN", "EDDY_USER", "EDDY_PASSWORD"]);

export interface LoadConfigOptions {
  /** TOML file to read (from --config or EDDY_CONFIG); null: none. */
  configFile?: string | null;
  /** Environment, usually process.env. EDDY_CONFIG names a config file when configFile is not given. */
  env?: Record<string, string | undefined>;
  /** Command-line settings (parseServeArgs(...).settings). */
  flags?: Setting[];
}

export interface LoadedConfig {
  config: EddyConfig;
  /** The config file read, if any. */
  configFile: string | null;
  /** Where each key that is not a default was set ("eddy.toml", "EDDY_LOG_LEVEL", "--http-listen"). */
  sources: Record<string, string>;
  /** Things worth telling the operator that do not stop start-up. */
  warnings: string[];
}

export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? {};
  const issues: string[] = [];
  const warnings: string[] = [];
  const configFile = opts.configFile ?? env.EDDY_CONFIG ?? null;

  const layers: Setting[] = [];
  if (configFile) layers.push(...readTomlSettings(configFile, issues));
  layers.push(...envSettings(env, warnings));
  layers.push(...(opts.flags ?? []));

  const raw: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  for (const setting of layers) {
    const target = resolveKey(setting.key);
    if (!target) {
      const hint = suggestKeys(setting.key);
      issues.push(
        `${setting.key}: unknown key (in ${setting.source})` +
          (hint.length ? `; did you mean ${hint.join(" or ")}?` : ""),
      );
      continue;
    }
    const value = target.convert ? target.convert(setting.value) : setting.value;
    setPath(raw, target.path, value);
    values[target.path] = setting.value;
    sources[target.path] = setting.source + (target.alias ? ` as ${target.alias}` : "");
  }
  if (issues.length) throw new ConfigError(issues);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join(".");
      const got = path in values ? `, got ${show(values[path])}` : "";
      const from = sources[path] ? ` (set by ${sources[path]})` : "";
      issues.push(`${path || "config"}: ${issue.message}${got}${from}`);
    }
    throw new ConfigError(issues);
  }
  const config = parsed.data;
  checkListeners(config, sources, issues, warnings);
  checkCluster(config, issues, warnings);
  checkMqttTls(config, sources, issues);
  checkTlsPairs(config, issues);
  if (issues.length) throw new ConfigError(issues);
  return { config, configFile, sources, warnings };
}

function readTomlSettings(file: string, issues: string[]): Setting[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    issues.push(
      `--config: cannot read '${file}'${code === "ENOENT" ? ": no such file" : `: ${String(err)}`}`,
    );
    return [];
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    issues.push(`${file}: not valid TOML: ${(err as Error).message.split("\n")[0]}`);
    return [];
  }
  const settings: Setting[] = [];
  flatten(doc, "", (key, value) => settings.push({ key, value, source: file }));
  return settings;
}

/** Nested tables become dotted keys; arrays, scalars and tables that are a key's value (kafka.sasl.users) are values. */
function flatten(
  obj: Record<string, unknown>,
  prefix: string,
  emit: (key: string, value: unknown) => void,
): void {
  for (const [key, value] of Object.entries(obj)) {
    const isTable =
      value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date);
    if (isTable && resolveKey(`${prefix}${key}`) === null) {
      flatten(value as Record<string, unknown>, `${prefix}${key}.`, emit);
    } else {
      emit(`${prefix}${key}`, value);
    }
  }
}

function envSettings(env: Record<string, string | undefined>, warnings: string[]): Setting[] {
  const settings: Setting[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("EDDY_") || NON_CONFIG_ENV.has(name) || value === undefined) continue;
    const key = name.slice("EDDY_".length);
    if (!resolveKey(key)) {
      const hint = suggestKeys(key).map(envName);
      warnings.push(
        `ignoring ${name}: not a config key` + (hint.length ? ` (did you mean ${hint.join(" or ")}?)` : ""),
      );
      continue;
    }
    settings.push({ key, value, source: name });
  }
  return settings;
}

function checkListeners(
  config: EddyConfig,
  sources: Record<string, string>,
  issues: string[],
  warnings: string[],
): void {
  for (const name of LISTENER_NAMES) {
    const value = config.listeners[name];
    if (!value) continue;
    const hp = parseHostPort(value)!;
    if (!IMPLEMENTED_LISTENERS.includes(name)) {
      warnings.push(`listeners.${name} is reserved for a later version of Eddy and is ignored`);
      continue;
    }
    const authenticated = listenerHasAuth(config, name);
    if (!isLoopbackHost(hp.host) && authenticated && !listenerHasTls(config, name)) {
      warnings.push(
        `listeners.${name}: ${formatHostPort(hp)} is reachable from the network and takes credentials, but without TLS ` +
          `they cross the network in clear text: set ${name}.tls_cert_file and ${name}.tls_key_file`,
      );
    }
    if (!isLoopbackHost(hp.host) && !config.auth.allow_anonymous && !authenticated) {
      const from = sources[`listeners.${name}`] ? ` (set by ${sources[`listeners.${name}`]})` : "";
      issues.push(
        `listeners.${name}: ${formatHostPort(hp)} is reachable from the network but no authentication is configured${from}. ` +
          `To open it anyway, set auth.allow_anonymous = true in eddy.toml (or EDDY_AUTH_ALLOW_ANONYMOUS=true, ` +
          `or --allow-anonymous); to keep it private, bind a loopback address such as 127.0.0.1:${hp.port}`,
      );
    }
  }
}

/**
 * Users or tokens in [auth] protect the HTTP API and (users) the Kafka listener's SASL and MQTT CONNECT;
 * kafka.sasl.users only Kafka.
 */
export function listenerHasAuth(config: EddyConfig, name: string): boolean {
  const users = Object.keys(config.auth.users).length > 0;
  if (name === "http") return users || Object.keys(config.auth.tokens).length > 0;
  if (name === "kafka") return users || Object.keys(config.kafka.sasl.users).length > 0;
  if (name === "peer") return config.cluster.secret !== "" || config.cluster.tls_ca_file !== "";
  // MQTT CONNECT checks user name and password against auth.users (src/main.ts, mqttAuth).
  if (name === "mqtt" || name === "mqtt_tls") return users;
  return false;
}

function listenerHasTls(config: EddyConfig, name: string): boolean {
  if (name === "http") return config.http.tls_cert_file !== "";
  if (name === "kafka") return config.kafka.tls_cert_file !== "";
  if (name === "peer") return config.cluster.tls_cert_file !== "";
  return false;
}

function checkCluster(config: EddyConfig, issues: string[], warnings: string[]): void {
  const peers = config.cluster.peers;
  if (peers.length === 0) {
    if (config.listeners.peer) {
      warnings.push(
        "listeners.peer is set but cluster.peers is empty: this node runs alone and the peer listener stays off",
      );
    }
    return;
  }
  const ids = peers.map((p) => p.id);
  if (new Set(ids).size !== ids.length)
    issues.push(`cluster.peers: every peer needs its own id (got ${ids.join(", ")})`);
  if (peers.length < 2 || peers.length > 5)
    issues.push(`cluster.peers: a cluster has 2 to 5 nodes (got ${peers.length})`);
  if (!ids.includes(config.node_id)) {
    issues.push(
      `cluster.peers: node_id ${config.node_id} is not among the peers (${ids.join(", ")}): list this node too`,
    );
  }
  if (config.cluster.secret === "" && config.cluster.tls_ca_file === "") {
    issues.push(
      "cluster.secret: peers must authenticate: set a shared cluster.secret (or cluster.tls_ca_file for mutual TLS)",
    );
  }
  if ((config.cluster.tls_cert_file === "") !== (config.cluster.tls_key_file === "")) {
    issues.push(
      "cluster.tls_cert_file and cluster.tls_key_file: set both (a PEM certificate and its key) or neither",
    );
  }
}

function checkTlsPairs(config: EddyConfig, issues: string[]): void {
  for (const name of ["http", "kafka"] as const) {
    const { tls_cert_file: cert, tls_key_file: key } = config[name];
    if ((cert === "") !== (key === "")) {
      issues.push(
        `${name}.tls_cert_file and ${name}.tls_key_file: set both (a PEM certificate and its key) or neither`,
      );
    }
  }
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (next === null || typeof next !== "object") cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function show(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (typeof value === "bigint") return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** MQTT over TLS: cert and key together; its address follows the same exposure rule as the listeners. */
function checkMqttTls(config: EddyConfig, sources: Record<string, string>, issues: string[]): void {
  const m = config.mqtt;
  if ((m.tls_cert_file === "") !== (m.tls_key_file === "")) {
    issues.push(
      "mqtt.tls_cert_file and mqtt.tls_key_file: set both (a PEM certificate and its key) to serve MQTT over TLS, or neither",
    );
    return;
  }
  if (m.tls_cert_file === "" || !config.listeners.mqtt || !m.tls_listen) return;
  const hp = parseHostPort(m.tls_listen)!;
  if (isLoopbackHost(hp.host) || config.auth.allow_anonymous || listenerHasAuth(config, "mqtt")) return;
  const from = sources["mqtt.tls_listen"] ? ` (set by ${sources["mqtt.tls_listen"]})` : "";
  issues.push(
    `mqtt.tls_listen: ${formatHostPort(hp)} is reachable from the network but no authentication is configured${from}. ` +
      "To open it anyway, set auth.allow_anonymous = true in eddy.toml (or EDDY_AUTH_ALLOW_ANONYMOUS=true, " +
      `or --allow-anonymous); to keep it private, bind a loopback address such as 127.0.0.1:${hp.port}`,
  );
}
