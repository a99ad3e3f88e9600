import { describe, expect, it } from "bun:test";
import { parseServeArgs } from "../../src/config/flags.ts";
import { loadConfig } from "../../src/config/load.ts";
import { defaultConfig } from "../../src/config/schema.ts";
import { issuesOf, useTomlFiles } from "./helpers.ts";

const toml = useTomlFiles();

describe("loadConfig precedence", () => {
  it("uses the schema defaults with no file, env or flags", () => {
    const { config } = loadConfig({ env: {} });
    expect(config).toEqual(defaultConfig());
    expect(config.data_dir).toBe("./eddy-data");
    expect(config.listeners.http).toBe("127.0.0.1:8080");
    expect(config.listeners.kafka).toBe("127.0.0.1:9092");
    expect(config.topic_defaults.durability).toBe("fsync");
  });

  it("defaults < toml < env < flags, key by key", () => {
    const file = toml(`
data_dir = "/from/toml"
[broker]
num_partitions = 2
flush_bytes = 100
[log]
level = "warn"
`);
    const { config, sources } = loadConfig({
      configFile: file,
      env: { EDDY_BROKER_NUM_PARTITIONS: "3", EDDY_LOG_LEVEL: "debug" },
      flags: parseServeArgs(["--log-level", "error", "--http-listen=127.0.0.1:0"]).settings,
    });
    expect(config.data_dir).toBe("/from/toml"); // toml over default
    expect(config.broker.flush_bytes).toBe(100); // toml over default
    expect(config.broker.num_partitions).toBe(3); // env over toml
    expect(config.logging.level).toBe("error"); // flag over env over toml
    expect(config.listeners.http).toBe("127.0.0.1:0"); // flag over default
    expect(config.broker.auto_create_topics).toBe(true); // untouched default
    expect(sources["broker.num_partitions"]).toBe("EDDY_BROKER_NUM_PARTITIONS");
    expect(sources["logging.level"]).toBe("--log-level");
  });

  it("reads the config file named by EDDY_CONFIG when no --config is given", () => {
    const file = toml("node_id = 7\n");
    expect(loadConfig({ env: { EDDY_CONFIG: file } }).config.node_id).toBe(7);
  });
});

describe("Kafka-style keys", () => {
  it("are accepted in TOML, dotted or quoted, and map onto the schema", () => {
    const file = toml(`
"log.retention.ms" = 3600000
"num.partitions" = 4
"auto.create.topics.enable" = false
"log.cleanup.policy" = "delete,compact"
message.max.bytes = 2000000
min.insync.replicas = 2
"log.segment.bytes" = "64MiB"
"log.dirs" = "/var/lib/eddy"
[log]
level = "debug"
`);
    const { config } = loadConfig({ configFile: file });
    expect(config.topic_defaults.retention_ms).toBe(3_600_000);
    expect(config.broker.num_partitions).toBe(4);
    expect(config.broker.auto_create_topics).toBe(false);
    expect(config.topic_defaults.cleanup_policy).toBe("compact,delete");
    expect(config.topic_defaults.max_message_bytes).toBe(2_000_000);
    expect(config.topic_defaults.min_insync_replicas).toBe(2);
    expect(config.topic_defaults.segment_bytes).toBe(64 * 1024 * 1024);
    expect(config.data_dir).toBe("/var/lib/eddy");
    expect(config.logging.level).toBe("debug"); // [log] section and quoted log.* Kafka keys coexist
    // Unquoted dotted keys work too when there is no [log] table to clash with.
    expect(
      loadConfig({ configFile: toml("log.retention.hours = 1\n") }).config.topic_defaults.retention_ms,
    ).toBe(3_600_000);
  });

  it("are accepted as environment and with --set, converting hours", () => {
    const { config } = loadConfig({
      env: { EDDY_LOG_RETENTION_HOURS: "2", EDDY_NUM_PARTITIONS: "6", EDDY_DEFAULT_REPLICATION_FACTOR: "1" },
      flags: parseServeArgs(["--set", "log.retention.bytes=1GiB", "--set", "durability=write"]).settings,
    });
    expect(config.topic_defaults.retention_ms).toBe(7_200_000);
    expect(config.broker.num_partitions).toBe(6);
    expect(config.topic_defaults.retention_bytes).toBe(1024 ** 3);
    expect(config.topic_defaults.durability).toBe("write");
  });

  it("accept durations with units", () => {
    const { config } = loadConfig({
      env: { EDDY_TOPIC_DEFAULTS_SEGMENT_MS: "1h", EDDY_BROKER_FLUSH_INTERVAL_MS: "5ms" },
    });
    expect(config.topic_defaults.segment_ms).toBe(3_600_000);
    expect(config.broker.flush_interval_ms).toBe(5);
  });
});

