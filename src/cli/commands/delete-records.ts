/** `eddy delete-records` — like kafka-delete-records.sh: advance a partition's log start offset. */
import { parseCommandArgs } from "../args.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, type Command, withBackend } from "./command.ts";

const HELP = `Usage: eddy delete-records --topic T --partition P --offset N

Make the records of partition P below offset N unreadable (the log start
offset moves to N; whole segments below it are removed), like
kafka-delete-records.sh. --offset latest deletes everything written so far.

  --topic T
  --partition P
  --offset N|latest
${CLIENT_HELP}
Examples:
  eddy delete-records --topic telemetry --partition 0 --offset 1000
  eddy delete-records --topic telemetry --partition 2 --offset latest
`;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  topic: { type: "string" },
  partition: { type: "string" },
  offset: { type: "string" },
} as const;

export const deleteRecordsCommand: Command = {
  name: "delete-records",
  summary: "delete records below an offset (advance the log start offset)",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("delete-records", argv, OPTIONS);
    const topic = args.required("topic");
    const partition = args.requiredInt("partition", { min: 0 });
    const latest = args.string("offset") === "latest";
    const offset = latest ? undefined : args.requiredInt("offset", { min: 0 });
    const low = await withBackend(args, ctx, async (api) => {
      const before = offset ?? (await api.listOffset(topic, partition, "latest"));
      return api.deleteRecords(topic, partition, before);
    });
    await ctx.out(`Partition: ${topic}-${partition}\tlow_watermark: ${low}\n`);
    return 0;
  },
};
