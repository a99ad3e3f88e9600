/**
 * `eddy dump-log` — like kafka-dump-log.sh: read segment files directly (no
 * broker). `.log` files are walked batch by batch (header, CRC-32C check, and
 * with --deep-iteration/--print-data-log every record); `.index` and
 * `.timeindex` files list their entries (Kafka's layout: 8-byte
 * relativeOffset+position, 12-byte timestamp+relativeOffset, big-endian).
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { checkBatch, decodeBatch, iterateBatches } from "../../broker/index.ts";
import { HELP_OPTION, parseCommandArgs } from "../args.ts";
import type { Ctx } from "../io.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: eddy dump-log <file>... [--print-data-log] [--deep-iteration]

Print the contents of segment files, like kafka-dump-log.sh. Works on the
files directly; no broker is needed (stop it or copy the file if it is busy).

  <file>              a .log segment, or its .index / .timeindex
  --files a,b         files as a comma-separated list (Kafka style)
  --deep-iteration    print every record's metadata, not only batches
  --print-data-log    also print keys, values and headers (implies --deep-iteration)

Examples:
  eddy dump-log eddy-data/orders-0/00000000000000000000.log
  eddy dump-log eddy-data/orders-0/00000000000000000000.log --print-data-log
  eddy dump-log eddy-data/orders-0/00000000000000000000.index
`;

const COMPRESSION_NAMES = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

export const dumpLogCommand: Command = {
  name: "dump-log",
  summary: "print a segment file's batches and records (like kafka-dump-log.sh)",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs(
      "dump-log",
      argv,
      {
        ...HELP_OPTION,
        files: { type: "string", multiple: true },
        "print-data-log": { type: "boolean" },
        "deep-iteration": { type: "boolean" },
      },
      true,
    );
    const files = [...args.positionals, ...args.list("files", true)];
    if (files.length === 0) throw args.usage("give a segment file to dump");
    const printData = args.flag("print-data-log");
    const deep = printData || args.flag("deep-iteration");
    let failed = false;
    for (const file of files) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch (err) {
        ctx.err(`error: cannot read ${file}: ${(err as Error).message}`);
        failed = true;
        continue;
      }
      await ctx.out(`Dumping ${file}\n`);
      const base = baseOffsetOf(file);
      if (file.endsWith(".log")) {
        if (!(await dumpSegment(ctx, bytes, { deep, printData }))) failed = true;
      } else if (file.endsWith(".timeindex")) {
        await dumpTimeIndex(ctx, bytes, base);
      } else if (file.endsWith(".index")) {
        await dumpOffsetIndex(ctx, bytes, base);
      } else {
        ctx.err(`error: ${file}: expected a .log, .index or .timeindex file`);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

function baseOffsetOf(file: string): number {
  const m = /^(\d+)\./.exec(basename(file));
  return m ? Number(m[1]) : 0;
}

/** Returns false when the segment holds a corrupt batch or a torn tail. */
async function dumpSegment(ctx: Ctx, buf: Uint8Array, opts: { deep: boolean; printData: boolean }) {
  let end = 0;
  let first = true;
  let clean = true;
  for (const { header: h, pos, size } of safeIterate(buf)) {
    if (first) {
      await ctx.out(`Log starting offset: ${h.baseOffset}\n`);
      first = false;
    }
    const check = checkBatch(buf, pos, buf.length);
    const valid = check.ok;
    if (!valid) clean = false;
    const attrs = h.attributes;
    const codec = COMPRESSION_NAMES[attrs & 0x07] ?? `unknown(${attrs & 0x07})`;
    const tsType = attrs & 0x08 ? "LogAppendTime" : "CreateTime";
    const lastSeq = h.baseSequence < 0 ? -1 : h.baseSequence + h.lastOffsetDelta;
    await ctx.out(
      `baseOffset: ${h.baseOffset} lastOffset: ${h.baseOffset + h.lastOffsetDelta} count: ${h.recordCount}` +
        ` baseSequence: ${h.baseSequence} lastSequence: ${lastSeq} producerId: ${h.producerId}` +
        ` producerEpoch: ${h.producerEpoch} partitionLeaderEpoch: ${h.partitionLeaderEpoch}` +
        ` isTransactional: ${(attrs & 0x10) !== 0} isControl: ${(attrs & 0x20) !== 0}` +
        ` position: ${pos} baseTimestamp: ${h.baseTimestamp} maxTimestamp: ${h.maxTimestamp}` +
        ` timestampType: ${tsType} size: ${size} magic: ${h.magic} compresscodec: ${codec}` +
        ` crc: ${h.crc >>> 0} isvalid: ${valid}${check.ok ? "" : ` (${check.message})`}\n`,
    );
    if (opts.deep) await dumpRecords(ctx, buf, pos, h.baseSequence, opts.printData);
    end = pos + size;
  }
  if (first) await ctx.out("Log starting offset: (empty segment)\n");
  if (end < buf.length) {
    clean = false;
    await ctx.out(
      `Found ${buf.length - end} bytes at position ${end} that are not a complete batch (torn or corrupt tail)\n`,
    );
  }
  return clean;
}

