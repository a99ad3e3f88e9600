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
 *
 * Partition reassignment (issue 7, item 7; KIP-455 semantics, carried out
 * by the controller, src/cluster/reassign.ts):
 *   POST   /v1/cluster/reassignments  start, replace or cancel (replicas null)
 *   GET    /v1/cluster/reassignments  the reassignments in progress
 *   DELETE /v1/cluster/reassignments[?topic=&partition=]  cancel (all, a topic's, one)
 * A single node answers GET with none and refuses the others (400).
 */
import { z } from "zod";
import { type Broker, type ClusterStatus, EddyError, ErrorCode } from "../../broker/index.ts";
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

const reassignmentSchema = z.object({
  topic: z.string(),
  partition: z.number().int(),
  originalReplicas: z
    .array(z.number().int())
    .describe("The replicas before it began (a cancel returns to them)"),
  targetReplicas: z.array(z.number().int()),
  replicas: z
    .array(z.number().int())
    .describe("The replicas now: the target, then those still being removed"),
  addingReplicas: z.array(z.number().int()),
  removingReplicas: z.array(z.number().int()),
  leader: z.number().int(),
  leaderEpoch: z.number().int(),
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
  reassignments: z.array(reassignmentSchema).describe("Partition reassignments in progress"),
});

const reassignmentsResponse = z.object({ reassignments: z.array(reassignmentSchema) });

const reassignBody = z.object({
  partitions: z
    .array(
      z.object({
        topic: z.string().min(1),
        partition: z.number().int().min(0),
        replicas: z
          .array(z.number().int().min(0))
          .min(1)
          .nullable()
          .describe("Target replicas, preferred leader first; null cancels the reassignment in progress"),
      }),
    )
    .min(1),
});

const cancelQuery = z.object({
  topic: z.string().min(1).optional().describe("Only this topic's reassignments"),
  partition: z.coerce.number().int().min(0).optional().describe("Only this partition (with topic)"),
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
        reassignments: view ? (broker.listPartitionReassignments?.() ?? []) : [],
      });
    },
  );
  registerReassignmentRoutes(router, broker);
}

function registerReassignmentRoutes(router: ApiRouter, broker: HttpDeps["broker"]): void {
  const inProgress = () => (broker.clusterView?.() ? (broker.listPartitionReassignments?.() ?? []) : []);
  router.add(
    {
      method: "post",
      path: "/v1/cluster/reassignments",
      tag: "cluster",
      summary:
        "Start, replace or cancel (replicas null) partition reassignments; they complete in the background",
      body: reassignBody,
      responses: {
        202: {
          description: "Accepted by the controller; the reassignments in progress",
          schema: reassignmentsResponse,
        },
      },
    },
    async (c, { body }) => {
      await requireReassign(broker)(body.partitions);
      return c.json({ reassignments: inProgress() }, 202);
    },
  );
  router.add(
    {
      method: "get",
      path: "/v1/cluster/reassignments",
      tag: "cluster",
      summary: "Partition reassignments in progress (adding and removing replicas, ISR, leader)",
      responses: { 200: { description: "In progress", schema: reassignmentsResponse } },
    },
    (c) => c.json({ reassignments: inProgress() }),
  );
  router.add(
    {
      method: "delete",
      path: "/v1/cluster/reassignments",
      tag: "cluster",
      summary:
        "Cancel reassignments in progress (all, a topic's, or one partition's): back to the original replicas",
      query: cancelQuery,
      responses: {
        200: {
          description: "The cancelled reassignments",
          schema: z.object({
            cancelled: z.array(z.object({ topic: z.string(), partition: z.number().int() })),
          }),
        },
      },
    },
    async (c, { query }) => {
      if (query.partition !== undefined && query.topic === undefined) {
        throw new EddyError(ErrorCode.INVALID_REQUEST, "give ?topic= with ?partition=");
      }
      const alter = requireReassign(broker);
      const cancel = inProgress()
        .filter(
          (r) =>
            (query.topic === undefined || r.topic === query.topic) &&
            (query.partition === undefined || r.partition === query.partition),
        )
        .map((r) => ({ topic: r.topic, partition: r.partition }));
      if (cancel.length === 0) {
        throw new EddyError(
          ErrorCode.NOT_FOUND,
          "no matching reassignment is in progress: nothing to cancel",
        );
      }
      await alter(cancel.map((p) => ({ ...p, replicas: null })));
      return c.json({ cancelled: cancel });
    },
  );
}

function requireReassign(broker: HttpDeps["broker"]): NonNullable<Broker["alterPartitionReassignments"]> {
  if (!broker.clusterView?.() || !broker.alterPartitionReassignments) {
    throw new EddyError(
      ErrorCode.INVALID_REQUEST,
      "this broker is a single node: partition reassignment needs a cluster ([cluster] and [[cluster.peers]] in eddy.toml)",
    );
  }
  return (list) => broker.alterPartitionReassignments!(list);
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
