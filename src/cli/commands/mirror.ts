/** `eddy mirror status` — the mirror links of a running broker, over its HTTP API. */
import { parseCommandArgs } from "../args.ts";
import { formatBytes, table } from "../format.ts";
import { type Command, connectHttp, HTTP_CLIENT_HELP, HTTP_CLIENT_OPTIONS } from "./command.ts";

const HELP = `Usage: eddy mirror status [options]

Mirror links of a running broker (over its HTTP API): per link its state and lag,
per partition what the central cluster has acknowledged and what is still owed.
States: connecting, forwarding, idle (caught up), down (see the error; retries continue).

Options:
  --json               print the API's JSON instead of tables
${HTTP_CLIENT_HELP}

Examples:
  eddy mirror status
  EDDY_TOKEN=… eddy mirror status --url https://gateway:8080 --json
`;

const OPTIONS = {
  ...HTTP_CLIENT_OPTIONS,
  json: { type: "boolean" },
} as const;

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
  summary: "status of the mirror links to central Kafka clusters",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("mirror", argv, OPTIONS, true);
    const [action, ...extra] = args.positionals;
    if (action !== "status")
      throw args.usage(action ? `unknown action "${action}"` : "give an action: status");
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
