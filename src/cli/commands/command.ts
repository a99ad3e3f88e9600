/** The shape of one CLI command, and the shared "connect to the broker" step. */
import { type Args, CLIENT_OPTIONS } from "../args.ts";
import { Api } from "../api.ts";
import type { CliBackend } from "../backend.ts";
import { type ClientCredentials, HttpClient, resolveUrl } from "../client.ts";
import type { Ctx } from "../io.ts";

export interface Command {
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** Full --help text with examples. */
  help: string;
  /** Returns the exit code; throws UsageError / ApiError / NoBrokerError. */
  run(argv: string[], ctx: Ctx): Promise<number>;
}

export { CLIENT_OPTIONS };

/** Text for the options every client command takes, appended to each --help. */
export const CLIENT_HELP = `
Connection:
  --url URL           the broker's HTTP address (default: $EDDY_URL, else the http
                      listener in <data-dir>/listeners.json, else http://127.0.0.1:8080)
  --data-dir DIR      where to find listeners.json (default ./eddy-data)
  --token TOKEN       API token for a broker with [auth] configured (default $EDDY_TOKEN)
  --user NAME         user name for HTTP Basic auth (default $EDDY_USER) ...
  --password PASS     ... and its password (default $EDDY_PASSWORD; prefer the variable:
                      command lines are visible to other users of the machine)
  --bootstrap-server HOST:PORT[,HOST:PORT]
                      talk the Kafka protocol to this broker instead of HTTP
                      (any Kafka-compatible broker, like Kafka's own scripts)
  --command-config FILE
                      Kafka client properties for --bootstrap-server: security.protocol,
                      sasl.mechanism, sasl.jaas.config (or sasl.username/sasl.password),
                      ssl.ca.location, ssl.certificate.location, ssl.key.location
`;

/** Options of the commands that speak only Eddy's HTTP API: CLIENT_OPTIONS without the Kafka ones. */
const { "bootstrap-server": _bootstrap, "command-config": _commandConfig, ...httpOptions } = CLIENT_OPTIONS;
export const HTTP_CLIENT_OPTIONS = httpOptions;

/** --help lines for HTTP_CLIENT_OPTIONS, indented to line up under "Options:". */
export const HTTP_CLIENT_HELP = `  --url URL            the broker's HTTP address (default: $EDDY_URL, else the http
                       listener in <data-dir>/listeners.json, else http://127.0.0.1:8080)
  --data-dir DIR       where to find listeners.json (default ./eddy-data)
  --token TOKEN        API token for a broker with [auth] configured (default $EDDY_TOKEN)
  --user NAME          user name for HTTP Basic auth (default $EDDY_USER) ...
  --password PASS      ... and its password (default $EDDY_PASSWORD; prefer the variable:
                       command lines are visible to other users of the machine)`;

/** An HTTP client for the broker named by --url / --data-dir, with the credentials given. */
export async function connectHttp(args: Args, ctx: Ctx): Promise<HttpClient> {
  const url = await resolveUrl({ url: args.string("url"), dataDir: args.string("data-dir"), env: ctx.env });
  return new HttpClient(url, clientCredentials(args, ctx));
}

/**
 * The broker the command talks to: Kafka protocol with --bootstrap-server
 * (the client library loads only then), else Eddy's HTTP API. The caller
 * closes it (`withBackend` does).
 */
export async function connect(args: Args, ctx: Ctx): Promise<CliBackend> {
  const bootstrap = args.string("bootstrap-server");
  if (bootstrap !== undefined) {
    if (args.has("url")) throw args.usage("give either --url or --bootstrap-server, not both");
    const { openKafkaBackend } = await import("../kafka-backend.ts");
    return openKafkaBackend({
      bootstrap,
      commandConfig: args.string("command-config"),
      signal: ctx.signal,
      usage: (m) => args.usage(m),
    });
  }
  if (args.has("command-config")) throw args.usage("--command-config needs --bootstrap-server");
  const url = await resolveUrl({ url: args.string("url"), dataDir: args.string("data-dir"), env: ctx.env });
  return new Api(new HttpClient(url, clientCredentials(args, ctx)), ctx.signal);
}

/** --token, else --user/--password, else EDDY_TOKEN, else EDDY_USER/EDDY_PASSWORD. */
export function clientCredentials(args: Args, ctx: Ctx): ClientCredentials {
  const token = args.string("token");
  const user = args.string("user");
  if (token !== undefined && user !== undefined) throw args.usage("give either --token or --user, not both");
  if (args.has("password") && user === undefined && !ctx.env.EDDY_USER) {
    throw args.usage("--password needs --user (or EDDY_USER)");
  }
  if (token !== undefined) return { token };
  if (user !== undefined) return { user, password: args.string("password") ?? ctx.env.EDDY_PASSWORD ?? "" };
  if (ctx.env.EDDY_TOKEN) return { token: ctx.env.EDDY_TOKEN };
  if (ctx.env.EDDY_USER) {
    return { user: ctx.env.EDDY_USER, password: args.string("password") ?? ctx.env.EDDY_PASSWORD ?? "" };
  }
  return {};
}

/** connect(), run `fn`, and always close the backend. */
export async function withBackend<T>(args: Args, ctx: Ctx, fn: (b: CliBackend) => Promise<T>): Promise<T> {
  const backend = await connect(args, ctx);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}
