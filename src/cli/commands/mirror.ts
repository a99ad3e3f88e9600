/**
 * `eddy mirror status|add|remove` — the mirror links of a running broker, over
 * its HTTP API (GET, PUT and DELETE /v1/mirror/links[/{name}]).
 */
import { readFile } from "node:fs/promises";
import { type Args, parseCommandArgs } from "../args.ts";
import type { Ctx } from "../io.ts";
import { formatBytes, table } from "../format.ts";
import { type Command, connectHttp, HTTP_CLIENT_HELP, HTTP_CLIENT_OPTIONS } from "./command.ts";

const HELP = `Usage: eddy mirror status [options]
       eddy mirror add NAME (--file LINK.json | --json '{...}') [options]
       eddy mirror remove NAME [options]

status: mirror links of a running broker (over its HTTP API): per link its state
and lag, per partition what the central cluster has acknowledged and what is
still owed. States: connecting, forwarding, idle (caught up), down (see the
error; retries continue).

add: create or replace the link NAME at runtime (kept across restarts). The link
is a [[mirror.links]] table as JSON with its snake_case keys (bootstrap_servers,
topics, source_id, tls, sasl, batch, ...). A link of the same name in eddy.toml
wins and cannot be replaced here.

remove: stop and forget a link added with "add" (releases the retention it held).

Options:
  --json               status: print the API's JSON instead of tables;
                       add: the link's JSON (instead of --file)
  --file FILE          add: read the link's JSON from FILE
${HTTP_CLIENT_HELP}

Examples:
  eddy mirror status
  EDDY_TOKEN=… eddy mirror status --url https://gateway:8080 --json
  eddy mirror add central --json '{"bootstrap_servers":["kafka:9092"],"topics":["alarms"]}'
  eddy mirror add central --file central-link.json
  eddy mirror remove central
`;

const STATUS_OPTIONS = {
  ...HTTP_CLIENT_OPTIONS,
  json: { type: "boolean" },
} as const;

const ADD_OPTIONS = {
  ...HTTP_CLIENT_OPTIONS,
  json: { type: "string" },
  file: { type: "string" },
} as const;

/** Options whose value is the next argument (so it is not taken for the action). */
const VALUE_OPTIONS = new Set(["--url", "--data-dir", "--token", "--user", "--password", "--file"]);

/** The first positional argument: the action decides the options (--json is a flag for status, a value for add). */
function findAction(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") return argv[i + 1];
    if (a.startsWith("-")) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

interface LinkStatus {
  name: string;
  bootstrapServers: string[];
  state: string;
  lagRecords: number;
  skippedRecords: number;
  lastError: { message: string; at: number } | null;
  partitions: Array<{
    topic: string;
    partition: number;
    remoteTopic: string;
    state: string;
    mirroredOffset: number;
    highWatermark: number;
    lagRecords: number;
    lagBytes: number;
    lagAgeMs: number;
    skippedRecords: number;
  }>;
}

export const mirrorCommand: Command = {
  name: "mirror",
  summary: "status of the mirror links to central Kafka clusters; add or remove links",
  help: HELP,
  async run(argv, ctx) {
    const which = findAction(argv);
    if (which === "add" || which === "remove") {
      const args = parseCommandArgs(
        "mirror",
        argv,
        which === "add" ? ADD_OPTIONS : HTTP_CLIENT_OPTIONS,
        true,
      );
      const [, name, ...extra] = args.positionals;
      if (name === undefined) throw args.usage(`give the link's name: eddy mirror ${which} NAME`);
      if (extra.length > 0) throw args.usage(`unexpected argument "${extra[0]}"`);
      return which === "add" ? addLink(args, ctx, name) : removeLink(args, ctx, name);
    }
    const args = parseCommandArgs("mirror", argv, STATUS_OPTIONS, true);
    const [action, ...extra] = args.positionals;
    if (action !== "status")
      throw args.usage(action ? `unknown action "${action}"` : "give an action: status, add or remove");
    if (extra.length > 0) throw args.usage(`unexpected argument "${extra[0]}"`);
    const http = await connectHttp(args, ctx);
    const { links } = await http.request<{ links: LinkStatus[] }>("GET", "/v1/mirror/links", {
      signal: ctx.signal,
    });
    if (args.flag("json")) {
      await ctx.out(`${JSON.stringify({ links }, null, 2)}\n`);
      return 0;
    }
    if (links.length === 0) {
      await ctx.out("No mirror links are configured (add [[mirror.links]] to eddy.toml).\n");
      return 0;
    }
    const out: string[] = [
      table(
        ["LINK", "STATE", "BOOTSTRAP", "LAG-RECORDS", "SKIPPED", "LAST-ERROR"],
        links.map((l) => [
          l.name,
          l.state,
          l.bootstrapServers.join(","),
          l.lagRecords,
          l.skippedRecords,
          l.lastError?.message ?? null,
        ]),
      ),
    ];
    const rows = links.flatMap((l) =>
      l.partitions.map((p) => [
        l.name,
        p.topic,
        p.partition,
        p.remoteTopic,
        p.state,
        p.mirroredOffset,
        p.highWatermark,
        p.lagRecords,
        formatBytes(p.lagBytes),
        `${Math.round(p.lagAgeMs / 1000)}s`,
      ]),
    );
    if (rows.length > 0) {
      out.push(
        table(
          [
            "LINK",
            "TOPIC",
            "PARTITION",
            "REMOTE-TOPIC",
            "STATE",
            "MIRRORED",
            "HIGH-WATERMARK",
            "LAG",
            "LAG-BYTES",
            "LAG-AGE",
          ],
          rows,
        ),
      );
    }
    await ctx.out(out.join("\n"));
    return 0;
  },
};

/** The link's JSON from --json or --file: an object, else a usage error. */
async function linkBody(args: Args): Promise<Record<string, unknown>> {
  const inline = args.string("json");
  const file = args.string("file");
  if ((inline === undefined) === (file === undefined)) {
    throw args.usage("give the link as --file LINK.json or --json '{...}' (one of them)");
  }
  let text: string;
  if (file !== undefined) {
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw args.usage(`cannot read --file ${file}: ${(err as { code?: string }).code ?? String(err)}`);
    }
  } else {
    text = inline as string;
  }
  const what = file !== undefined ? `--file ${file}` : "--json";
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw args.usage(`${what} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw args.usage(`${what} must be a JSON object: a [[mirror.links]] table with snake_case keys`);
  }
  return body as Record<string, unknown>;
}

async function addLink(args: Args, ctx: Ctx, name: string): Promise<number> {
  const body = await linkBody(args);
  const http = await connectHttp(args, ctx);
  const res = await http.request<{ created: boolean; link: LinkStatus | null }>(
    "PUT",
    `/v1/mirror/links/${encodeURIComponent(name)}`,
    { body, signal: ctx.signal },
  );
  const verb = res.created ? "Created" : "Replaced";
  await ctx.out(
    res.link === null
      ? `${verb} mirror link ${name} (enabled = false: stored, not running).\n`
      : `${verb} mirror link ${name}: ${res.link.state}, to ${res.link.bootstrapServers.join(",")}. See "eddy mirror status".\n`,
  );
  return 0;
}

async function removeLink(args: Args, ctx: Ctx, name: string): Promise<number> {
  const http = await connectHttp(args, ctx);
  await http.request("DELETE", `/v1/mirror/links/${encodeURIComponent(name)}`, { signal: ctx.signal });
  await ctx.out(`Removed mirror link ${name}.\n`);
  return 0;
}
