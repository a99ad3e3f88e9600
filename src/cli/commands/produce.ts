/**
 * `eddy produce` — a console producer like kafka-console-producer.sh: each
 * stdin line becomes a record. Lines are batched (every --batch-size lines,
 * ~256 KiB, or after --linger-ms without input) and sent one request at a
 * time, so records keep their order and a slow broker slows the reading of
 * stdin (backpressure) instead of filling memory.
 */
import { boolProperty, parseCommandArgs, parseKeyValues, unescapeSeparator } from "../args.ts";
import type { Acks, CliBackend, ProduceRecord } from "../backend.ts";
import type { Ctx } from "../io.ts";
import { readLines } from "../lines.ts";
import { CLIENT_HELP, CLIENT_OPTIONS, type Command, withBackend } from "./command.ts";

const HELP = `Usage: eddy produce --topic T [options] < lines

Read lines from stdin and append each as a record, like kafka-console-producer.sh.
Prints nothing on success (a summary goes to stderr at end of input).

  --topic T                 the topic
  --partition N             write every record to partition N (default: by key, or spread)
  --acks 0|1|all            acknowledgement level (default all)
  --headers                 lines start with headers (same as --property parse.headers=true)
  --batch-size N            records per request (default 500)
  --linger-ms N             send a partial batch after this long without input (default 50)
  --verbose                 print each batch's partition and offsets to stderr
  --property k=v            reader properties, as in Kafka:
      parse.key=true          lines are KEY<key.separator>VALUE
      key.separator=:         (default \\t)
      parse.headers=true      lines are H1:V1,H2:V2<headers.delimiter>...
      headers.delimiter=\\t    headers.separator=,    headers.key.separator=:
      null.marker=NULL        a key or value equal to this is sent as null (a tombstone)
${CLIENT_HELP}
Examples:
  echo 'hello' | eddy produce --topic telemetry
  printf 'dev1:21.5\\ndev2:19.0\\n' | eddy produce --topic telemetry --property parse.key=true --property key.separator=:
  printf 'source:gw1\\tdev1\\t21.5\\n' | eddy produce --topic telemetry --headers --property parse.key=true
  eddy produce --topic telemetry --acks 1 < readings.txt
`;

const PROPERTIES = [
  "parse.key",
  "key.separator",
  "parse.headers",
  "headers.delimiter",
  "headers.separator",
  "headers.key.separator",
  "null.marker",
] as const;

const OPTIONS = {
  ...CLIENT_OPTIONS,
  topic: { type: "string" },
  partition: { type: "string" },
  acks: { type: "string" },
  headers: { type: "boolean" },
  "batch-size": { type: "string" },
  "linger-ms": { type: "string" },
  verbose: { type: "boolean" },
  property: { type: "string", multiple: true },
} as const;

const MAX_BATCH_BYTES = 256 * 1024;

export function parseAcks(text: string | undefined, usage: (m: string) => Error): Acks {
  if (text === undefined || text === "all" || text === "-1") return -1;
  if (text === "0") return 0;
  if (text === "1") return 1;
  throw usage(`--acks expects 0, 1 or all, got "${text}"`);
}

interface LineFormat {
  parseKey: boolean;
  keySeparator: string;
  parseHeaders: boolean;
  headersDelimiter: string;
  headersSeparator: string;
  headersKeySeparator: string;
  nullMarker: string | undefined;
}

export const produceCommand: Command = {
  name: "produce",
  summary: "console producer: stdin lines become records",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("produce", argv, OPTIONS);
    const topic = args.required("topic");
    const partition = args.int("partition", { min: 0 });
    const acks = parseAcks(args.string("acks"), (m) => args.usage(m));
    const batchSize = args.int("batch-size", { min: 1, max: 100_000 }) ?? 500;
    const lingerMs = args.int("linger-ms", { min: 0 }) ?? 50;
    const props = parseKeyValues("produce", "--property", args.list("property"), PROPERTIES);
    const fmt: LineFormat = {
      parseKey: boolProperty("produce", props, "parse.key"),
      keySeparator: unescapeSeparator(props.get("key.separator") ?? "\t"),
      parseHeaders: args.flag("headers") || boolProperty("produce", props, "parse.headers"),
      headersDelimiter: unescapeSeparator(props.get("headers.delimiter") ?? "\t"),
      headersSeparator: unescapeSeparator(props.get("headers.separator") ?? ","),
      headersKeySeparator: unescapeSeparator(props.get("headers.key.separator") ?? ":"),
      nullMarker: props.get("null.marker"),
    };
    if (fmt.keySeparator === "") throw args.usage("key.separator must not be empty");
    const verbose = args.flag("verbose");
    return withBackend(args, ctx, async (api) => {
      await api.ping(); // say "no broker" before waiting on stdin
      return produceLines(api, ctx, { topic, partition, acks, batchSize, lingerMs, fmt, verbose });
    });
  },
};

