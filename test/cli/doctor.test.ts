/** `eddy doctor`: each check passes on a good setup and fails, with a fix, on a broken one. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startCoapListener } from "../../bridges/coap/index.ts";
import { formatReport, listenerPlans, runDoctor } from "../../src/cli/doctor/run.ts";
import { createBroker } from "../../src/broker/index.ts";
import { parseServeArgs } from "../../src/config/flags.ts";
import { configSchema } from "../../src/config/schema.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { checkPeers, judgePeer } from "../../src/cli/doctor/peers.ts";
import { checkDisk, judgeFsync, percentile } from "../../src/cli/doctor/storage.ts";
import { type PeerNetwork, startPeerNetwork } from "../../src/replication/peers.ts";
import { CheckStatus, DEFAULT_THRESHOLDS } from "../../src/cli/doctor/types.ts";
import { run } from "./run-cli.ts";
import { startServer, type TestServer } from "./server.ts";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-doctor-"));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The report line of a check: "  ok    data dir  …" (the name is literal text, not a pattern). */
function line(stdout: string, name: string): string {
  const literal = name.replace(/[()]/g, "\\$&");
  const found = stdout.split("\n").find((l) => new RegExp(`^  \\S+\\s+${literal}\\s`).test(l));
  if (!found) throw new Error(`no "${name}" line in:\n${stdout}`);
  return found;
}

