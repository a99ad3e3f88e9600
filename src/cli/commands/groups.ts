/** `eddy groups` — like kafka-consumer-groups.sh: list, describe (lag), reset offsets, delete. */
import { type Args, parseCommandArgs, parseIntArg } from "../args.ts";
import type { ResetTo } from "../backend.ts";
import { table } from "../format.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, type Command, withBackend } from "./command.ts";

const HELP = `Usage: eddy groups (--list | --describe | --reset-offsets | --delete) [options]

Inspect and manage consumer groups' committed offsets, like kafka-consumer-groups.sh.

  --list
  --describe --group G        committed offset, log end offset and lag per partition
  --reset-offsets --group G --topic T[:P,P...] TARGET [--execute | --dry-run]
      TARGET is one of:
        --to-earliest  --to-latest  --to-offset N  --to-datetime ISO-8601  --shift-by N
      Without --execute only the plan is shown (--dry-run is the default, as in Kafka).
      New offsets are clamped into the partition's readable range.
  --delete --group G          forget the group's committed offsets
${CLIENT_HELP}
Examples:
  eddy groups --list
  eddy groups --describe --group dashboards
  eddy groups --reset-offsets --group dashboards --topic telemetry --to-earliest --execute
  eddy groups --reset-offsets --group dashboards --topic telemetry:0,1 --shift-by -100
  eddy groups --reset-offsets --group dashboards --topic telemetry --to-datetime 2024-05-01T12:00:00Z --execute
  eddy groups --delete --group dashboards
`;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  list: { type: "boolean" },
  describe: { type: "boolean" },
  "reset-offsets": { type: "boolean" },
  delete: { type: "boolean" },
  group: { type: "string" },
  topic: { type: "string" },
  "to-earliest": { type: "boolean" },
  "to-latest": { type: "boolean" },
  "to-offset": { type: "string" },
  "to-datetime": { type: "string" },
  "shift-by": { type: "string" },
  execute: { type: "boolean" },
  "dry-run": { type: "boolean" },
} as const;

export const groupsCommand: Command = {
  name: "groups",
  summary: "list, describe (lag), reset offsets of and delete consumer groups",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("groups", argv, OPTIONS);
    const action = args.action(["list", "describe", "reset-offsets", "delete"] as const);
    if (action === "list") {
      const groups = await withBackend(args, ctx, (api) => api.listGroups());
      await ctx.out(groups.map((g) => `${g}\n`).join(""));
      return 0;
    }
    const group = args.required("group");
    if (action === "describe") {
      const parts = await withBackend(args, ctx, (api) => api.describeGroup(group));
      const rows = parts.map((p) => [group, p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag]);
      await ctx.out(table(["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"], rows));
      return 0;
    }
    if (action === "delete") {
      await withBackend(args, ctx, (api) => api.deleteGroup(group));
      await ctx.out(`Deleted the committed offsets of group ${group}.\n`);
      return 0;
    }
    const { topic, partitions } = parseTopicPartitions(args, args.required("topic", "to reset offsets"));
    const to = resetTarget(args);
    if (args.flag("execute") && args.flag("dry-run")) throw args.usage("give either --execute or --dry-run");
    const dryRun = !args.flag("execute");
    const res = await withBackend(args, ctx, (api) =>
      api.resetOffsets(group, { topic, to, dryRun, ...(partitions ? { partitions } : {}) }),
    );
    const rows = res.partitions.map((p) => [group, res.topic, p.partition, p.previousOffset, p.newOffset]);
    await ctx.out(table(["GROUP", "TOPIC", "PARTITION", "PREVIOUS-OFFSET", "NEW-OFFSET"], rows));
    if (dryRun) ctx.err("Dry run: nothing was committed. Add --execute to apply these offsets.");
    return 0;
  },
};

/** "topic" or "topic:0,1,2" (Kafka's syntax). */
function parseTopicPartitions(args: Args, text: string): { topic: string; partitions?: number[] } {
  const i = text.lastIndexOf(":");
  if (i < 0) return { topic: text };
  const partitions = text
    .slice(i + 1)
    .split(",")
    .map((p) => parseIntArg("groups", "--topic partition", p, { min: 0 }));
  if (i === 0) throw args.usage(`--topic expects TOPIC or TOPIC:P,P, got "${text}"`);
  return { topic: text.slice(0, i), partitions };
}

function resetTarget(args: Args): ResetTo {
  const given = ["to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"].filter((n) =>
    args.has(n),
  );
  if (given.length !== 1) {
    throw args.usage(
      "give exactly one of --to-earliest, --to-latest, --to-offset N, --to-datetime ISO, --shift-by N",
    );
  }
  if (args.flag("to-earliest")) return "earliest";
  if (args.flag("to-latest")) return "latest";
  const offset = args.int("to-offset", { min: 0 });
  if (offset !== undefined) return { offset };
  const shift = args.int("shift-by");
  if (shift !== undefined) return { shiftBy: shift };
  const when = args.required("to-datetime");
  const ts = Date.parse(when);
  if (!Number.isFinite(ts) || ts < 0) {
    throw args.usage(`--to-datetime expects an ISO-8601 time such as 2024-05-01T12:00:00Z, got "${when}"`);
  }
  return { timestamp: ts };
}
