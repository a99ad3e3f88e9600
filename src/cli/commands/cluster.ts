/** `eddy cluster` — nodes, controller, partition leaders and ISR of a running broker, over its HTTP API. */
import { parseCommandArgs } from "../args.ts";
import { table } from "../format.ts";
import { formatReassignments, partitionKey, type ReassignmentView } from "../reassignments.ts";
import { type Command, connectHttp, HTTP_CLIENT_HELP, HTTP_CLIENT_OPTIONS } from "./command.ts";

const HELP = `Usage: eddy cluster [status] [options]

The cluster as one running broker sees it (over its HTTP API, GET /v1/cluster):
its nodes and their Kafka addresses, the controller (the metadata leader), and
per partition the leader, leader epoch, replicas and in-sync replicas (ISR).
Partition reassignments in progress (eddy reassign) follow, with the replicas
being added and removed; then the under-replicated partitions (ISR smaller
than the replicas) and offline partitions (no leader). A single node reports
itself.

Options:
  --json               print the API's JSON instead of tables
  --under-replicated   list only under-replicated and offline partitions (and
                       how many reassignments are in progress)
${HTTP_CLIENT_HELP}

Examples:
  eddy cluster
  eddy cluster --under-replicated --url http://gateway-2:8080
  EDDY_TOKEN=… eddy cluster --json
`;

const OPTIONS = {
  ...HTTP_CLIENT_OPTIONS,
  json: { type: "boolean" },
  "under-replicated": { type: "boolean" },
} as const;

interface PartitionView {
  topic: string;
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

/** The body of GET /v1/cluster (src/http/routes/cluster.ts). */
export interface ClusterView {
  mode: "single" | "cluster";
  nodeId: number;
  controllerId: number | null;
  nodes: Array<{ id: number; kafkaHost: string | null; kafkaPort: number | null }>;
  partitions: PartitionView[];
  underReplicated: PartitionView[];
  offline: PartitionView[];
  /** Absent from brokers older than partition reassignment. */
  reassignments?: ReassignmentView[];
}

export const clusterCommand: Command = {
  name: "cluster",
  summary: "cluster status: nodes, controller, partition leaders, ISR, under-replicated partitions",
  help: HELP,
  async run(argv, ctx) {
    const args = parseCommandArgs("cluster", argv, OPTIONS, true);
    const [action, ...extra] = args.positionals;
    if (action !== undefined && action !== "status") throw args.usage(`unknown action "${action}"`);
    if (extra.length > 0) throw args.usage(`unexpected argument "${extra[0]}"`);
    const http = await connectHttp(args, ctx);
    const view = await http.request<ClusterView>("GET", "/v1/cluster", { signal: ctx.signal });
    if (args.flag("json")) {
      await ctx.out(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    await ctx.out(formatCluster(view, args.flag("under-replicated")));
    return 0;
  },
};

/** The text report: a summary line, nodes, partitions, then the problems. */
export function formatCluster(view: ClusterView, onlyProblems = false): string {
  const controller =
    view.controllerId === null ? "none (no metadata leader elected)" : `node ${view.controllerId}`;
  const out: string[] = [
    `${view.mode === "cluster" ? "Cluster" : "Single node"}: ${view.nodes.length} node(s), controller ${controller}, answered by node ${view.nodeId}\n`,
  ];
  const offline = new Set(view.offline.map(partitionKey));
  const under = new Set(view.underReplicated.map(partitionKey));
  const reassignments = view.reassignments ?? [];
  const moving = new Set(reassignments.map(partitionKey));
  const rows = (list: PartitionView[]) =>
    list.map((p) => [
      p.topic,
      p.partition,
      p.leader < 0 ? "none" : p.leader,
      p.leaderEpoch,
      p.replicas.join(","),
      p.isr.join(","),
      (offline.has(partitionKey(p)) ? "offline" : under.has(partitionKey(p)) ? "under-replicated" : "ok") +
        (moving.has(partitionKey(p)) ? " (reassigning)" : ""),
    ]);
  const headers = ["TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "STATUS"];
  if (!onlyProblems) {
    out.push(
      table(
        ["NODE", "KAFKA", "ROLE"],
        view.nodes.map((n) => [
          n.id,
          n.kafkaHost === null ? null : `${n.kafkaHost}:${n.kafkaPort}`,
          n.id === view.controllerId ? "controller" : null,
        ]),
      ),
    );
    if (view.partitions.length > 0) out.push(table(headers, rows(view.partitions)));
    if (reassignments.length > 0) {
      out.push(`${reassignments.length} reassignment(s) in progress:\n`, formatReassignments(reassignments));
    }
  } else if (reassignments.length > 0) {
    out.push(`${reassignments.length} reassignment(s) in progress (\`eddy cluster\` lists them).\n`);
  }
  const problems = view.partitions.filter((p) => offline.has(partitionKey(p)) || under.has(partitionKey(p)));
  if (problems.length === 0) {
    out.push(`No under-replicated or offline partitions (${view.partitions.length} partition(s)).\n`);
  } else {
    out.push(
      `${view.underReplicated.length} under-replicated, ${view.offline.length} offline partition(s):\n`,
      table(headers, rows(problems)),
    );
  }
  return out.join("\n");
}
