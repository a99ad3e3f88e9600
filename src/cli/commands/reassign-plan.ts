/**
 * `eddy reassign` plans, computed from GET /v1/cluster (pure; no I/O):
 * move every replica off a node, or give a new node its share of replicas.
 * A replica is replaced in place, so a node that was a partition's preferred
 * leader hands that role to its replacement (leaders stay spread).
 */

export interface PlanPartition {
  topic: string;
  partition: number;
  replicas: number[];
}

export interface PlanNode {
  id: number;
  witness: boolean;
}

/** One move: the partition's current replicas and its target replicas. */
export interface PlanMove {
  topic: string;
  partition: number;
  current: number[];
  replicas: number[];
}

export class PlanError extends Error {}

function dataNodes(nodes: readonly PlanNode[]): number[] {
  return nodes
    .filter((n) => !n.witness)
    .map((n) => n.id)
    .sort((a, b) => a - b);
}

function requireDataNode(nodes: readonly PlanNode[], id: number): number[] {
  const data = dataNodes(nodes);
  if (!data.includes(id)) {
    const witness = nodes.some((n) => n.id === id && n.witness);
    throw new PlanError(
      witness
        ? `node ${id} is a witness: it holds no partitions`
        : `node ${id} is not a data node of this cluster (data nodes: ${data.join(", ")}): add it to [[cluster.peers]] on every node and restart them one by one first`,
    );
  }
  return data;
}

function loads(data: readonly number[], partitions: readonly PlanPartition[]): Map<number, number> {
  const load = new Map(data.map((id) => [id, 0]));
  for (const p of partitions) for (const r of p.replicas) load.set(r, (load.get(r) ?? 0) + 1);
  return load;
}

function ordered<T extends { topic: string; partition: number }>(partitions: readonly T[]): T[] {
  return [...partitions].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
}

/** Move every replica off `node` to the least-loaded data nodes that do not hold the partition. */
export function planRemoveNode(
  nodes: readonly PlanNode[],
  partitions: readonly PlanPartition[],
  node: number,
): PlanMove[] {
  const data = requireDataNode(nodes, node);
  const load = loads(data, partitions);
  const moves: PlanMove[] = [];
  for (const p of ordered(partitions)) {
    const at = p.replicas.indexOf(node);
    if (at < 0) continue;
    const candidates = data.filter((id) => id !== node && !p.replicas.includes(id));
    if (candidates.length === 0) {
      throw new PlanError(
        `cannot move ${p.topic}-${p.partition} off node ${node}: every other data node already holds a replica of it; add a node first, or lower its replication factor with --topic/--partition/--replicas`,
      );
    }
    const pick = candidates.reduce((best, id) => ((load.get(id) ?? 0) < (load.get(best) ?? 0) ? id : best));
    load.set(pick, (load.get(pick) ?? 0) + 1);
    load.set(node, (load.get(node) ?? 0) - 1);
    const replicas = [...p.replicas];
    replicas[at] = pick;
    moves.push({ topic: p.topic, partition: p.partition, current: p.replicas, replicas });
  }
  return moves;
}

/** Give `node` its share of replicas (total / data nodes), taken from the most loaded nodes. */
export function planAddNode(
  nodes: readonly PlanNode[],
  partitions: readonly PlanPartition[],
  node: number,
): PlanMove[] {
  const data = requireDataNode(nodes, node);
  const load = loads(data, partitions);
  const total = partitions.reduce((n, p) => n + p.replicas.length, 0);
  const goal = Math.floor(total / data.length);
  const moves: PlanMove[] = [];
  const moved = new Set<PlanPartition>();
  const list = ordered(partitions);
  while ((load.get(node) ?? 0) < goal) {
    let best: { p: PlanPartition; donor: number; at: number } | null = null;
    for (const p of list) {
      if (moved.has(p) || p.replicas.includes(node)) continue;
      p.replicas.forEach((r, at) => {
        if (!best || (load.get(r) ?? 0) > (load.get(best.donor) ?? 0)) best = { p, donor: r, at };
      });
    }
    const found = best as { p: PlanPartition; donor: number; at: number } | null;
    if (!found || (load.get(found.donor) ?? 0) - (load.get(node) ?? 0) < 2) break;
    moved.add(found.p);
    load.set(found.donor, (load.get(found.donor) ?? 0) - 1);
    load.set(node, (load.get(node) ?? 0) + 1);
    const replicas = [...found.p.replicas];
    replicas[found.at] = node;
    moves.push({ topic: found.p.topic, partition: found.p.partition, current: found.p.replicas, replicas });
  }
  return ordered(moves);
}