describe("config errors", () => {
  it("name the key path, the bad value and where it was set", () => {
    const issues = issuesOf(() => loadConfig({ flags: parseServeArgs(["--http-listen", "abc"]).settings }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toStartWith("listeners.http: expected host:port");
    expect(issues[0]).toContain("got 'abc'");
    expect(issues[0]).toContain("--http-listen");
  });

  it("reads unquoted Kafka log.* keys at the top of the file next to the [logging] table", () => {
    const file = toml('log.retention.hours = 2\nlog.segment.bytes = 1048576\n[logging]\nlevel = "warn"\n');
    const { config } = loadConfig({ configFile: file });
    expect(config.topic_defaults.retention_ms).toBe(7_200_000);
    expect(config.topic_defaults.segment_bytes).toBe(1_048_576);
    expect(config.logging.level).toBe("warn");
  });

  it("collect every problem at once, Kafka keys reported on their schema path", () => {
    const file = toml('[logging]\nformat = "xml"\n[broker]\nnum_partitions = 0\n');
    const issues = issuesOf(() =>
      loadConfig({
        configFile: file,
        env: { EDDY_LOG_RETENTION_MS: "soon", EDDY_AUTH_ALLOW_ANONYMOUS: "maybe" },
      }),
    );
    expect(issues.join("\n")).toContain("logging.format: expected one of");
    expect(issues.join("\n")).toContain("got 'xml'");
    expect(issues.join("\n")).toContain("broker.num_partitions: expected a number >= 1, got 0");
    expect(issues.join("\n")).toContain(
      "topic_defaults.retention_ms: expected a number, got 'soon' (set by EDDY_LOG_RETENTION_MS as log.retention.ms)",
    );
    expect(issues.join("\n")).toContain("auth.allow_anonymous: expected true or false, got 'maybe'");
    expect(issues).toHaveLength(4);
  });

  it("reject unknown keys in the file with a suggestion, and only warn about unknown EDDY_ variables", () => {
    const issues = issuesOf(() => loadConfig({ configFile: toml("[broker]\nnum_partition = 3\n") }));
    expect(issues[0]).toContain("broker.num_partition: unknown key");
    expect(issues[0]).toContain("broker.num_partitions");
    const { warnings } = loadConfig({ env: { EDDY_LOG_LEVLE: "debug", EDDY_URL: "http://x" } });
    expect(warnings).toEqual(["ignoring EDDY_LOG_LEVLE: not a config key (did you mean EDDY_LOG_LEVEL?)"]);
  });

  it("report a missing file and invalid TOML", () => {
    expect(issuesOf(() => loadConfig({ configFile: "/nonexistent/eddy.toml" }))[0]).toContain("no such file");
    expect(issuesOf(() => loadConfig({ configFile: toml("data_dir = \n") }))[0]).toContain("not valid TOML");
  });

  it("reject unknown flags and flags without a value", () => {
    expect(issuesOf(() => parseServeArgs(["--bogus"]))[0]).toContain("unknown option '--bogus'");
    expect(issuesOf(() => parseServeArgs(["--data-dir"]))[0]).toContain("needs a value");
    expect(issuesOf(() => parseServeArgs(["--set", "novalue"]))[0]).toContain("KEY=VALUE");
  });
});

describe("listener exposure", () => {
  it("refuses a non-loopback listener without auth, saying how to open it", () => {
    const issues = issuesOf(() =>
      loadConfig({ flags: parseServeArgs(["--http-listen", "0.0.0.0:8080"]).settings }),
    );
    expect(issues[0]).toContain("listeners.http: 0.0.0.0:8080 is reachable from the network");
    expect(issues[0]).toContain("auth.allow_anonymous = true");
    expect(issues[0]).toContain("--allow-anonymous");
  });

  it("allows it with allow_anonymous, and always allows loopback addresses", () => {
    const open = loadConfig({
      flags: parseServeArgs(["--http-listen", "0.0.0.0:8080", "--allow-anonymous"]).settings,
    });
    expect(open.config.listeners.http).toBe("0.0.0.0:8080");
    for (const addr of ["127.0.0.1:1", "localhost:0", "[::1]:8080", "127.9.9.9:80"]) {
      expect(loadConfig({ env: { EDDY_LISTENERS_HTTP: addr } }).config.listeners.http).toBe(addr);
    }
  });

  it("warns about a peer listener without cluster peers and can disable http and kafka", () => {
    const r = loadConfig({ env: { EDDY_LISTENERS_PEER: "127.0.0.1:9093", EDDY_LISTENERS_HTTP: "off" } });
    expect(r.config.listeners.http).toBeNull();
    expect(r.warnings[0]).toContain("cluster.peers is empty");
    const off = loadConfig({ env: {}, flags: parseServeArgs(["--kafka-listen", "off"]).settings });
    expect(off.config.listeners.kafka).toBeNull();
    expect(off.warnings).toEqual([]);
  });

  it("kafka: SASL users from a table or 'user:password' pairs; a network address needs them", () => {
    const pairs = loadConfig({ env: { EDDY_KAFKA_SASL_USERS: "alice:s3cret,bob:pw:with:colons" } });
    expect(pairs.config.kafka.sasl.users).toEqual({ alice: "s3cret", bob: "pw:with:colons" });
    expect(pairs.config.kafka.sasl.mechanisms).toEqual(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    const file = toml('[kafka.sasl]\nmechanisms = "plain"\n[kafka.sasl.users]\ncarol = "pw"\n');
    const fromToml = loadConfig({ configFile: file, env: {} });
    expect(fromToml.config.kafka.sasl).toEqual({ mechanisms: ["PLAIN"], users: { carol: "pw" } });
    expect(issuesOf(() => loadConfig({ env: { EDDY_LISTENERS_KAFKA: "0.0.0.0:9092" } }))[0]).toContain(
      "listeners.kafka: 0.0.0.0:9092 is reachable from the network",
    );
    const open = loadConfig({ env: { EDDY_LISTENERS_KAFKA: "0.0.0.0:9092", EDDY_KAFKA_SASL_USERS: "a:b" } });
    expect(open.config.listeners.kafka).toBe("0.0.0.0:9092");
    expect(issuesOf(() => loadConfig({ env: { EDDY_KAFKA_SASL_MECHANISMS: "GSSAPI" } }))[0]).toContain(
      "kafka.sasl.mechanisms",
    );
  });
});
