/**
 * `eddy reassign` — partition reassignment over the HTTP API
 * (/v1/cluster/reassignments), shaped like Kafka's kafka-reassign-partitions:
 * generate a plan, --execute it (and watch it finish), --verify, --cancel.
 */
import { readFile } from "node:fs/promises";
import { type Args, parseCommandArgs } from "../args.ts";
import type { HttpClient } from "../client.ts";
import { table } from "../format.ts";
import { type Ctx, sleep } from "../io.ts";
import { formatReassignments, partitionKey, type ReassignmentView } from "../reassignments.ts";
import { type Command, connectHttp, HTTP_CLIENT_HELP, HTTP_CLIENT_OPTIONS } from "./command.ts";
import { type PlanMove, PlanError, planAddNode, planRemoveNode } from "./reassign-plan.ts";

const HELP = `Usage: eddy reassign --remove-node N [--execute] [options]
       eddy reassign --add-node N [--execute] [options]
       eddy reassign --topic T --partition P --replicas 1,2,3 [--execute] [options]
       eddy reassign --plan FILE --execute [options]
       eddy reassign --verify [options]
       eddy reassign --cancel [--topic T [--partition P]] [options]

Moves partition replicas between the data nodes of a cluster, as Kafka does:
the new replicas copy the log from the leader, join the in-sync replicas, then
leadership moves off a removed leader and the removed replicas delete their
logs. Writes go on throughout; nothing acknowledged is lost.

Without --execute a plan is printed (--json prints it as a plan file for
--plan). With --execute the plan starts and the command waits, showing progress,
until every partition has moved (Ctrl-C stops waiting; the reassignment goes
on). In-progress reassignments survive a controller failover.

  --remove-node N     move every replica off node N (before taking it out of
                      the cluster)
  --add-node N        give node N (a new, empty data node) its share of replicas
  --topic T --partition P --replicas LIST
                      move one partition to these replicas (preferred leader
                      first); the replication factor may change
  --plan FILE         a plan printed by --json: {"partitions":[{topic,partition,replicas}]}
  --execute           start the plan
  --no-wait           with --execute: return once the controller accepted it
  --timeout SECONDS   with --execute: give up waiting after this long (exit 1)
  --verify            list the reassignments in progress (also: eddy reassign status)
  --cancel            cancel reassignments in progress (all, or --topic's, or
                      one --partition's): back to the original replicas
  --json              print JSON instead of tables
  --poll-ms MS        how often to check progress (default 1000)
${HTTP_CLIENT_HELP}

Examples:
  eddy reassign --remove-node 3
  eddy reassign --remove-node 3 --execute
  eddy reassign --add-node 4 --execute --url http://gateway-1:8080
  eddy reassign --topic telemetry --partition 0 --replicas 2,3 --execute
  eddy reassign --verify
  eddy reassign --cancel --topic telemetry
`;

const OPTIONS = {
  ...HTTP_CLIENT_OPTIONS,
  "remove-node": { type: "string" },
  "add-node": { type: "string" },
  topic: { type: "string" },
  partition: { type: "string" },
  replicas: { type: "string" },
  plan: { type: "string" },
  execute: { type: "boolean" },
  "no-wait": { type: "boolean" },
  timeout: { type: "string" },
  verify: { type: "boolean" },
  cancel: { type: "boolean" },
  json: { type: "boolean" },
  "poll-ms": { type: "string" },
} as const;

/** The parts of GET /v1/cluster a plan needs. */
interface ClusterBody {
  mode: "single" | "cluster";
  nodes: Array<{ id: number; witness?: boolean }>;
  partitions: Array<{ topic: string; partition: number; replicas: number[] }>;
  reassignments?: ReassignmentView[];
}

interface PlanFile {
  partitions: Array<{ topic: string; partition: number; replicas: number[] }>;
}

