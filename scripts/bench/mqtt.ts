/**
 * MQTT bridge benchmark (issue 3, item 9).
 *
 *   bun scripts/bench/mqtt.ts [--seconds 5] [--quick] [--only a,b,c,d,e]
 *                             [--peers eddy,mosquitto,nats] [--publishers 10]
 *                             [--subscribers 10] [--clients 5000] [--profile DIR]
 *                             [--max-inflight N] [--partitions N]
 *
 * Each server runs in its own process (Eddy: a child of this script in
 * `--serve-eddy` mode, broker on the file log store with the default fsync
 * durability, so QoS 1 PUBACKs wait for group commit; mosquitto with
 * persistence off and set_tcp_nodelay; nats-server with an MQTT listener and
 * JetStream on a file store, when installed). The load generator
 * (mqtt-load.ts: raw sockets, pre-encoded MQTT 3.1.1 packets) runs in this
 * process, the same for every server; its CPU share is printed so that one can
 * see it is not the bottleneck. Workloads are described in mqtt-scenarios.ts.
 * Prints each figure per server and Eddy's ratio to each peer.
 * `--profile DIR` writes a CPU profile of the Eddy process (.cpuprofile + .md);
 * `--heap-profile DIR` a sampling heap profile of it (.heapprofile + .md, Bun's --heap-prof);
 * `--max-inflight N` sets Eddy's outbound in-flight window (default 100);
 * `--partitions N` the partitions of the stream topic `mqtt` (default 1);
 * `--durability fsync|write|memory` Eddy's default topic durability (default fsync);
 * `--max-inbound-qos0 N` Eddy's QoS 0 inbound flow-control limit (default 1000);
 * `--trace` prints, after each workload, Eddy's event-loop lag (1 ms timer) and
 * its group-commit fsyncs (count, p50/p99/max, size).
 * Workload (c) also measures the disk's raw fdatasync latency (200 B appends to
 * a file in the temp directory, same run) and prints it beside the latencies.
 */
import { parseArgs } from "node:util";
import os from "node:os";
import { type Peer, rawFdatasync, serveEddy, startEddy, startMosquitto, startNats } from "./mqtt-peers.ts";
import { fanIn, fanOut, idleRss, latency, type Measure, qos1 } from "./mqtt-scenarios.ts";

const { values: args } = parseArgs({
  options: {
    "serve-eddy": { type: "boolean", default: false },
    dir: { type: "string" },
    port: { type: "string", default: "0" },
    partitions: { type: "string", default: "1" },
    seconds: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    only: { type: "string", default: "a,b,c,d,e" },
    peers: { type: "string", default: "eddy,mosquitto,nats" },
    publishers: { type: "string", default: "10" },
    subscribers: { type: "string", default: "10" },
    clients: { type: "string" },
    rate: { type: "string", default: "5000" },
    profile: { type: "string" },
    "heap-profile": { type: "string" },
    "max-inflight": { type: "string" },
    durability: { type: "string" },
    "max-inbound-qos0": { type: "string" },
    trace: { type: "boolean", default: false },
  },
});

if (args["serve-eddy"]) {
  await serveEddy({
    dir: args.dir!,
    port: Number(args.port),
    partitions: Number(args.partitions),
    ...(args["max-inflight"] === undefined ? {} : { maxInflight: Number(args["max-inflight"]) }),
    ...(args.durability === undefined ? {} : { durability: args.durability }),
    ...(args["max-inbound-qos0"] === undefined ? {} : { maxInboundQos0: Number(args["max-inbound-qos0"]) }),
    trace: args.trace,
  });
} else {
  await main();
}

interface Scenario {
  id: string;
  title: string;
  run(peer: Peer): Promise<Measure>;
}

