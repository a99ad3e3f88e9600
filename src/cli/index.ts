/**
 * The `eddy` CLI (everything but `serve` and `version`, which src/main.ts
 * handles): dispatch to one command per file in ./commands, top-level help,
 * and the exit-code contract: 0 ok, 1 error, 2 usage error, 130 interrupted.
 *
 * Errors print as `error CODE: message` (API errors) or `error: message`.
 */
import { UsageError } from "./args.ts";
import { ApiError, NoBrokerError } from "./client.ts";
import type { Command } from "./commands/command.ts";
import { clusterCommand } from "./commands/cluster.ts";
import { configsCommand } from "./commands/configs.ts";
import { consumeCommand } from "./commands/consume.ts";
import { deleteRecordsCommand } from "./commands/delete-records.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { dumpLogCommand } from "./commands/dump-log.ts";
import { groupsCommand } from "./commands/groups.ts";
import { mirrorCommand } from "./commands/mirror.ts";
import { mqttCommand } from "./commands/mqtt.ts";
import { passwdCommand } from "./commands/passwd.ts";
import { perfCommand } from "./commands/perf.ts";
import { produceCommand } from "./commands/produce.ts";
import { reassignCommand } from "./commands/reassign.ts";
import { topicsCommand } from "./commands/topics.ts";
import { type CliIo, type Ctx, defaultIo, makeCtx } from "./io.ts";

export type { CliIo } from "./io.ts";

export const ExitCode = { OK: 0, ERROR: 1, USAGE: 2, INTERRUPTED: 130 } as const;

export const COMMANDS: readonly Command[] = [
  topicsCommand,
  configsCommand,
  produceCommand,
  consumeCommand,
  groupsCommand,
  deleteRecordsCommand,
  dumpLogCommand,
  perfCommand,
  doctorCommand,
  mqttCommand,
  mirrorCommand,
  passwdCommand,
  clusterCommand,
  reassignCommand,
];

export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), "version".length);
  const line = (name: string, text: string) => `  ${name.padEnd(width)}  ${text}\n`;
  return (
    "Usage: eddy [command] [options]\n\n" +
    "Eddy is a Kafka-style streaming broker for the edge, in one executable.\n\n" +
    "Commands:\n" +
    line("serve", "run the broker (the default with no command); see `eddy serve --help`") +
    COMMANDS.map((c) => line(c.name, c.summary)).join("") +
    line("version", "print the version") +
    "\nClient commands reach a running broker over HTTP: --url URL, $EDDY_URL, or the\n" +
    "address the broker wrote to <data-dir>/listeners.json (default ./eddy-data); or over\n" +
    "the Kafka protocol with --bootstrap-server HOST:PORT (Eddy's or any Kafka broker).\n\n" +
    "Examples:\n" +
    "  eddy serve --data-dir ./eddy-data --http-listen 127.0.0.1:8080\n" +
    "  eddy topics --create --topic telemetry --partitions 3\n" +
    "  echo 'hello' | eddy produce --topic telemetry\n" +
    "  eddy consume --topic telemetry --from-beginning --max-messages 1\n" +
    "  eddy topics --list --bootstrap-server 127.0.0.1:9092\n\n" +
    "Run `eddy <command> --help` for a command's options.\n"
  );
}

/** Run one CLI command; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const controller = new AbortController();
  const removeSigint = io.signal ? linkSignal(io.signal, controller) : installSigint(controller);
  const ctx = makeCtx(io, controller.signal);
  try {
    return await dispatch(argv, ctx);
  } catch (err) {
    return report(err, ctx);
  } finally {
    removeSigint();
  }
}

async function dispatch(argv: string[], ctx: Ctx): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    const cmd = topic ? COMMANDS.find((c) => c.name === topic) : undefined;
    if (topic && !cmd) throw new UsageError("", `unknown command "${topic}"`);
    await ctx.out(cmd ? cmd.help : topLevelHelp());
    return ExitCode.OK;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw new UsageError("", `unknown command "${name}"`);
  const wantsHelp = cmd.name === "perf" ? rest[0] === "--help" || rest[0] === "-h" : rest.some(isHelpFlag);
  if (wantsHelp) {
    await ctx.out(cmd.help);
    return ExitCode.OK;
  }
  return cmd.run(rest, ctx);
}

function isHelpFlag(a: string): boolean {
  return a === "--help" || a === "-h";
}

function report(err: unknown, ctx: Ctx): number {
  if (err instanceof UsageError) {
    const help = err.command ? `eddy ${err.command} --help` : "eddy --help";
    ctx.err(`error: ${err.message}\nRun \`${help}\` for usage.`);
    return ExitCode.USAGE;
  }
  if (ctx.signal.aborted && (err as { name?: string } | null)?.name === "AbortError") {
    ctx.err("interrupted");
    return ExitCode.INTERRUPTED;
  }
  if (err instanceof ApiError) {
    ctx.err(`error ${err.code}: ${err.message}`);
    return ExitCode.ERROR;
  }
  if (err instanceof NoBrokerError) {
    ctx.err(`error: ${err.message}`);
    return ExitCode.ERROR;
  }
  ctx.err(`error: ${err instanceof Error ? err.message : String(err)}`);
  return ExitCode.ERROR;
}

/** Ctrl-C aborts the running command (which then stops cleanly); a second Ctrl-C exits at once. */
function installSigint(controller: AbortController): () => void {
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  return () => {
    process.off("SIGINT", onSigint);
  };
}

function linkSignal(signal: AbortSignal, controller: AbortController): () => void {
  const onAbort = () => controller.abort();
  if (signal.aborted) controller.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}