describe("eddy doctor", () => {
  it("passes on a good setup and measures fsync latency in the data directory", async () => {
    const dataDir = path.join(tmp, "good");
    fs.mkdirSync(dataDir);
    const r = await run(["doctor", "--data-dir", dataDir, "--http-listen", "127.0.0.1:0"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(line(r.stdout, "config")).toContain("ok");
    expect(line(r.stdout, "listener http")).toContain("port 0 picks a free port");
    expect(line(r.stdout, "data dir")).toContain(`${dataDir} is a writable directory`);
    expect(line(r.stdout, "disk")).toMatch(/ok\s+disk\s+.* free of /);
    expect(line(r.stdout, "fsync")).toMatch(/20 × 4 KiB fdatasync: p50 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(r.stdout).toContain("0 failures");
    // The scratch file is gone.
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it("reads the same config file as eddy serve, and reports every config problem", async () => {
    const file = path.join(tmp, "bad.toml");
    fs.writeFileSync(file, 'data_dir = "x"\n[broker]\nnum_partitions = 0\nno_such_key = 1\n');
    const r = await run(["doctor", "--config", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`eddy doctor: config ${file}`);
    expect(line(r.stdout, "config")).toContain("FAIL");
    expect(r.stdout).toContain("broker.no_such_key: unknown key");
    expect(r.stdout).toContain("fix:");
    expect(line(r.stdout, "other checks")).toContain("skip");

    const good = path.join(tmp, "good.toml");
    fs.writeFileSync(
      good,
      `data_dir = ${JSON.stringify(path.join(tmp, "from-toml"))}\n[listeners]\nhttp = "127.0.0.1:0"\n`,
    );
    const ok = await run(["doctor", "-c", good]);
    expect(ok.code).toBe(0);
    expect(line(ok.stdout, "config")).toContain(`${good} is valid`);
    expect(line(ok.stdout, "data dir")).toContain(
      `${path.join(tmp, "from-toml")} does not exist yet; eddy serve creates it`,
    );
  });

  it("takes the environment into account", async () => {
    const r = await run(["doctor", "--http-listen", "127.0.0.1:0"], {
      env: { EDDY_DATA_DIR: path.join(tmp, "from-env"), EDDY_NO_SUCH_THING: "1" },
    });
    expect(r.code).toBe(0);
    expect(line(r.stdout, "data dir")).toContain(path.join(tmp, "from-env"));
    expect(r.stdout).toMatch(/WARN\s+config\s+ignoring EDDY_NO_SUCH_THING/);
  });

  it("fails when the data directory is a file or lies under one", async () => {
    const file = path.join(tmp, "a-file");
    fs.writeFileSync(file, "x");
    const r = await run(["doctor", "--data-dir", file, "--http-listen", "127.0.0.1:0"]);
    expect(r.code).toBe(1);
    expect(line(r.stdout, "data dir")).toMatch(/FAIL\s+data dir\s+.*a-file is not a directory/);
    expect(r.stdout).toContain("fix: move the file away, or set data_dir to a directory");
    expect(line(r.stdout, "fsync")).toContain("skip");

    const under = await run(["doctor", "--data-dir", path.join(file, "sub"), "--http-listen", "127.0.0.1:0"]);
    expect(under.code).toBe(1);
    expect(line(under.stdout, "data dir")).toContain(`${file} is a file, not a directory`);
  });

  it("fails when free disk space is below broker.min_free_disk_bytes", async () => {
    const r = await run([
      "doctor",
      "--data-dir",
      tmp,
      "--http-listen",
      "127.0.0.1:0",
      "--set",
      "broker.min_free_disk_bytes=1000TiB",
    ]);
    expect(r.code).toBe(1);
    expect(line(r.stdout, "disk")).toMatch(/FAIL\s+disk\s+.*below broker.min_free_disk_bytes/);
    expect(r.stdout).toContain("fix: free space");
  });

  it("warns when free disk space is low but above the limit", () => {
    const res = checkDisk(tmp, 0, { ...DEFAULT_THRESHOLDS, diskWarnBytes: Number.MAX_SAFE_INTEGER });
    expect(res.status).toBe(CheckStatus.WARN);
    expect(res.fix).toContain("retention.bytes");
    expect(checkDisk(tmp, 0, { ...DEFAULT_THRESHOLDS, diskWarnBytes: 1 }).status).toBe(CheckStatus.OK);
  });

  it("fails when another program holds the HTTP port", async () => {
    const sockets = new Set<net.Socket>();
    const other = net.createServer((s) => {
      sockets.add(s);
      s.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const port = (other.address() as net.AddressInfo).port;
    try {
      const r = await run(["doctor", "--data-dir", tmp, "--http-listen", `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(line(r.stdout, "listener http")).toMatch(
        /FAIL\s+listener http \(tcp\)\s+127\.0\.0\.1:\d+ is in use by another program/,
      );
      expect(r.stdout).toContain(`ss -ltnp 'sport = :${port}'`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => other.close(resolve));
    }
  });

  /** Every listener on port 0 but CoAP: only the CoAP line is under test. */
  const onlyCoap = (coap: string) => [
    "doctor",
    "--data-dir",
    tmp,
    "--http-listen",
    "127.0.0.1:0",
    "--kafka-listen",
    "127.0.0.1:0",
    "--mqtt-listen",
    "127.0.0.1:0",
    "--coap-listen",
    coap,
  ];

  it("checks CoAP by binding UDP: a busy TCP port is no problem, a busy UDP port is", async () => {
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    const tcpPort = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    const udpPort = udp.address().port;
    try {
      const free = await run(onlyCoap(`127.0.0.1:${tcpPort}`));
      expect(line(free.stdout, "listener coap (udp)")).toMatch(
        /ok\s+listener coap \(udp\)\s+127\.0\.0\.1:\d+ is free/,
      );
      expect(line(free.stdout, "listener http (tcp)")).toContain("port 0 picks a free port");
      // Nothing answers the CoAP ping there: a short probe timeout keeps the test fast.
      const report = await runDoctor({
        configFile: null,
        flags: parseServeArgs(onlyCoap(`127.0.0.1:${udpPort}`).slice(1)).settings,
        env: {},
        thresholds: { probeTimeoutMs: 100, fsyncSamples: 1 },
      });
      const busy = { stdout: formatReport(report) };
      expect(report.failed).toBe(1);
      expect(line(busy.stdout, "listener coap (udp)")).toMatch(
        /FAIL\s+listener coap \(udp\)\s+127\.0\.0\.1:\d+ is in use by another program/,
      );
      expect(busy.stdout).toContain(`ss -lunp 'sport = :${udpPort}'`);
    } finally {
      udp.close();
      await new Promise((resolve) => tcp.close(resolve));
    }
  });

  it("warns, not fails, when a CoAP server (an Eddy broker?) answers a ping on the CoAP port", async () => {
    const broker = await createBroker({
      logStore: createMemoryLogStore({ clock: systemClock }),
      clock: systemClock,
      metadata: openMetadataStore({ path: ":memory:" }),
      housekeepingIntervalMs: 0,
    });
    const coap = await startCoapListener({ broker, logger: silentLogger, port: 0 });
    try {
      const r = await run(onlyCoap(`127.0.0.1:${coap.port}`));
      expect(r.code).toBe(0);
      expect(line(r.stdout, "listener coap (udp)")).toMatch(
        /WARN\s+listener coap \(udp\)\s+.* is in use by a CoAP server \(it answers a CoAP ping\)/,
      );
      expect(r.stdout).toContain("if it is this Eddy broker, nothing to do");
    } finally {
      await coap.close();
      await broker.close();
    }
  });

  it("lists one check per listener, each with its transport", () => {
    const names = (raw: unknown) =>
      listenerPlans(configSchema.parse(raw)).map((p) => `${p.name}/${p.transport} ${p.key}`);
    expect(names({})).toEqual([
      "http/tcp listeners.http",
      "kafka/tcp listeners.kafka",
      "mqtt/tcp listeners.mqtt",
      "coap/udp listeners.coap",
    ]);
    expect(
      names({
        listeners: { kafka: "off" },
        mqtt: { tls_cert_file: "/etc/eddy/cert.pem", tls_key_file: "/etc/eddy/key.pem" },
        cluster: { peers: [{ id: 2, url: "https://10.0.0.2:9093" }] },
      }),
    ).toEqual([
      "http/tcp listeners.http",
      "mqtt/tcp listeners.mqtt",
      "mqtt_tls/tcp mqtt.tls_listen",
      "coap/udp listeners.coap",
      "peer/tcp listeners.peer",
    ]);
  });

  describe("with a broker running", () => {
    let srv: TestServer;
    beforeAll(async () => {
      srv = await startServer();
    });
    afterAll(async () => {
      await srv.close();
    });

    it("accepts a busy port when an Eddy broker answers there", async () => {
      const hostPort = srv.url.replace("http://", "");
      const r = await run(["doctor", "--data-dir", tmp, "--http-listen", hostPort]);
      expect(r.code).toBe(0);
      expect(line(r.stdout, "listener http")).toMatch(
        /ok\s+listener http\s+.*an Eddy broker already answers here \(node 1/,
      );
    });
  });

  it("rejects unknown options with exit code 2 and has --help", async () => {
    const bad = await run(["doctor", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--bogus'");
    const help = await run(["doctor", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: eddy doctor");
    expect(help.stdout).toContain("Examples:");
    expect((await run(["--help"])).stdout).toMatch(/doctor\s+check ports/);
  });
});

describe("fsync latency", () => {
  it("percentile uses the nearest rank", () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(10);
    expect(percentile(xs, 99)).toBe(20);
    expect(percentile([], 50)).toBe(0);
  });

  it("warns on SD-card-like latency and passes a fast disk", () => {
    const slow = judgeFsync({ samples: 20, p50Ms: 25, p99Ms: 120, maxMs: 130 }, DEFAULT_THRESHOLDS);
    expect(slow.status).toBe(CheckStatus.WARN);
    expect(slow.summary).toContain("p50 25 ms, p99 120 ms");
    expect(slow.fix).toContain("durability=write");
    const spiky = judgeFsync({ samples: 20, p50Ms: 0.4, p99Ms: 80, maxMs: 80 }, DEFAULT_THRESHOLDS);
    expect(spiky.status).toBe(CheckStatus.WARN);
    const fast = judgeFsync({ samples: 20, p50Ms: 0.3, p99Ms: 2, maxMs: 2 }, DEFAULT_THRESHOLDS);
    expect(fast.status).toBe(CheckStatus.OK);
    expect(fast.summary).toBe("20 × 4 KiB fdatasync: p50 0.30 ms, p99 2.00 ms");
  });

  it("runDoctor applies injected thresholds", async () => {
    const report = await runDoctor({
      configFile: null,
      env: {},
      flags: [
        { key: "data_dir", value: tmp, source: "test" },
        { key: "listeners.http", value: "127.0.0.1:0", source: "test" },
      ],
      thresholds: { fsyncSamples: 3, fsyncWarnP50Ms: -1 },
    });
    const fsync = report.results.find((r) => r.name === "fsync");
    expect(fsync?.status).toBe(CheckStatus.WARN);
    expect(fsync?.summary).toStartWith("3 × 4 KiB fdatasync");
    expect(report.warnings).toBe(1);
    expect(report.failed).toBe(0);
  });
});

describe("eddy doctor peers", () => {
  let peer: PeerNetwork;
  beforeAll(() => {
    // A real peer listener of node 2 (h2c on loopback), as eddy serve starts it.
    peer = startPeerNetwork({
      nodeId: 2,
      peers: [{ id: 2, url: "http://127.0.0.1:1" }],
      host: "127.0.0.1",
      port: 0,
      secret: "right",
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await peer.close();
  });

  const cfg = (peers: { id: number; url: string }[], secret: string) =>
    configSchema.parse({
      node_id: 1,
      cluster: { secret, peers: [{ id: 1, url: "http://127.0.0.1:9" }, ...peers] },
    });

  it("pings each other peer with the secret and reports the round trip", async () => {
    const results = await checkPeers(cfg([{ id: 2, url: peer.url }], "right"), { timeoutMs: 3000 });
    expect(results).toHaveLength(1); // node 1 (this node) is not pinged
    expect(results[0]!.name).toBe("peer 2");
    expect(results[0]!.status).toBe(CheckStatus.OK);
    expect(results[0]!.summary).toMatch(/reachable, round trip [\d.]+ ms/);
  });

  it("says the cluster secret differs on a 401", async () => {
    const [r] = await checkPeers(cfg([{ id: 2, url: peer.url }], "wrong"), { timeoutMs: 3000 });
    expect(r!.status).toBe(CheckStatus.FAIL);
    expect(r!.summary).toContain("refused the cluster secret (HTTP 401)");
    expect(r!.fix).toContain("cluster.secret differs");
  });

  it("says where to look when a peer is unreachable", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const [r] = await checkPeers(cfg([{ id: 3, url: `http://127.0.0.1:${closed}` }], "right"), {
      timeoutMs: 3000,
    });
    expect(r!.name).toBe("peer 3");
    expect(r!.status).toBe(CheckStatus.FAIL);
    expect(r!.summary).toContain("unreachable");
    expect(r!.fix).toContain("firewall");
  });

  it("notices a URL that reaches another node, and runs in eddy doctor", async () => {
    const file = path.join(tmp, "cluster.toml");
    fs.writeFileSync(
      file,
      `node_id = 1\ndata_dir = "${path.join(tmp, "cluster-data")}"\n[listeners]\nhttp = "127.0.0.1:0"\n` +
        `kafka = "off"\nmqtt = "off"\ncoap = "off"\npeer = "127.0.0.1:0"\n[cluster]\nsecret = "right"\n` +
        `[[cluster.peers]]\nid = 1\nurl = "http://127.0.0.1:9"\n` +
        `[[cluster.peers]]\nid = 2\nurl = "${peer.url}"\n` +
        `[[cluster.peers]]\nid = 3\nurl = "${peer.url}"\n`,
    );
    const r = await run(["doctor", "--config", file]);
    expect(line(r.stdout, "peer 2")).toMatch(/ok\s+peer 2\s+.*reachable, round trip/);
    expect(line(r.stdout, "peer 3")).toMatch(/FAIL\s+peer 3\s+.*answers as node 2, not node 3/);
    expect(r.stdout).toContain("correct the url of [[cluster.peers]] id = 3");
    expect(r.code).toBe(1);
  });

  it("classifies TLS failures and asks for the right files", () => {
    const r = judgePeer(
      { id: 2, url: "https://10.0.0.2:9093", secretSet: true },
      { ok: false, status: null, code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", message: "unable to verify" },
    );
    expect(r.status).toBe(CheckStatus.FAIL);
    expect(r.summary).toContain("TLS failed");
    expect(r.fix).toContain("cluster.tls_ca_file");
    const noSecret = judgePeer(
      { id: 2, url: "http://127.0.0.1:9093", secretSet: false },
      { ok: false, status: 401, code: null, message: "peer secret mismatch" },
    );
    expect(noSecret.fix).toContain("set cluster.secret");
  });
});
