/**
 * `eddy cluster` and the cluster gauges in /metrics against a 3-node
 * in-process cluster: a lost follower shows up as under-replicated, the
 * controller reports itself, and ISR sizes follow the metadata.
 */
import { afterEach, describe, expect, it } from "bun:test";
import type { ClusterView } from "../../src/cli/commands/cluster.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createBrokerMetrics } from "../../src/observability/broker-metrics.ts";
import { run } from "../cli/run-cli.ts";
import { TestCluster, waitFor } from "./cluster-harness.ts";

let cluster: TestCluster | null = null;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await cluster?.stop();
  cluster = null;
});

function serve(c: TestCluster, id: number): string {
  const broker = c.broker(id);
  const metrics = createBrokerMetrics();
  const detach = metrics.attach(broker);
  const app = createHttpApp({ broker, metrics });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  cleanups.push(async () => {
    detach();
    await server.stop(true);
  });
  return `http://127.0.0.1:${server.port}`;
}

function gauge(text: string, line: string): number {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  if (!found) throw new Error(`no ${line} in /metrics`);
  return Number(found.slice(line.length + 1));
}

describe("eddy cluster and cluster metrics", () => {
  it("shows leaders, ISR and under-replicated partitions", async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.broker(1).createTopic({ name: "t", partitions: 2, replicationFactor: 3 });
    const urls = new Map([1, 2, 3].map((id) => [id, serve(c, id)]));
    await waitFor("every node applied the topic", async () => {
      for (const id of [1, 2, 3])
        if ((await c.broker(id).describeTopic("t")).partitions.length !== 2) return false;
      return true;
    });

    const healthy = await run(["cluster", "--url", urls.get(1)!]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toContain("Cluster: 3 node(s)");
    expect(healthy.stdout).toContain("No under-replicated or offline partitions (2 partition(s))");

    const json = await run(["cluster", "--json", "--url", urls.get(2)!]);
    expect(json.code).toBe(0);
    const view = JSON.parse(json.stdout) as ClusterView;
    expect(view.mode).toBe("cluster");
    expect(view.nodeId).toBe(2);
    expect(view.nodes.map((n) => n.id).sort()).toEqual([1, 2, 3]);
    expect(view.partitions).toHaveLength(2);
    const controller = view.controllerId!;
    expect([1, 2, 3]).toContain(controller);

    // Controller gauge: 1 on the controller, 0 elsewhere; ISR size 3.
    for (const id of [1, 2, 3]) {
      const text = await (await fetch(`${urls.get(id)}/metrics`)).text();
      expect(gauge(text, "eddy_cluster_is_controller")).toBe(
        c.broker(id).clusterStatus()?.controllerId === id ? 1 : 0,
      );
      expect(gauge(text, 'eddy_partition_isr_size{topic="t",partition="0"}')).toBe(3);
      expect(gauge(text, "eddy_cluster_under_replicated_partitions")).toBe(0);
      expect(gauge(text, "eddy_cluster_offline_partitions")).toBe(0);
    }

    // Lose a node that is neither the controller nor partition 0's leader: its partitions' ISR shrinks.
    const leader0 = await c.leaderOf("t", 0);
    const victim = [1, 2, 3].find((id) => id !== controller && id !== leader0)!;
    const watcher = [1, 2, 3].find((id) => id !== victim)!;
    await c.abandon(victim);
    await waitFor("the ISR shrinks", async () =>
      (await c.broker(watcher).describeTopic("t")).partitions.every((p) => !p.isr.includes(victim)),
    );
    const degraded = await run(["cluster", "--under-replicated", "--url", urls.get(watcher)!]);
    expect(degraded.code).toBe(0);
    expect(degraded.stdout).toContain("2 under-replicated, 0 offline partition(s)");
    expect(degraded.stdout).toContain("under-replicated");
    expect(degraded.stdout).not.toContain("NODE");
    const text = await (await fetch(`${urls.get(watcher)}/metrics`)).text();
    expect(gauge(text, "eddy_cluster_under_replicated_partitions")).toBe(2);
    expect(gauge(text, 'eddy_partition_isr_size{topic="t",partition="0"}')).toBe(2);
  });

  it("refuses an unknown action", async () => {
    const r = await run(["cluster", "frobnicate", "--url", "http://127.0.0.1:1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown action "frobnicate"');
  });
});
