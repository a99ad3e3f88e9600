/**
 * Cluster status (issue 7, item 7): GET /v1/cluster answers this node's view
 * of the nodes (with their Kafka addresses), the controller (the metadata
 * leader), every partition's leader, leader epoch, replicas and ISR, and the
 * under-replicated (ISR smaller than the replicas) and offline (no leader)
 * partitions. On a single node: one node, its own controller, nothing
 * under-replicated. Each node also carries its peer URL (from
 * [[cluster.peers]], given as the `peers` option), whether it is a witness
 * (a Raft voter without partitions) and whether the controller hears it
 * (`alive`; null when this node is not the controller and cannot tell).
 */
import { z } from "zod";
import type { Broker, ClusterStatus } from "../../broker/index.ts";
import type { HttpDeps } from "../deps.ts";
import type { ApiRouter } from "../openapi.ts";

const partitionSchema = z.object({
  topic: z.string(),
  partition: z.number().int(),
  leader: z.number().int(),
  leaderEpoch: z.number().int(),
  replicas: z.array(z.number().int()),
  isr: z.array(z.number().int()),
});

const clusterSchema = z.object({
  mode: z.enum(["single", "cluster"]),
  nodeId: z.number().int(),
  controllerId: z.number().int().nullable(),
  nodes: z.array(
    z.object({
      id: z.number().int(),
      kafkaHost: z.string().nullable(),
      kafkaPort: z.number().int().nullable(),
      url: z
        .string()
        .nullable()
        .describe("The node's peer listener ([[cluster.peers]] url); null on a single node"),
      witness: z.boolean().describe("A Raft voter that holds no partitions"),
      alive: z
        .boolean()
        .nullable()
        .describe("The controller hears this node; null when this node is not the controller"),
    }),
  ),
  partitions: z.array(partitionSchema),
  underReplicated: z.array(partitionSchema),
  offline: z.array(partitionSchema),
});

/** A [[cluster.peers]] entry as the config gives it. */
export interface ClusterPeer {
  id: number;
  url: string;
  witness: boolean;
}

export type ClusterNodeView = z.output<typeof clusterSchema>["nodes"][number];

export function registerClusterRoutes(
  router: ApiRouter,
  deps: HttpDeps,
  peers: readonly ClusterPeer[] = [],
): void {
  const { broker } = deps;
  router.add(
    {
      method: "get",
      path: "/v1/cluster",
      tag: "cluster",
      summary: "Nodes, controller, partition leaders and ISR, under-replicated and offline partitions",
      responses: { 200: { description: "The cluster as this node sees it", schema: clusterSchema } },
    },
    async (c) => {
      const view = broker.clusterView?.() ?? null;
      const partitions: z.infer<typeof partitionSchema>[] = [];
      for (const t of await broker.listTopics()) {
        try {
          const d = await broker.describeTopic(t.name);
          for (const p of d.partitions) {
            partitions.push({
              topic: d.name,
              partition: p.partition,
              leader: p.leader,
              leaderEpoch: p.leaderEpoch,
              replicas: p.replicas,
              isr: p.isr,
            });
          }
        } catch {
          // deleted meanwhile
        }
      }
      return c.json({
        mode: view ? "cluster" : "single",
        nodeId: broker.nodeId,
        controllerId: view ? view.controllerId : broker.nodeId,
        nodes: view
          ? clusterNodes(view.nodes, raftStatus(broker), peers)
          : [{ id: broker.nodeId, kafkaHost: null, kafkaPort: null, url: null, witness: false, alive: true }],
        partitions,
        underReplicated: partitions.filter((p) => p.isr.length < p.replicas.length),
        offline: partitions.filter((p) => p.leader < 0),
      });
    },
  );
}

/** The broker's Raft view (cluster mode only: Broker.clusterStatus); null when absent or not started. */
function raftStatus(broker: HttpDeps["broker"]): ClusterStatus | null {
  const withStatus = broker as Partial<Pick<Broker, "clusterStatus">>;
  try {
    return withStatus.clusterStatus?.() ?? null;
  } catch {
    return null;
  }
}

/** Every node known from the data nodes, the Raft voters (witnesses included) and the configured peers, by id. */
export function clusterNodes(
  dataNodes: ReadonlyArray<{ id: number; kafkaHost: string | null; kafkaPort: number | null }>,
  status: ClusterStatus | null,
  peers: readonly ClusterPeer[],
): ClusterNodeView[] {
  const byId = new Map<number, ClusterNodeView>();
  const node = (id: number): ClusterNodeView => {
    let n = byId.get(id);
    if (!n) {
      n = { id, kafkaHost: null, kafkaPort: null, url: null, witness: false, alive: null };
      byId.set(id, n);
    }
    return n;
  };
  for (const d of dataNodes) Object.assign(node(d.id), { kafkaHost: d.kafkaHost, kafkaPort: d.kafkaPort });
  for (const v of status?.nodes ?? []) Object.assign(node(v.id), { witness: v.witness, alive: v.alive });
  for (const p of peers) {
    const n = node(p.id);
    n.url = p.url;
    n.witness ||= p.witness;
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}