/** iterateBatches, stopping (instead of throwing) at a header it cannot read. */
function* safeIterate(buf: Uint8Array) {
  try {
    for (const b of iterateBatches(buf, 0, buf.length)) {
      if (b.size <= 0 || b.pos + b.size > buf.length) return;
      yield b;
    }
  } catch {
    return;
  }
}

async function dumpRecords(ctx: Ctx, buf: Uint8Array, pos: number, baseSequence: number, printData: boolean) {
  let decoded: ReturnType<typeof decodeBatch>;
  try {
    decoded = decodeBatch(buf, pos);
  } catch (err) {
    await ctx.out(`| cannot decode records: ${(err as Error).message}\n`);
    return;
  }
  const tsType = decoded.header.attributes & 0x08 ? "LogAppendTime" : "CreateTime";
  for (const r of decoded.records) {
    const seq = baseSequence < 0 ? -1 : baseSequence + (r.offset - decoded.header.baseOffset);
    let line =
      `| offset: ${r.offset} ${tsType}: ${r.timestamp} keySize: ${r.key ? r.key.length : -1}` +
      ` valueSize: ${r.value ? r.value.length : -1} sequence: ${seq}` +
      ` headerKeys: [${r.headers.map((x) => x.key).join(",")}]`;
    if (printData) {
      line += ` key: ${showBytes(r.key)} payload: ${showBytes(r.value)}`;
      if (r.headers.length > 0) {
        line += ` headers: ${r.headers.map((x) => `${x.key}:${showBytes(x.value)}`).join(",")}`;
      }
    }
    await ctx.out(`${line}\n`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 text when it is text, else 0x-hex (first 64 bytes). */
export function showBytes(b: Uint8Array | null): string {
  if (b === null) return "null";
  try {
    const s = utf8.decode(b);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting binary data
    if (!/[\x00-\x08\x0e-\x1f]/.test(s)) return s;
  } catch {
    // not UTF-8: fall through to hex
  }
  const hex = Buffer.from(b.subarray(0, 64)).toString("hex");
  return `0x${hex}${b.length > 64 ? "..." : ""}`;
}

async function dumpOffsetIndex(ctx: Ctx, buf: Uint8Array, base: number) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let n = 0;
  for (let p = 0; p + 8 <= buf.length; p += 8) {
    const rel = view.getUint32(p);
    const position = view.getUint32(p + 4);
    if (n > 0 && rel === 0 && position === 0) break; // preallocated, unused space
    await ctx.out(`offset: ${base + rel} position: ${position}\n`);
    n++;
  }
  await ctx.out(`${n} entries\n`);
}

async function dumpTimeIndex(ctx: Ctx, buf: Uint8Array, base: number) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let n = 0;
  for (let p = 0; p + 12 <= buf.length; p += 12) {
    const ts = Number(view.getBigInt64(p));
    const rel = view.getUint32(p + 8);
    if (n > 0 && ts === 0 && rel === 0) break;
    await ctx.out(`timestamp: ${ts} offset: ${base + rel}\n`);
    n++;
  }
  await ctx.out(`${n} entries\n`);
}
