/**
 * Link faults between three `eddy` processes: every directed peer link runs
 * through its own TCP proxy (test/helpers/peer-links.ts), so a test cuts one
 * direction only, or isolates a node, and heals.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { CutMode, type PeerLinks, startPeerLinks } from "../helpers/peer-links.ts";
import { waitFor } from "./cluster-harness.ts";
import { useProcessCluster } from "./process-cluster.ts";

// A request into a black hole never ends: give up after 2 s.
const cluster = useProcessCluster({ tmpPrefix: "eddy-links-", requestTimeoutMs: 2_000, linkProxies: true });

async function describeP0(id: number) {
  return (await cluster.describe(id)).partitions[0]!;
}

/** acks=all produce; a timed-out or refused request counts as not acknowledged. */
async function produce(id: number, values: string[]): Promise<number> {
  return cluster.produce(id, values).catch(() => 0);
}

async function readAll(id: number): Promise<string[]> {
  const r = await cluster.http(id, "/v1/topics/p/partitions/0/records?offset=0");
  return ((await r.json()) as { records: Array<{ value: string }> }).records.map((x) => x.value);
}

/** The leader of p/0 by the highest epoch any answering node reports. */
async function newestLeader(): Promise<number> {
  let best = { leader: -1, epoch: -1 };
  for (const id of [1, 2, 3]) {
    const p = await describeP0(id).catch(() => null);
    if (p && p.leader > 0 && p.leaderEpoch > best.epoch) best = { leader: p.leader, epoch: p.leaderEpoch };
  }
  return best.leader;
}

async function converged(): Promise<void> {
  await waitFor(
    "all nodes agree on the leader, a full ISR and the log end",
    async () => {
      const all = await Promise.all([1, 2, 3].map(describeP0));
      const lead = all[0]!;
      return all.every(
        (p) => p.leader === lead.leader && p.isr.length === 3 && p.logEndOffset === lead.logEndOffset,
      );
    },
    30_000,
  );
}

describe("peer links through fault proxies", () => {
  let links: PeerLinks | null = null;
  const servers: TCPSocketListener<undefined>[] = [];
  afterEach(async () => {
    await links?.close();
    for (const s of servers.splice(0)) s.stop(true);
  });

  /** Connect through `url`, send "ping", resolve with what comes back within 300 ms. */
  async function ping(url: string): Promise<string> {
    let got = "";
    const s: Socket<undefined> = await Bun.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(url).port),
      socket: {
        data(_s, chunk) {
          got += chunk.toString();
        },
      },
    });
    s.write("ping");
    await Bun.sleep(300);
    s.end();
    return got;
  }

  it("cut(a, b) stops a's connections to b only; heal() restores them", async () => {
    const echo = (name: string) =>
      Bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        socket: { data: (s, chunk) => void s.write(`${name}:${chunk.toString()}`) },
      });
    servers.push(echo("n1"), echo("n2"));
    links = await startPeerLinks({ ids: [1, 2], peerPort: (id) => servers[id - 1]!.port });

    expect(await ping(links.url(1, 2))).toBe("n2:ping");
    expect(await ping(links.url(2, 1))).toBe("n1:ping");
    links.cut(1, 2, CutMode.RESET);
    expect(links.cuts()).toEqual(["1->2"]);
    expect(await ping(links.url(1, 2))).toBe("");
    expect(await ping(links.url(2, 1))).toBe("n1:ping");
    links.heal();
    expect(await ping(links.url(1, 2))).toBe("n2:ping");

    links.isolate(2, CutMode.BLACKHOLE);
    expect(links.cuts().sort()).toEqual(["1->2", "2->1"]);
    expect(await ping(links.url(2, 1))).toBe("");
    links.heal();
    expect(links.cuts()).toEqual([]);
  });
});

describe("eddy processes under link faults", () => {
  it("a leader alone in a minority partition is replaced; its unacknowledged write is gone after the heal", async () => {
    await cluster.launch();
    await cluster.createTopic(1, { "min.insync.replicas": 2 });
    const leader = await cluster.settledLeader([1, 2, 3], 3);
    await waitFor("acks=all writes", async () => (await produce(leader, ["a", "b"])) === 200);
    const epoch = (await describeP0(leader)).leaderEpoch;

    cluster.links!.isolate(leader, CutMode.RESET);
    const others = [1, 2, 3].filter((id) => id !== leader);
    let next = -1;
    await waitFor("the majority elects another leader", async () => {
      const p = await describeP0(others[0]!);
      next = p.leader;
      return next !== leader && next > 0 && p.leaderEpoch > epoch;
    });
    await waitFor("acks=all writes in the majority", async () => (await produce(next, ["c"])) === 200);
    // The old leader cannot reach min.insync.replicas: no acknowledgement.
    expect(await produce(leader, ["stale"])).not.toBe(200);

    cluster.links!.heal();
    await converged();
    expect(await newestLeader()).toBe(next);
    expect(await readAll(next)).toEqual(["a", "b", "c"]);
    // The old leader truncated what it alone held.
    expect((await describeP0(leader)).logEndOffset).toBe(3);
  }, 60_000);

  it("with the leader's outbound links cut, writes are still acknowledged; after the heal all replicas agree", async () => {
    await cluster.launch();
    await cluster.createTopic(1, { "min.insync.replicas": 2 });
    const leader = await cluster.settledLeader([1, 2, 3], 3);
    await waitFor("acks=all writes", async () => (await produce(leader, ["a"])) === 200);

    // The leader's requests (its Raft messages, its fetches) are lost; the followers' still arrive.
    for (const other of [1, 2, 3].filter((id) => id !== leader)) cluster.links!.cut(leader, other);
    expect(cluster.links!.cuts().length).toBe(2);
    const acked: string[] = ["a"];
    for (const value of ["b", "c", "d"]) {
      await waitFor(
        `acks=all write "${value}" during the cut`,
        async () => (await produce(await newestLeader(), [value])) === 200,
        20_000,
      );
      acked.push(value);
    }

    cluster.links!.heal();
    await converged();
    const final = await newestLeader();
    const log = await readAll(final);
    // Every acknowledged value is there, once, in order (unacknowledged retries may sit between them).
    expect(log.filter((v) => acked.includes(v))).toEqual(acked);
  }, 60_000);
});
