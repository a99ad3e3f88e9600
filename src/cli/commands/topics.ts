/** `eddy topics` — like kafka-topics.sh: create, list, describe, delete, alter. */
import { parseCommandArgs, parseKeyValues } from "../args.ts";
import type { TopicDescription } from "../backend.ts";
import { formatBytes, table } from "../format.ts";
import type { Ctx } from "../io.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, type Command, withBackend } from "./command.ts";

const HELP = `Usage: eddy topics (--create | --list | --describe | --delete | --alter) [options]

Manage topics, like kafka-topics.sh.

  --create --topic T [--partitions N] [--replication-factor N] [--config k=v ...]
  --list
  --describe [--topic T]     partitions: leader, log start, log end, high watermark, size
  --delete --topic T
  --alter --topic T --partitions N   (partitions only grow)
${CLIENT_HELP}
Examples:
  eddy topics --create --topic telemetry --partitions 3 --config retention.ms=86400000
  eddy topics --list
  eddy topics --describe --topic telemetry
  eddy topics --alter --topic telemetry --partitions 6
  eddy topics --delete --topic telemetry
`;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  create: { type: "boolean" },
  list: { type: "boolean" },
  describe: { type: "boolean" },
  delete: { type: "boolean" },
  alter: { type: "boolean" },
  topic: { type: "string" },
  partitions: { type: "string" },
  "replication-factor": { type: "string" },
  config: { type: "string", multiple: true },
} as const;

export const topicsCommand: Command = {
  name: "topics",
  summary: "create, list, describe, alter and delete topics",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("topics", argv, OPTIONS);
    const action = args.action(["create", "list", "describe", "delete", "alter"] as const);
    switch (action) {
      case "create": {
        const topic = args.required("topic", "to create a topic");
        const partitions = args.int("partitions", { min: 1 });
        const rf = args.int("replication-factor", { min: 1 });
        const configs = Object.fromEntries(parseKeyValues("topics", "--config", args.list("config")));
        await withBackend(args, ctx, (api) =>
          api.createTopic({
            name: topic,
            ...(partitions !== undefined ? { partitions } : {}),
            ...(rf !== undefined ? { replicationFactor: rf } : {}),
            ...(Object.keys(configs).length > 0 ? { configs } : {}),
          }),
        );
        await ctx.out(`Created topic ${topic}.\n`);
        return 0;
      }
      case "list": {
        const topics = await withBackend(args, ctx, (api) => api.listTopics());
        await ctx.out(topics.map((t) => `${t.name}\n`).join(""));
        return 0;
      }
      case "describe": {
        const only = args.string("topic");
        await withBackend(args, ctx, async (api) => {
          const names = only ? [only] : (await api.listTopics()).map((t) => t.name);
          for (const name of names) await printTopic(ctx, await api.describeTopic(name));
        });
        return 0;
      }
      case "delete": {
        const topic = args.required("topic", "to delete a topic");
        await withBackend(args, ctx, (api) => api.deleteTopic(topic));
        await ctx.out(`Deleted topic ${topic}.\n`);
        return 0;
      }
      case "alter": {
        const topic = args.required("topic", "to alter a topic");
        if (args.list("config").length > 0) {
          throw args.usage("change configs with `eddy configs --topic T --alter --add-config k=v`");
        }
        const count = args.requiredInt("partitions", { min: 1 }, "(the new partition count)");
        const n = await withBackend(args, ctx, (api) => api.createPartitions(topic, count));
        await ctx.out(`Topic ${topic} now has ${n} partitions.\n`);
        return 0;
      }
    }
  },
};

async function printTopic(ctx: Ctx, t: TopicDescription): Promise<void> {
  const overrides = Object.entries(t.overrides ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  await ctx.out(
    `Topic: ${t.name}\t${t.id ? `TopicId: ${t.id}\t` : ""}PartitionCount: ${t.partitions.length}\t` +
      `ReplicationFactor: ${t.replicationFactor}\tConfigs: ${overrides}\n`,
  );
  const rows = [...t.partitions]
    .sort((a, b) => a.partition - b.partition)
    .map((p) => [
      p.partition,
      p.leader,
      p.logStartOffset,
      p.logEndOffset,
      p.highWatermark,
      p.sizeBytes === null ? "-" : formatBytes(p.sizeBytes),
    ]);
  await ctx.out(table(["PARTITION", "LEADER", "LOG-START", "LOG-END", "HIGH-WATERMARK", "SIZE"], rows));
}