export const reassignCommand: Command = {
  name: "reassign",
  summary: "move partition replicas between nodes (add or remove a node), verify, cancel",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("reassign", argv, OPTIONS, true);
    const [action, ...extra] = args.positionals;
    if (action !== undefined && action !== "status") throw args.usage(`unknown action "${action}"`);
    if (extra.length > 0) throw args.usage(`unexpected argument "${extra[0]}"`);
    const modes = ["remove-node", "add-node", "replicas", "plan", "verify", "cancel"].filter((m) =>
      args.has(m),
    );
    if (action === "status" && modes.length === 0) modes.push("verify");
    if (modes.length === 0) {
      throw args.usage("give one of --remove-node, --add-node, --replicas, --plan, --verify, --cancel");
    }
    if (modes.length > 1) throw args.usage(`give only one of ${modes.map((m) => `--${m}`).join(", ")}`);
    const mode = modes[0]!;
    if (args.has("execute") && (mode === "verify" || mode === "cancel")) {
      throw args.usage(`--execute does not go with --${mode}`);
    }
    const http = await connectHttp(args, ctx);
    if (mode === "verify") return verify(args, ctx, http);
    if (mode === "cancel") return cancel(args, ctx, http);
    const moves = await plan(args, ctx, http, mode);
    if (!args.flag("execute")) {
      await printPlan(args, ctx, moves, mode);
      return 0;
    }
    if (moves.length === 0) {
      await ctx.out("Nothing to move: the plan is empty.\n");
      return 0;
    }
    return execute(args, ctx, http, moves);
  },
};

async function plan(args: Args, ctx: Ctx, http: HttpClient, mode: string): Promise<PlanMove[]> {
  const view = await http.request<ClusterBody>("GET", "/v1/cluster", {
    signal: ctx.signal,
  });
  if (view.mode !== "cluster") throw args.usage("this broker is a single node: there is nothing to reassign");
  const partitions = view.partitions;
  const current = (topic: string, partition: number): number[] => {
    const p = partitions.find((x) => x.topic === topic && x.partition === partition);
    if (!p) throw args.usage(`no partition ${topic}-${partition} in the cluster`);
    return p.replicas;
  };
  if (mode === "replicas") {
    const topic = args.required("topic", "with --replicas");
    const partition = args.requiredInt("partition", { min: 0 }, "with --replicas");
    const replicas = parseNodeList(args, args.required("replicas"));
    return [{ topic, partition, current: current(topic, partition), replicas }];
  }
  if (mode === "plan") {
    const file = JSON.parse(await readFile(args.required("plan"), "utf8")) as PlanFile;
    if (!Array.isArray(file?.partitions)) throw args.usage('the plan file needs {"partitions": [...]}');
    return file.partitions.map((p) => ({ ...p, current: current(p.topic, p.partition) }));
  }
  const inProgress = view.reassignments ?? [];
  if (inProgress.length > 0) {
    throw args.usage(
      `${inProgress.length} reassignment(s) are in progress: wait for them (eddy reassign --verify) or cancel them first`,
    );
  }
  const nodes = view.nodes.map((n) => ({ id: n.id, witness: n.witness === true }));
  try {
    return mode === "remove-node"
      ? planRemoveNode(nodes, partitions, args.requiredInt("remove-node", { min: 0 }))
      : planAddNode(nodes, partitions, args.requiredInt("add-node", { min: 0 }));
  } catch (err) {
    if (err instanceof PlanError) throw args.usage(err.message);
    throw err;
  }
}

function parseNodeList(args: Args, text: string): number[] {
  const ids = text.split(",").map((s) => s.trim());
  if (ids.some((s) => !/^\d+$/.test(s))) {
    throw args.usage(`--replicas expects node ids separated by commas, got "${text}"`);
  }
  return ids.map(Number);
}

async function printPlan(args: Args, ctx: Ctx, moves: PlanMove[], mode: string): Promise<void> {
  if (args.flag("json")) {
    const file: PlanFile = {
      partitions: moves.map((m) => ({ topic: m.topic, partition: m.partition, replicas: m.replicas })),
    };
    await ctx.out(`${JSON.stringify(file, null, 2)}\n`);
    return;
  }
  if (moves.length === 0) {
    await ctx.out(
      mode === "add-node"
        ? "Nothing to move: the node already holds its share of replicas.\n"
        : "Nothing to move: no partition has a replica there.\n",
    );
    return;
  }
  await ctx.out(
    `Plan: ${moves.length} partition(s) to move.\n\n${table(
      ["TOPIC", "PARTITION", "CURRENT", "TARGET"],
      moves.map((m) => [m.topic, m.partition, m.current.join(","), m.replicas.join(",")]),
    )}\nRun the same command with --execute to start it.\n`,
  );
}

