/** Quorum arithmetic for a fixed voter set. */
import type { ClusterConfig, NodeId } from "./types.ts";

export function quorumSize(config: ClusterConfig): number {
  return Math.floor(config.voters.length / 2) + 1;
}

export function isVoter(config: ClusterConfig, id: NodeId): boolean {
  return config.voters.some((v) => v.id === id);
}

export function isWitness(config: ClusterConfig, id: NodeId): boolean {
  return config.voters.some((v) => v.id === id && v.witness === true);
}

/** The highest index replicated on a quorum, given every voter's match index. */
export function quorumIndex(matches: readonly number[], quorum: number): number {
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[quorum - 1] ?? 0;
}

/** Outcome of a vote count: won, lost (a majority said no), or still open. */
export function tally(
  config: ClusterConfig,
  votes: ReadonlyMap<NodeId, boolean>,
): "won" | "lost" | "pending" {
  const q = quorumSize(config);
  let yes = 0;
  let no = 0;
  for (const v of config.voters) {
    const r = votes.get(v.id);
    if (r === true) yes++;
    else if (r === false) no++;
  }
  if (yes >= q) return "won";
  if (no > config.voters.length - q) return "lost";
  return "pending";
}

/** Reject a voter set that Raft cannot run: 1-5 voters (2-5 for a cluster), unique ids, at most one witness. */
export function validateConfig(config: ClusterConfig): string | null {
  const n = config.voters.length;
  if (n < 1 || n > 5) return `a cluster has 1 to 5 voters, got ${n}`;
  const ids = new Set(config.voters.map((v) => v.id));
  if (ids.size !== n) return "voter ids must be unique";
  const witnesses = config.voters.filter((v) => v.witness).length;
  if (witnesses > 1) return "at most one witness voter";
  if (witnesses === n) return "a cluster needs at least one data voter";
  for (const v of config.voters) {
    if (!Number.isSafeInteger(v.id) || v.id < 0)
      return `voter id must be a non-negative integer, got ${v.id}`;
  }
  return null;
}
