/** Finding coordinators in an in-process TestCluster, and calls retried while a coordinator loads. */
import { ErrorCode } from "../../src/broker/index.ts";
import { type TestCluster, waitFor } from "./cluster-harness.ts";

/** The coordinator of a group or transactional id as every live node agrees it to be (a live node other than `notId`). */
export async function agreedCoordinator(
  c: TestCluster,
  of: { type: "group" | "transaction"; key: string },
  notId = -1,
): Promise<number> {
  let found = -1;
  await waitFor(`a ${of.type} coordinator for ${of.key}`, async () => {
    const ids = new Set<number>();
    for (const n of c.live()) {
      const loc = await n.broker.findCoordinator!(of.type, of.key);
      if (!loc || loc.error !== null) return false;
      ids.add(loc.nodeId);
    }
    const [id] = [...ids];
    if (ids.size !== 1 || id === undefined || id === notId || !c.nodes.get(id)?.alive) return false;
    found = id;
    return true;
  });
  return found;
}

export const groupCoordinator = (c: TestCluster, group: string, notId = -1): Promise<number> =>
  agreedCoordinator(c, { type: "group", key: group }, notId);

export const txnCoordinator = (c: TestCluster, id: string, notId = -1): Promise<number> =>
  agreedCoordinator(c, { type: "transaction", key: id }, notId);

/**
 * Retry a transactional call while its coordinator loads (and, with `orMoved`,
 * while it moves: NOT_COORDINATOR); the first other answer is returned.
 */
export async function whenLoaded<T extends { error: ErrorCode | null }>(
  what: string,
  call: () => Promise<T>,
  opts: { orMoved?: boolean } = {},
): Promise<T> {
  let last: T | undefined;
  await waitFor(what, async () => {
    last = await call();
    return (
      last.error !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS &&
      last.error !== ErrorCode.COORDINATOR_NOT_AVAILABLE &&
      (opts.orMoved !== true || last.error !== ErrorCode.NOT_COORDINATOR)
    );
  });
  return last!;
}