async function execute(args: Args, ctx: Ctx, http: HttpClient, moves: PlanMove[]): Promise<number> {
  const pollMs = args.int("poll-ms", { min: 10 }) ?? 1000;
  const timeoutS = args.int("timeout", { min: 1 });
  const body = {
    partitions: moves.map((m) => ({ topic: m.topic, partition: m.partition, replicas: m.replicas })),
  };
  await http.request("POST", "/v1/cluster/reassignments", { body, signal: ctx.signal });
  ctx.err(`Started the reassignment of ${moves.length} partition(s).`);
  if (args.flag("no-wait")) {
    await ctx.out("Accepted; follow it with: eddy reassign --verify\n");
    return 0;
  }
  const wanted = new Set(moves.map(partitionKey));
  const deadline = timeoutS === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutS * 1000;
  let last = "";
  for (;;) {
    const { reassignments } = await http.request<{ reassignments: ReassignmentView[] }>(
      "GET",
      "/v1/cluster/reassignments",
      { signal: ctx.signal },
    );
    const left = reassignments.filter((r) => wanted.has(partitionKey(r)));
    if (left.length === 0) {
      await ctx.out(`Reassignment complete: ${moves.length} partition(s) moved.\n`);
      return 0;
    }
    const line = `${moves.length - left.length}/${moves.length} partition(s) done; waiting for ${left
      .slice(0, 3)
      .map(progressOf)
      .join("; ")}${left.length > 3 ? `; and ${left.length - 3} more` : ""}`;
    if (line !== last) ctx.err(line);
    last = line;
    if (performance.now() >= deadline) {
      ctx.err(
        `Still in progress after ${timeoutS} s; it goes on in the background (eddy reassign --verify, or --cancel).`,
      );
      return 1;
    }
    await sleep(pollMs, ctx.signal);
    if (ctx.signal.aborted) {
      ctx.err("Stopped waiting; the reassignment goes on (eddy reassign --verify).");
      return 130;
    }
  }
}

function progressOf(r: ReassignmentView): string {
  const joining = r.targetReplicas.filter((x) => !r.isr.includes(x));
  return joining.length > 0
    ? `${r.topic}-${r.partition} (node ${joining.join(",")} catching up to join the ISR ${r.isr.join(",")})`
    : `${r.topic}-${r.partition} (handing over)`;
}

async function verify(args: Args, ctx: Ctx, http: HttpClient): Promise<number> {
  const { reassignments } = await http.request<{ reassignments: ReassignmentView[] }>(
    "GET",
    "/v1/cluster/reassignments",
    { signal: ctx.signal },
  );
  if (args.flag("json")) {
    await ctx.out(`${JSON.stringify({ reassignments }, null, 2)}\n`);
    return 0;
  }
  if (reassignments.length === 0) {
    await ctx.out("No reassignments in progress.\n");
    return 0;
  }
  await ctx.out(
    `${reassignments.length} reassignment(s) in progress:\n\n${formatReassignments(reassignments)}`,
  );
  return 0;
}

async function cancel(args: Args, ctx: Ctx, http: HttpClient): Promise<number> {
  if (args.has("partition") && !args.has("topic")) throw args.usage("--partition needs --topic");
  const query = { topic: args.string("topic"), partition: args.int("partition", { min: 0 }) };
  const { cancelled } = await http.request<{ cancelled: Array<{ topic: string; partition: number }> }>(
    "DELETE",
    "/v1/cluster/reassignments",
    { query, signal: ctx.signal },
  );
  if (args.flag("json")) {
    await ctx.out(`${JSON.stringify({ cancelled }, null, 2)}\n`);
    return 0;
  }
  await ctx.out(
    `Cancelled ${cancelled.length} reassignment(s): ${cancelled.map((c) => `${c.topic}-${c.partition}`).join(", ")} (back to their original replicas).\n`,
  );
  return 0;
}
