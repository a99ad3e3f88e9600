/**
 * The replication fault checker: three eddy processes on loopback, every peer
 * link behind a fault proxy, acks=all producers (RF=3, min.insync.replicas=2)
 * throughout, N nemesis cycles, then the Jepsen-style checker over the history
 * and the final reads (test/cluster/chaos/).
 *
 *   bun scripts/chaos/run.ts --cycles 50 [--seed 1] [--faults kill-leader,asymmetric]
 *       [--fault-ms 3000] [--producers 6] [--partitions 3] [--binary dist/eddy]
 *       [--history out.json]
 *
 * Prints each cycle, then the checker's report; exits 1 when it found an anomaly
 * (or a cycle did not recover). --history writes the ops and cycles as JSON.
 */
import fs from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { formatReport } from "../../test/cluster/chaos/checker.ts";
import { type Fault, FAULTS } from "../../test/cluster/chaos/nemesis.ts";
import { runChaos } from "../../test/cluster/chaos/run-chaos.ts";

const { values: args } = parseArgs({
  options: {
    cycles: { type: "string", default: "50" },
    seed: { type: "string", default: "1" },
    faults: { type: "string", default: FAULTS.join(",") },
    "fault-ms": { type: "string", default: "3000" },
    producers: { type: "string", default: "6" },
    partitions: { type: "string", default: "3" },
    binary: { type: "string" },
    history: { type: "string" },
  },
});

const faults = args.faults.split(",").map((f) => f.trim());
for (const f of faults) {
  if (!(FAULTS as readonly string[]).includes(f)) {
    console.error(`unknown fault "${f}": choose from ${FAULTS.join(", ")}`);
    process.exit(2);
  }
}

const startedAt = new Date();
const t0 = performance.now();
const log = (line: string): void => {
  console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
};
const result = await runChaos({
  cycles: Number(args.cycles),
  seed: Number(args.seed),
  faults: faults as Fault[],
  faultMs: Number(args["fault-ms"]),
  producers: Number(args.producers),
  partitions: Number(args.partitions),
  binary: args.binary,
  log,
});

const byFault = new Map<string, number>();
for (const c of result.cycles) byFault.set(c.fault, (byFault.get(c.fault) ?? 0) + 1);
const recovered = result.cycles.map((c) => c.recoveredMs).sort((a, b) => a - b);
const stuck = result.cycles.filter((c) => c.stuck);
const pct = (q: number): number =>
  recovered[Math.min(recovered.length - 1, Math.floor(q * recovered.length))] ?? 0;

console.log("\n== replication fault checker ==");
console.log(
  `date ${startedAt.toISOString()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${os.platform()} ${os.release()}, bun ${Bun.version}`,
);
console.log(
  `cluster: 3 nodes (${args.binary ?? "bun src/main.ts"}), topic ${result.topic}: ${args.partitions} partitions, RF=3, min.insync.replicas=2, acks=all, ${args.producers} producers`,
);
console.log(
  `cycles ${result.cycles.length} in ${(result.durationMs / 1000).toFixed(0)} s; faults: ${[...byFault].map(([f, n]) => `${f} ×${n}`).join(", ")}`,
);
console.log(
  `recovery (heal → full ISR everywhere): p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; cycles that did not recover: ${stuck.length}`,
);
for (const c of stuck) console.log(`  cycle ${c.cycle} (${c.detail}): ${c.stuck}`);
console.log(
  `writes resumed after every heal: ${result.cycles.every((c) => c.okAfterHeal > 0) ? "yes" : "NO"}`,
);
console.log(formatReport(result.report));
if (args.history) {
  fs.writeFileSync(
    args.history,
    JSON.stringify({ cycles: result.cycles, report: result.report, history: result.history }),
  );
  console.log(`history written to ${args.history}`);
}
process.exit(result.report.valid && stuck.length === 0 ? 0 : 1);
