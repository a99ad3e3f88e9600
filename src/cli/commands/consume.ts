/**
 * `eddy consume` — a console consumer like kafka-console-consumer.sh. Reads
 * every partition (or one) with long polls, prints records as lines, follows
 * live until --max-messages, --timeout-ms without records, or Ctrl-C. With
 * --group it starts from the group's committed offsets and commits as it goes;
 * over --bootstrap-server it joins the group as a real member (join, sync,
 * heartbeat, commit), so it shares the partitions with other members such as
 * kcat -G (unless --partition or --offset pins it to one partition).
 */
import { boolProperty, parseCommandArgs, parseIntArg, parseKeyValues, unescapeSeparator } from "../args.ts";
import type { CliBackend, ConsumedRecord } from "../backend.ts";
import { ApiError } from "../client.ts";
import type { Ctx } from "../io.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, type Command, withBackend } from "./command.ts";
import { startOffsets } from "./consume-start.ts";

const HELP = `Usage: eddy consume --topic T [options]

Print records as lines, like kafka-console-consumer.sh. Without --partition
every partition is read. Follows new records until --max-messages,
--timeout-ms or Ctrl-C.

  --topic T                   the topic
  --from-beginning            start at the earliest offset (default: only new records)
  --offset N|earliest|latest  where to start (a number needs --partition)
  --partition N               read only this partition
  --group G                   start from G's committed offsets and commit as records print;
                              with --bootstrap-server, join G as a member (partitions are
                              shared with the group's other consumers)
  --max-messages N            exit after N records
  --timeout-ms N              exit when no record arrives for N ms
  --property k=v              output format, as in Kafka:
      print.key=true  print.timestamp=true  print.headers=true  print.offset=true
      print.partition=true  print.value=false  key.separator=\\t  line.separator=\\n
      headers.separator=,  headers.key.separator=:  null.literal=null
${CLIENT_HELP}
Examples:
  eddy consume --topic telemetry --from-beginning
  eddy consume --topic telemetry --partition 0 --offset 42 --max-messages 10
  eddy consume --topic telemetry --group dashboards --property print.key=true --property key.separator=:
  eddy consume --topic telemetry --from-beginning --timeout-ms 2000 --property print.offset=true
`;

const PROPERTIES = [
  "print.key",
  "print.value",
  "print.timestamp",
  "print.headers",
  "print.offset",
  "print.partition",
  "key.separator",
  "line.separator",
  "headers.separator",
  "headers.key.separator",
  "null.literal",
] as const;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  topic: { type: "string" },
  "from-beginning": { type: "boolean" },
  offset: { type: "string" },
  partition: { type: "string" },
  group: { type: "string" },
  "max-messages": { type: "string" },
  "timeout-ms": { type: "string" },
  property: { type: "string", multiple: true },
} as const;

/** Longest single long poll; shorter when --timeout-ms is. */
const POLL_MS = 1000;

type Formatter = (r: ConsumedRecord, partition: number) => string;

export const consumeCommand: Command = {
  name: "consume",
  summary: "console consumer: print records, follow live, optional group",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("consume", argv, OPTIONS);
    const topic = args.required("topic");
    const onlyPartition = args.int("partition", { min: 0 });
    const group = args.string("group");
    const maxMessages = args.int("max-messages", { min: 1 });
    const timeoutMs = args.int("timeout-ms", { min: 1 });
    const offsetText = args.string("offset");
    let offset: "earliest" | "latest" | number | undefined;
    if (offsetText === "earliest" || offsetText === "latest") offset = offsetText;
    else if (offsetText !== undefined) {
      offset = parseIntArg("consume", "--offset", offsetText, { min: 0 });
      if (onlyPartition === undefined) throw args.usage("--offset N needs --partition");
    }
    if (offset !== undefined && args.flag("from-beginning")) {
      throw args.usage("give either --from-beginning or --offset, not both");
    }
    const format = makeFormatter(parseKeyValues("consume", "--property", args.list("property"), PROPERTIES));

    const fromBeginning = args.flag("from-beginning");
    return withBackend(args, ctx, (api) =>
      consumeWith(api, ctx, {
        topic,
        onlyPartition,
        group,
        maxMessages,
        timeoutMs,
        offset,
        fromBeginning,
        format,
      }),
    );
  },
};