async function main(): Promise<void> {
  const seconds = args.quick ? 2 : Number(args.seconds);
  const publishers = Number(args.publishers);
  const clients = Number(args.clients ?? (args.quick ? 1000 : 5000));
  const only = new Set(args.only.split(","));
  const all: Scenario[] = [
    {
      id: "a",
      title: `(a) QoS 0 fan-in: ${publishers} publishers → 1 subscriber on bench/#, 100 B`,
      run: (p) => fanIn(p.port, { publishers, seconds }),
    },
    {
      id: "b",
      title: `(b) QoS 1: ${publishers} publishers × 100 in flight, 1 QoS 1 subscriber, 100 B`,
      run: (p) => qos1(p.port, { publishers, window: 100, seconds }),
    },
    {
      id: "c",
      title: `(c) QoS 1 latency at ${args.rate} msg/s (publish → PUBACK, publish → delivery)`,
      run: (p) => latency(p.port, { rate: Number(args.rate), seconds }),
    },
    {
      id: "d",
      title: `(d) RSS per idle connection, ${clients} clients`,
      run: (p) => idleRss(p.port, { clients, rss: () => p.rssBytes(), collect: () => p.collect() }),
    },
    {
      id: "e",
      title: `(e) QoS 0 fan-out: 1 publisher → ${args.subscribers} subscribers on fan/#, 100 B`,
      run: (p) => fanOut(p.port, { subscribers: Number(args.subscribers), seconds }),
    },
  ];
  const scenarios = all.filter((s) => only.has(s.id));

  const starters: Record<string, () => Promise<Peer | null>> = {
    eddy: () =>
      startEddy({
        ...(args.profile === undefined ? {} : { profileDir: args.profile }),
        ...(args["heap-profile"] === undefined ? {} : { heapProfileDir: args["heap-profile"] }),
        partitions: Number(args.partitions),
        ...(args["max-inflight"] === undefined ? {} : { maxInflight: Number(args["max-inflight"]) }),
        ...(args.durability === undefined ? {} : { durability: args.durability }),
        ...(args["max-inbound-qos0"] === undefined
          ? {}
          : { maxInboundQos0: Number(args["max-inbound-qos0"]) }),
        trace: args.trace,
      }),
    mosquitto: startMosquitto,
    nats: startNats,
  };
  const results = new Map<string, Map<string, Measure & { serverCpu: number }>>();
  for (const name of args.peers.split(",")) {
    const start = starters[name];
    if (!start) throw new Error(`unknown peer '${name}': use eddy, mosquitto or nats`);
    const peer = await start();
    if (!peer) {
      console.log(`# ${name}: not installed, skipped`);
      continue;
    }
    const byScenario = new Map<string, Measure & { serverCpu: number }>();
    results.set(name, byScenario);
    try {
      for (const s of scenarios) {
        await peer.trace("-"); // start the trace figures here
        const cpu0 = peer.cpuSeconds();
        const t0 = performance.now();
        const m = await s.run(peer);
        const serverCpu = (peer.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
        await peer.trace(s.id);
        if (s.id === "c") {
          // The disk's own fdatasync latency right after the workload, for the PUBACK figures.
          const raw = rawFdatasync(os.tmpdir());
          m.values["raw fdatasync p50 ms"] = raw.p50;
          m.values["raw fdatasync p99 ms"] = raw.p99;
        }
        byScenario.set(s.id, { ...m, serverCpu });
        console.log(`# ${name} ${s.id}: ${JSON.stringify(m.values)} gen-cpu=${m.generatorCpu.toFixed(2)}`);
        await quiesce(peer);
      }
    } finally {
      await peer.stop();
    }
  }
  report(scenarios, results);
}

/** Wait until the server is idle (leftover work from the previous workload done), at most 30 s. */
async function quiesce(peer: Peer): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const c0 = peer.cpuSeconds();
    await Bun.sleep(250);
    if (peer.cpuSeconds() - c0 < 0.02) return;
  }
}

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return "—";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  return v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}

function report(
  scenarios: Scenario[],
  results: Map<string, Map<string, Measure & { serverCpu: number }>>,
): void {
  const peers = [...results.keys()];
  const others = peers.filter((p) => p !== "eddy");
  const hasEddy = results.has("eddy");
  console.log("");
  for (const s of scenarios) {
    console.log(`${s.title}`);
    const header = ["measure", ...peers, ...(hasEddy ? others.map((o) => `eddy/${o}`) : [])];
    console.log(`| ${header.join(" | ")} |`);
    console.log(`|${header.map(() => "---").join("|")}|`);
    const names = new Set<string>();
    for (const p of peers) for (const k of Object.keys(results.get(p)?.get(s.id)?.values ?? {})) names.add(k);
    const rows: Array<[string, (m: Measure & { serverCpu: number }) => number]> = [
      ...[...names].map((k): [string, (m: Measure & { serverCpu: number }) => number] => [
        k,
        (m) => m.values[k]!,
      ]),
      ["server CPU (cores)", (m) => m.serverCpu],
      ["load generator CPU (cores)", (m) => m.generatorCpu],
    ];
    for (const [label, get] of rows) {
      const vals = peers.map((p) => {
        const m = results.get(p)?.get(s.id);
        return m ? get(m) : undefined;
      });
      const eddy = hasEddy ? vals[peers.indexOf("eddy")] : undefined;
      const ratios = hasEddy
        ? others.map((o) => {
            const v = vals[peers.indexOf(o)];
            return eddy !== undefined && v !== undefined && v > 0 ? `${(eddy / v).toFixed(2)}×` : "—";
          })
        : [];
      console.log(`| ${[label, ...vals.map(fmt), ...ratios].join(" | ")} |`);
    }
    console.log("");
  }
}
