/**
 * Connection settings for `--bootstrap-server` (and `--command-config`, a
 * Kafka client properties file as Kafka's scripts take), and the mapping of
 * the Kafka client's errors to the CLI's: a broker error code becomes an
 * ApiError (`error CODE: message`), nothing answering becomes
 * NoKafkaBrokerError.
 *
 * Properties understood: security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT,
 * SASL_SSL), sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
 * sasl.jaas.config (username="…" password="…"), or librdkafka's
 * sasl.username / sasl.password, ssl.ca.location, ssl.certificate.location,
 * ssl.key.location, ssl.endpoint.identification.algorithm (empty = do not
 * check the host name). Unknown keys are ignored, as Kafka's tools do.
 */
import { readFile } from "node:fs/promises";
import { ApiError } from "./client.ts";

export class NoKafkaBrokerError extends Error {
  readonly bootstrap: string;
  constructor(bootstrap: string, reason: string) {
    super(
      `no Kafka broker answers at ${bootstrap}: start one with \`eddy serve\` or check --bootstrap-server (${reason})`,
    );
    this.name = "NoKafkaBrokerError";
    this.bootstrap = bootstrap;
  }
}

export interface KafkaConnectionSettings {
  brokers: string[];
  sasl?: { mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; checkServerIdentity?: () => undefined };
}

/** Client options shared by every client the backend creates. */
export function clientOptions(s: KafkaConnectionSettings, clientId: string) {
  return {
    clientId,
    bootstrapBrokers: s.brokers,
    connectTimeout: 5000,
    requestTimeout: 30_000,
    retries: 2,
    retryDelay: 100,
    ...(s.sasl ? { sasl: s.sasl } : {}),
    ...(s.tls ? { tls: s.tls } : {}),
  };
}

export type ClientOptions = ReturnType<typeof clientOptions>;

/** "h:p,h:p" → ["h:p", …]; throws via `usage` on a malformed entry. */
export function parseBootstrap(text: string, usage: (m: string) => Error): string[] {
  const brokers = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (brokers.length === 0) throw usage("--bootstrap-server expects HOST:PORT");
  for (const b of brokers) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw usage(`--bootstrap-server expects HOST:PORT[,HOST:PORT], got "${b}"`);
    }
  }
  return brokers;
}

/** Java-style properties: `k=v` or `k: v` lines, `#`/`!` comments. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

export async function connectionSettings(opts: {
  bootstrap: string;
  commandConfig: string | undefined;
  usage: (m: string) => Error;
}): Promise<KafkaConnectionSettings> {
  const settings: KafkaConnectionSettings = { brokers: parseBootstrap(opts.bootstrap, opts.usage) };
  if (opts.commandConfig === undefined) return settings;
  let text: string;
  try {
    text = await readFile(opts.commandConfig, "utf8");
  } catch (err) {
    throw opts.usage(`cannot read --command-config ${opts.commandConfig}: ${(err as Error).message}`);
  }
  const props = parseProperties(text);
  const protocol = (props.get("security.protocol") ?? "PLAINTEXT").toUpperCase();
  if (!["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].includes(protocol)) {
    throw opts.usage(
      `security.protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got "${protocol}"`,
    );
  }
  if (protocol.startsWith("SASL")) {
    const mechanism = (props.get("sasl.mechanism") ?? "PLAIN").toUpperCase();
    if (mechanism !== "PLAIN" && mechanism !== "SCRAM-SHA-256" && mechanism !== "SCRAM-SHA-512") {
      throw opts.usage(`sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "${mechanism}"`);
    }
    const jaas = props.get("sasl.jaas.config") ?? "";
    const fromJaas = (k: string) => new RegExp(`${k}\\s*=\\s*"([^"]*)"`).exec(jaas)?.[1];
    const username = props.get("sasl.username") ?? fromJaas("username");
    const password = props.get("sasl.password") ?? fromJaas("password");
    if (username === undefined || password === undefined) {
      throw opts.usage(
        'SASL needs credentials: sasl.jaas.config=... username="u" password="p"; (or sasl.username and sasl.password)',
      );
    }
    settings.sasl = { mechanism, username, password };
  }
  if (protocol.endsWith("SSL")) {
    const read = async (key: string) => {
      const path = props.get(key);
      if (path === undefined) return undefined;
      try {
        return await readFile(path, "utf8");
      } catch (err) {
        throw opts.usage(`cannot read ${key} ${path}: ${(err as Error).message}`);
      }
    };
    const tls: NonNullable<KafkaConnectionSettings["tls"]> = {};
    const ca = await read("ssl.ca.location");
    const cert = await read("ssl.certificate.location");
    const key = await read("ssl.key.location");
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
    if (props.get("ssl.endpoint.identification.algorithm") === "") tls.checkServerIdentity = () => undefined;
    settings.tls = tls;
  }
  return settings;
}

interface ClientError {
  code?: unknown;
  apiId?: unknown;
  serverErrorMessage?: unknown;
  canRetry?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** Depth-first search through AggregateError.errors and causes. */
function find(err: unknown, pred: (e: ClientError) => boolean, depth = 0): ClientError | null {
  if (err === null || typeof err !== "object" || depth > 8) return null;
  const e = err as ClientError;
  if (pred(e)) return e;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const hit = find(inner, pred, depth + 1);
      if (hit) return hit;
    }
  }
  return e.cause ? find(e.cause, pred, depth + 1) : null;
}

/** The CLI's error for a Kafka client failure. */
export function toCliError(err: unknown, bootstrap: string): unknown {
  if (err instanceof ApiError || err instanceof NoKafkaBrokerError) return err;
  const proto = find(err, (e) => e.code === "PLT_KFK_PROTOCOL" && typeof e.apiId === "string");
  if (proto) {
    const text =
      typeof proto.serverErrorMessage === "string" && proto.serverErrorMessage !== ""
        ? proto.serverErrorMessage
        : String(proto.message ?? "");
    return new ApiError(String(proto.apiId), text, 0, proto.canRetry === true);
  }
  const auth = find(err, (e) => e.code === "PLT_KFK_AUTHENTICATION");
  if (auth) return new ApiError("SASL_AUTHENTICATION_FAILED", String(auth.message ?? ""), 0, false);
  const net = find(err, (e) => e.code === "PLT_KFK_NETWORK" || e.code === "PLT_KFK_TIMEOUT");
  if (net) {
    // A system error (ECONNREFUSED, ENOTFOUND, ETIMEDOUT...) means nothing answered; without
    // one the broker accepted the connection and then dropped it.
    const cause = find(net.cause, (e) => typeof e.code === "string" && /^E[A-Z]+$/.test(e.code));
    if (cause || net.code === "PLT_KFK_TIMEOUT") {
      return new NoKafkaBrokerError(bootstrap, typeof cause?.code === "string" ? cause.code : "timed out");
    }
    return new Error(
      `the Kafka broker at ${bootstrap} closed the connection (${String(net.message ?? "")}): ` +
        "if it requires SASL or TLS, give the client settings with --command-config FILE",
    );
  }
  return err;
}
