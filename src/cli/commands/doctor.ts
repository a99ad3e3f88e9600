/** `eddy doctor`: check that this machine and configuration are ready for `eddy serve`. */
import { ConfigError } from "../../config/errors.ts";
import { parseServeArgs } from "../../config/flags.ts";
import { UsageError } from "../args.ts";
import { formatReport, runDoctor } from "../doctor/run.ts";
import type { Command } from "./command.ts";

const HELP = `Usage: eddy doctor [the options you give eddy serve]

Checks what \`eddy serve\` needs and says what to fix. Give it the same options
as \`eddy serve\` (the same config file, environment and flags):

  config       the configuration loads: every key known, every value valid
  listeners    one line per listener (http, kafka, mqtt, mqtt_tls with a certificate,
               coap, peer with cluster.peers): its address can be bound over its own
               transport, TCP or UDP for CoAP (or an Eddy broker already answers there)
  data dir     the data directory exists (or can be created) and is writable
  disk         free space, against broker.min_free_disk_bytes (fail) and 1 GiB (warn)
  fsync        latency of 20 × 4 KiB write + fdatasync in the data directory
               (warns above p50 10 ms or p99 50 ms: typical of SD cards)
  peer N       each other node in [[cluster.peers]] answers a ping over HTTP/2 with
               cluster.secret (and the cluster TLS files): round-trip time, or why
               not (unreachable, secret mismatch, TLS, URL reaching another node)

Options:
  -c, --config FILE        the TOML file eddy serve reads
      --data-dir DIR       the data directory
      --http-listen H:P    the HTTP listener
      --set KEY=VALUE      any other config key
  -h, --help               show this help

Exit code 0 when nothing failed (warnings allowed), 1 when a check failed,
2 for unknown options.

Examples:
  eddy doctor
  eddy doctor --config /etc/eddy/eddy.toml
  sudo -u eddy eddy doctor --config /etc/eddy/eddy.toml
`;

export const doctorCommand: Command = {
  name: "doctor",
  summary: "check ports, data directory, disk, fsync latency, config and peers; say what to fix",
  help: HELP,
  async run(argv, ctx) {
    let args: ReturnType<typeof parseServeArgs>;
    try {
      args = parseServeArgs(argv);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError("doctor", err.issues.join("; "));
      throw err;
    }
    const report = await runDoctor({ configFile: args.configFile, flags: args.settings, env: ctx.env });
    await ctx.out(formatReport(report));
    return report.failed > 0 ? 1 : 0;
  },
};