interface ProduceLinesOptions {
  topic: string;
  partition: number | undefined;
  acks: Acks;
  batchSize: number;
  lingerMs: number;
  fmt: LineFormat;
  verbose: boolean;
}

async function produceLines(api: CliBackend, ctx: Ctx, o: ProduceLinesOptions): Promise<number> {
  const { topic, partition, acks, batchSize, lingerMs, fmt, verbose } = o;
  const started = performance.now();

  const sender = new BatchSender(api, topic, acks, (msg) => {
    if (verbose) ctx.err(msg);
  });
  let buffer: ProduceRecord[] = [];
  let bufferBytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lineNo = 0;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return sender.idle();
    const batch = buffer;
    buffer = [];
    bufferBytes = 0;
    return sender.send(batch);
  };
  try {
    for await (const line of readLines(ctx.stdin, ctx.signal)) {
      lineNo++;
      const rec = parseLine(line, fmt, lineNo);
      if (partition !== undefined) rec.partition = partition;
      buffer.push(rec);
      bufferBytes += line.length + 32;
      if (buffer.length >= batchSize || bufferBytes >= MAX_BATCH_BYTES) {
        await flush(); // waits for the request: backpressure on stdin
      } else if (!timer) {
        timer = setTimeout(() => void flush(), lingerMs);
      }
      sender.throwIfFailed();
    }
    await flush();
  } finally {
    if (timer) clearTimeout(timer);
  }
  await sender.idle();
  sender.throwIfFailed();
  const secs = (performance.now() - started) / 1000;
  ctx.err(
    `Produced ${sender.sent} record${sender.sent === 1 ? "" : "s"} to topic ${topic} in ${secs.toFixed(2)} s`,
  );
  return 0;
}

/** Sends batches strictly one after another; remembers the first failure. */
class BatchSender {
  sent = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private readonly api: CliBackend;
  private readonly topic: string;
  private readonly acks: Acks;
  private readonly log: (msg: string) => void;

  constructor(api: CliBackend, topic: string, acks: Acks, log: (msg: string) => void) {
    this.api = api;
    this.topic = topic;
    this.acks = acks;
    this.log = log;
  }

  send(records: ProduceRecord[]): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        const offsets = await this.api.produce(this.topic, records, this.acks);
        this.sent += records.length;
        for (const [p, range] of offsetRanges(offsets)) {
          this.log(`sent ${range.count} record(s) to partition ${p}: offsets ${range.first}..${range.last}`);
        }
      } catch (err) {
        this.failure = err;
      }
    });
    return this.chain;
  }

  idle(): Promise<void> {
    return this.chain;
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

function parseLine(line: string, fmt: LineFormat, lineNo: number): ProduceRecord {
  let rest = line;
  const rec: ProduceRecord = { value: null };
  if (fmt.parseHeaders) {
    const i = rest.indexOf(fmt.headersDelimiter);
    if (i < 0)
      throw new Error(`line ${lineNo} has no headers delimiter ${JSON.stringify(fmt.headersDelimiter)}`);
    const text = rest.slice(0, i);
    rest = rest.slice(i + fmt.headersDelimiter.length);
    if (text !== "" && text !== fmt.nullMarker) {
      rec.headers = text.split(fmt.headersSeparator).map((h) => {
        const j = h.indexOf(fmt.headersKeySeparator);
        if (j < 0) return { key: h, value: null };
        const v = h.slice(j + fmt.headersKeySeparator.length);
        return { key: h.slice(0, j), value: v === fmt.nullMarker ? null : v };
      });
    }
  }
  if (fmt.parseKey) {
    const i = rest.indexOf(fmt.keySeparator);
    if (i < 0) {
      throw new Error(
        `line ${lineNo} has no key separator ${JSON.stringify(fmt.keySeparator)}: ` +
          "write KEY<separator>VALUE or drop --property parse.key=true",
      );
    }
    const key = rest.slice(0, i);
    rec.key = key === fmt.nullMarker ? null : key;
    rest = rest.slice(i + fmt.keySeparator.length);
  }
  rec.value = rest === fmt.nullMarker ? null : rest;
  return rec;
}

/** Per partition: how many records and their first/last offsets (-1 with acks=0). */
function offsetRanges(records: Array<{ partition: number; offset: number }>) {
  const out = new Map<number, { count: number; first: number; last: number }>();
  for (const r of records) {
    const cur = out.get(r.partition);
    if (cur) {
      cur.count++;
      cur.last = r.offset;
    } else out.set(r.partition, { count: 1, first: r.offset, last: r.offset });
  }
  return out;
}
