/** The shape of one CLI command, and the shared "connect to the broker" step. */
import { type Args, CLIENT_OPTIONS } from "../args.ts";
import { Api } from "../api.ts";
import { HttpClient, resolveUrl } from "../client.ts";
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
`;

export async function connect(args: Args, ctx: Ctx): Promise<Api> {
  const url = await resolveUrl({ url: args.string("url"), dataDir: args.string("data-dir"), env: ctx.env });
  return new Api(new HttpClient(url), ctx.signal);
}
