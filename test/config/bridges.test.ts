/** Config of the bridges: MQTT and CoAP listeners, MQTT mapping and limits, CoAP options, mirror links. */
import { describe, expect, it } from "bun:test";
import { parseServeArgs } from "../../src/config/flags.ts";
import { loadConfig } from "../../src/config/load.ts";
import { issuesOf, useTomlFiles } from "./helpers.ts";

const toml = useTomlFiles();

const flags = (...argv: string[]) => parseServeArgs(argv).settings;

describe("bridge listeners", () => {
  it("serve MQTT on 1883 and CoAP on 5683 at loopback by default; flags move or disable them", () => {
    const { config, warnings } = loadConfig({ env: {} });
    expect(config.listeners.mqtt).toBe("127.0.0.1:1883");
    expect(config.listeners.coap).toBe("127.0.0.1:5683");
    expect(config.mqtt.tls_listen).toBe("127.0.0.1:8883");
    expect(warnings).toEqual([]);
    const moved = loadConfig({
      env: {},
      flags: flags("--mqtt-listen", "127.0.0.1:0", "--coap-listen=off", "--mqtt-tls-listen", "127.0.0.1:0"),
    });
    expect(moved.config.listeners.mqtt).toBe("127.0.0.1:0");
    expect(moved.config.listeners.coap).toBeNull();
    expect(moved.config.mqtt.tls_listen).toBe("127.0.0.1:0");
    expect(loadConfig({ env: { EDDY_LISTENERS_MQTT: "off" } }).config.listeners.mqtt).toBeNull();
  });

  it("refuse non-loopback MQTT and CoAP addresses without allow_anonymous", () => {
    const issues = issuesOf(() =>
      loadConfig({ env: {}, flags: flags("--mqtt-listen", "0.0.0.0:1883", "--coap-listen", "0.0.0.0:5683") }),
    );
    expect(issues.join("\n")).toContain("listeners.mqtt: 0.0.0.0:1883 is reachable from the network");
    expect(issues.join("\n")).toContain("listeners.coap: 0.0.0.0:5683 is reachable from the network");
    const open = loadConfig({
      env: {},
      flags: flags("--mqtt-listen", "0.0.0.0:1883", "--coap-listen", "0.0.0.0:5683", "--allow-anonymous"),
    });
    expect(open.config.listeners.mqtt).toBe("0.0.0.0:1883");
  });

  it("MQTT TLS: cert and key together; its address follows the exposure rule", () => {
    const half = issuesOf(() => loadConfig({ env: { EDDY_MQTT_TLS_CERT_FILE: "/tmp/c.pem" } }));
    expect(half[0]).toContain("mqtt.tls_cert_file and mqtt.tls_key_file");
    const exposed = issuesOf(() =>
      loadConfig({
        env: { EDDY_MQTT_TLS_CERT_FILE: "/tmp/c.pem", EDDY_MQTT_TLS_KEY_FILE: "/tmp/k.pem" },
        flags: flags("--mqtt-tls-listen", "0.0.0.0:8883"),
      }),
    );
    expect(exposed[0]).toContain("mqtt.tls_listen: 0.0.0.0:8883 is reachable from the network");
    expect(exposed[0]).toContain("--mqtt-tls-listen");
  });
});

describe("[mqtt] and [coap]", () => {
  it("read mapping rules, reverse rules and limits from TOML with units", () => {
    const file = toml(`
[mqtt]
default_topic = ""
max_packet_bytes = "256KiB"
max_session_expiry_ms = "1d"
keep_alive_override_ms = "30s"
max_connections = 50

[[mqtt.rules]]
filter = "sensors/+/temp"
topic = "telemetry"
key = "{1}"

[[mqtt.reverse]]
topic = "commands"
mqtt_topic = "devices/{key}/commands"

[coap]
prefix = "pubsub"
max_body_bytes = "8KiB"
rate_limit_per_second = 0
`);
    const { config } = loadConfig({ configFile: file, env: {} });
    expect(config.mqtt.default_topic).toBe("");
    expect(config.mqtt.max_packet_bytes).toBe(256 * 1024);
    expect(config.mqtt.max_session_expiry_ms).toBe(86_400_000);
    expect(config.mqtt.keep_alive_override_ms).toBe(30_000);
    expect(config.mqtt.max_connections).toBe(50);
    expect(config.mqtt.rules).toEqual([{ filter: "sensors/+/temp", topic: "telemetry", key: "{1}" }]);
    expect(config.mqtt.reverse).toEqual([
      { topic: "commands", mqtt_topic: "devices/{key}/commands", qos: 1 },
    ]);
    expect(config.coap).toEqual({
      prefix: "pubsub",
      max_body_bytes: 8192,
      rate_limit_per_second: 0,
      rate_limit_burst: 2000,
    });
  });

  it("take rule lists as JSON from the environment, and name the bad key of a rule", () => {
    const { config } = loadConfig({
      env: { EDDY_MQTT_RULES: '[{"filter":"a/#","topic":"a","key":"{#}"}]' },
    });
    expect(config.mqtt.rules).toEqual([{ filter: "a/#", topic: "a", key: "{#}" }]);
    const file = toml(`
[[mqtt.reverse]]
topic = "commands"
mqtt_topic = "d/{key}"
qos = 3
[[mqtt.rules]]
filter = "x"
topics = "y"
`);
    const issues = issuesOf(() => loadConfig({ configFile: file, env: {} })).join("\n");
    expect(issues).toContain("mqtt.reverse.0.qos: expected 0, 1 or 2");
    expect(issues).toContain("mqtt.rules.0");
    expect(issues).toContain("topics");
  });
});

describe("[mirror]", () => {
  it("keeps [[mirror.links]] tables as given (the mirror bridge validates their keys)", () => {
    const file = toml(`
[[mirror.links]]
name = "central"
bootstrap_servers = ["kafka:9092"]
topics = ["alarms"]
`);
    const { config } = loadConfig({ configFile: file, env: {} });
    expect(config.mirror.links).toEqual([
      { name: "central", bootstrap_servers: ["kafka:9092"], topics: ["alarms"] },
    ]);
    expect(issuesOf(() => loadConfig({ env: { EDDY_MIRROR_LINKS: "central" } }))[0]).toContain(
      "mirror.links: expected a list of tables",
    );
  });
});
