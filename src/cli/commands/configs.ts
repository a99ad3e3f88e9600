/** `eddy configs` — like kafka-configs.sh for topics: describe and alter. */
import { parseCommandArgs, parseKeyValues } from "../args.ts";
import type { ConfigEntry } from "../backend.ts";
import { table } from "../format.ts";
import type { Ctx } from "../io.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, type Command, withBackend } from "./command.ts";

const HELP = `Usage: eddy configs --topic T (--describe | --alter [--add-config k=v[,k=v]] [--delete-config k[,k]])

Show or change a topic's configs, like kafka-configs.sh. --delete-config
returns a key to the broker default.

  --topic T                 the topic (--entity-name T is accepted too)
  --describe                every config with its value and whether it is a default
  --alter                   change configs with:
    --add-config k=v,...    set keys (repeatable)
    --delete-config k,...   reset keys to their defaults (repeatable)
${CLIENT_HELP}
Examples:
  eddy configs --topic telemetry --describe
  eddy configs --topic telemetry --alter --add-config retention.ms=3600000,durability=write
  eddy configs --topic telemetry --alter --delete-config retention.ms
`;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  topic: { type: "string" },
  "entity-type": { type: "string" },
  "entity-name": { type: "string" },
  describe: { type: "boolean" },
  alter: { type: "boolean" },
  "add-config": { type: "string", multiple: true },
  "delete-config": { type: "string", multiple: true },
} as const;

export const configsCommand: Command = {
  name: "configs",
  summary: "describe and alter topic configs",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("configs", argv, OPTIONS);
    const entityType = args.string("entity-type");
    if (entityType !== undefined && entityType !== "topics") {
      throw args.usage(`only --entity-type topics is supported, got "${entityType}"`);
    }
    const topic = args.string("topic") ?? args.string("entity-name");
    if (!topic) throw args.usage("--topic is required");
    const action = args.action(["describe", "alter"] as const);
    if (action === "describe") {
      const entries = await withBackend(args, ctx, (api) => api.getConfigs(topic));
      await printConfigs(ctx, topic, entries);
      return 0;
    }
    const set = Object.fromEntries(parseKeyValues("configs", "--add-config", args.list("add-config", true)));
    const reset = args.list("delete-config", true);
    if (Object.keys(set).length === 0 && reset.length === 0) {
      throw args.usage("--alter needs --add-config k=v and/or --delete-config k");
    }
    await withBackend(args, ctx, (api) => api.alterConfigs(topic, set, reset));
    await ctx.out(`Completed updating config for topic ${topic}.\n`);
    return 0;
  },
};

async function printConfigs(ctx: Ctx, topic: string, entries: ConfigEntry[]): Promise<void> {
  await ctx.out(`Configs for topic ${topic}:\n`);
  const rows = [...entries]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e) => [e.name, e.value === null ? "null" : String(e.value), e.isDefault ? "default" : "topic"]);
  await ctx.out(table(["NAME", "VALUE", "SOURCE"], rows));
}
