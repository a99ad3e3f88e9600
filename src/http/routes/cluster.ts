/**
 * Cluster status (issue 7, item 7): GET /v1/cluster answers this node's view
 * of the nodes (with their Kafka addresses), the controller (the metadata
 * leader), every partition's leader, leader epoch, replicas and ISR, and the
 * under-replicated (ISR smaller than the replicas) and offline (no leader)
 * partitions. On a single node: one node, its own controller, nothing
 * under-replicated.
 */
import { z } from "zod";
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
    }),
  ),
  partitions: z.array(partitionSchema),
  underReplicated: z.array(partitionSchema),
  offline: z.array(partitionSchema),
});

export function registerClusterRoutes(router: ApiRouter, deps: HttpDeps): void {
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
        nodes: view ? view.nodes : [{ id: broker.nodeId, kafkaHost: null, kafkaPort: null }],
        partitions,
        underReplicated: partitions.filter((p) => p.isr.length < p.replicas.length),
        offline: partitions.filter((p) => p.leader < 0),
      });
    },
  );
}