interface ConsumeOptions {
  topic: string;
  onlyPartition: number | undefined;
  group: string | undefined;
  maxMessages: number | undefined;
  timeoutMs: number | undefined;
  offset: "earliest" | "latest" | number | undefined;
  fromBeginning: boolean;
  format: Formatter;
}

async function consumeWith(api: CliBackend, ctx: Ctx, o: ConsumeOptions): Promise<number> {
  const { topic, onlyPartition, group, maxMessages, timeoutMs, format } = o;
  const partitions = await api.partitionsOf(topic);
  if (onlyPartition !== undefined && !partitions.includes(onlyPartition)) {
    throw new ApiError(
      "PARTITION_NOT_FOUND",
      `topic ${topic} has no partition ${onlyPartition} (it has ${partitions.length})`,
      404,
      false,
    );
  }
  // A group member (join/sync/heartbeat) where the transport has one; else read assigned partitions.
  const subscribe =
    api.groupMembership && group !== undefined && onlyPartition === undefined && o.offset === undefined;
  const chosen = onlyPartition !== undefined ? [onlyPartition] : partitions;
  const assignment = subscribe
    ? "subscribe"
    : await startOffsets(api, {
        topic,
        partitions: chosen,
        group,
        offset: o.offset,
        fromBeginning: o.fromBeginning,
      });

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let printed = 0;
  let lastActivity = performance.now();
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  if (timeoutMs !== undefined) {
    idleTimer = setInterval(
      () => {
        if (performance.now() - lastActivity >= timeoutMs) stop.abort();
      },
      Math.min(timeoutMs, 100),
    );
  }
  const reader = await api.openReader({
    topic,
    assignment,
    group,
    fromBeginning: o.fromBeginning,
    maxRecords: () => (maxMessages !== undefined ? Math.max(1, Math.min(500, maxMessages - printed)) : 500),
    pollMs: Math.min(POLL_MS, timeoutMs ?? POLL_MS),
    warn: (m) => ctx.err(m),
    signal: stop.signal,
  });
  try {
    for await (const batch of reader.batches()) {
      let out = "";
      let lastOffset = -1;
      for (const r of batch.records) {
        if (maxMessages !== undefined && printed >= maxMessages) break;
        out += format(r, batch.partition);
        printed++;
        lastOffset = r.offset;
      }
      if (lastOffset < 0) continue;
      lastActivity = performance.now();
      if (maxMessages !== undefined && printed >= maxMessages) stop.abort();
      await ctx.out(out);
      if (group !== undefined) await reader.commit(batch.partition, lastOffset + 1);
    }
  } finally {
    if (idleTimer) clearInterval(idleTimer);
    ctx.signal.removeEventListener("abort", onAbort);
    await reader.close();
  }
  ctx.err(`Processed a total of ${printed} message${printed === 1 ? "" : "s"}`);
  return 0;
}

const text = new TextDecoder();

function makeFormatter(props: Map<string, string>): Formatter {
  const flag = (k: string) => boolProperty("consume", props, k);
  const printKey = flag("print.key");
  const printValue = !props.has("print.value") || flag("print.value");
  const printTs = flag("print.timestamp");
  const printHeaders = flag("print.headers");
  const printOffset = flag("print.offset");
  const printPartition = flag("print.partition");
  const keySep = unescapeSeparator(props.get("key.separator") ?? "\t");
  const lineSep = unescapeSeparator(props.get("line.separator") ?? "\n");
  const hSep = unescapeSeparator(props.get("headers.separator") ?? ",");
  const hkSep = unescapeSeparator(props.get("headers.key.separator") ?? ":");
  const nullLiteral = props.get("null.literal") ?? "null";
  const show = (bytes: Uint8Array | null) => (bytes === null ? nullLiteral : text.decode(bytes));
  return (r, partition) => {
    let line = "";
    if (printTs) line += `CreateTime:${r.timestamp}${keySep}`;
    if (printPartition) line += `Partition:${partition}${keySep}`;
    if (printOffset) line += `Offset:${r.offset}${keySep}`;
    if (printHeaders) {
      line +=
        r.headers.length === 0
          ? "NO_HEADERS"
          : r.headers.map((h) => `${h.key}${hkSep}${show(h.value)}`).join(hSep);
      line += keySep;
    }
    if (printKey) line += show(r.key) + (printValue ? keySep : "");
    if (printValue) line += show(r.value);
    return line + lineSep;
  };
}
