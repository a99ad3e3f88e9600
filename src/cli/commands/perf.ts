/** `eddy perf produce|consume` — throughput and latency tests against a running broker. */
import { UsageError } from "../args.ts";
import type { Command } from "./command.ts";
import { PERF_CONSUME_HELP, perfConsume } from "./perf-consume.ts";
import { PERF_PRODUCE_HELP, perfProduce } from "./perf-produce.ts";

const HELP = `Usage: eddy perf (produce | consume) [options]

Load tests like kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh:
a progress bar on stderr (plain lines when stderr is not a terminal) and a
summary of records/s, MB/s and avg/p50/p95/p99/max latency on stdout.

${PERF_PRODUCE_HELP}
${PERF_CONSUME_HELP}`;

export const perfCommand: Command = {
  name: "perf",
  summary: "produce/consume throughput and latency tests",
  help: HELP,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    const wantsHelp = rest.includes("--help") || rest.includes("-h");
    if (sub === "produce") {
      if (wantsHelp) return ctx.out(PERF_PRODUCE_HELP).then(() => 0);
      return perfProduce(rest, ctx);
    }
    if (sub === "consume") {
      if (wantsHelp) return ctx.out(PERF_CONSUME_HELP).then(() => 0);
      return perfConsume(rest, ctx);
    }
    throw new UsageError(
      "perf",
      sub === undefined ? "give produce or consume" : `unknown perf test "${sub}"`,
    );
  },
};
