import { describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { parse } from "smol-toml";
import { parseServeArgs } from "../../src/config/flags.ts";
import { loadConfig } from "../../src/config/load.ts";
import { defaultConfig, schemaKeyPaths } from "../../src/config/schema.ts";

const EXAMPLE = path.join(import.meta.dir, "../../config/eddy.toml");

function flatKeys(obj: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0
      ? flatKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}

describe("config/eddy.toml", () => {
  it("parses and yields exactly the schema defaults", () => {
    const { config, warnings } = loadConfig({ configFile: EXAMPLE, env: {} });
    expect(config).toEqual(defaultConfig());
    expect(warnings).toEqual([]);
  });

  it("sets every active key of the schema, and mentions the unset ones commented out", () => {
    const text = fs.readFileSync(EXAMPLE, "utf8");
    const present = new Set(flatKeys(parse(text) as Record<string, unknown>));
    // Keys whose default depends on other settings: shown commented out.
    const unset: Record<string, string> = {
      "listeners.peer": '# peer = "127.0.0.1:',
      "broker.default_replication_factor": "# default_replication_factor = ",
    };
    for (const key of schemaKeyPaths()) {
      const commented = unset[key];
      if (commented) {
        expect(present.has(key)).toBe(false);
        expect(text).toContain(commented);
      } else expect(present.has(key)).toBe(true);
    }
  });

  it("accepts Kafka's group.* and transaction.* broker keys for [groups] and [transactions]", () => {
    const { config } = loadConfig({
      env: { EDDY_GROUP_MAX_SIZE: "10" },
      flags: parseServeArgs([
        "--set",
        "group.initial.rebalance.delay.ms=100",
        "--set",
        "group.min.session.timeout.ms=1s",
        "--set",
        "group.max.session.timeout.ms=60000",
        "--set",
        "transaction.max.timeout.ms=5m",
      ]).settings,
    });
    expect(config.groups).toEqual({
      initial_rebalance_delay_ms: 100,
      min_session_timeout_ms: 1000,
      max_session_timeout_ms: 60_000,
      max_size: 10,
    });
    expect(config.transactions).toEqual({ max_timeout_ms: 300_000 });
    expect(defaultConfig().groups.initial_rebalance_delay_ms).toBe(3000);
  });
});
