/** The [cluster] configuration: peers from TOML, Kafka-style keys, and the checks at load time. */
import { describe, expect, it } from "bun:test";
import { parseServeArgs } from "../../src/config/flags.ts";
import { loadConfig } from "../../src/config/load.ts";
import { issuesOf, useTomlFiles } from "../config/helpers.ts";

const toml = useTomlFiles();

const PEERS = `
[[cluster.peers]]
id = 1
url = "http://127.0.0.1:19301"
kafka = "10.0.0.1:9092"
[[cluster.peers]]
id = 2
url = "http://127.0.0.1:19302"
[[cluster.peers]]
id = 3
url = "http://127.0.0.1:19303"
witness = true
`;

describe("cluster config", () => {
  it("reads peers, the secret, timeouts and Kafka's replica.* keys; --peer-listen sets the listener", () => {
    const file = toml(
      `"replica.lag.time.max.ms" = 5000\n[cluster]\nsecret = "s"\nelection_timeout_ms = "2s"\n${PEERS}`,
    );
    const r = loadConfig({
      configFile: file,
      env: {},
      flags: parseServeArgs(["--peer-listen", "127.0.0.1:0"]).settings,
    });
    expect(r.config.cluster.peers).toEqual([
      { id: 1, url: "http://127.0.0.1:19301", kafka: "10.0.0.1:9092", witness: false },
      { id: 2, url: "http://127.0.0.1:19302", kafka: "", witness: false },
      { id: 3, url: "http://127.0.0.1:19303", kafka: "", witness: true },
    ]);
    expect(r.config.cluster.replica_lag_time_max_ms).toBe(5000);
    expect(r.config.cluster.election_timeout_ms).toBe(2000);
    expect(r.config.listeners.peer).toBe("127.0.0.1:0");
    expect(r.warnings).toEqual([]);
  });

  it("refuses peers without this node, without authentication, with duplicate ids or too many nodes", () => {
    const noSecret = issuesOf(() => loadConfig({ configFile: toml(PEERS), env: {} }));
    expect(noSecret.join("\n")).toContain("cluster.secret");
    const notListed = issuesOf(() =>
      loadConfig({ configFile: toml(`node_id = 9\n[cluster]\nsecret = "s"\n${PEERS}`), env: {} }),
    );
    expect(notListed.join("\n")).toContain("node_id 9 is not among the peers");
    const dup = `[cluster]\nsecret = "s"\n${PEERS}[[cluster.peers]]\nid = 2\nurl = "http://127.0.0.1:1"\n`;
    expect(issuesOf(() => loadConfig({ configFile: toml(dup), env: {} })).join("\n")).toContain("its own id");
    const six = Array.from(
      { length: 6 },
      (_, i) => `[[cluster.peers]]\nid = ${i + 1}\nurl = "http://127.0.0.1:1"\n`,
    );
    const many = `[cluster]\nsecret = "s"\n${six.join("")}`;
    expect(issuesOf(() => loadConfig({ configFile: toml(many), env: {} })).join("\n")).toContain(
      "2 to 5 nodes",
    );
  });
});
