/** CLI behaviour that needs no broker: help, usage errors (exit 2), "no broker answers" (exit 1), URL discovery. */
import { afterAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveUrl } from "../../src/cli/client.ts";
import { COMMANDS } from "../../src/cli/index.ts";
import { deadUrl, run } from "./run-cli.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-cli-offline-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("help", () => {
  it("prints the top-level help listing every command", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name} `);
    expect(r.stdout).toContain("serve");
  });

  it("every command has --help with examples", async () => {
    for (const c of COMMANDS) {
      const r = await run([c.name, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: eddy ${c.name}`);
      expect(r.stdout).toContain("Examples:");
    }
    const sub = await run(["perf", "produce", "--help"]);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain("Usage: eddy perf produce");
    const viaHelp = await run(["help", "groups"]);
    expect(viaHelp.stdout).toContain("Usage: eddy groups");
  });
});

describe("usage errors exit 2 and point at --help", () => {
  const cases: Array<[string[], string]> = [
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["topics"], "give one of --create, --list, --describe, --delete, --alter"],
    [["topics", "--list", "--delete"], "give only one of"],
    [["topics", "--create"], "--topic is required"],
    [
      ["topics", "--create", "--topic", "t", "--partitions", "zero"],
      '--partitions expects a whole number, got "zero"',
    ],
    [["topics", "--create", "--topic", "t", "--partitions", "0"], "--partitions must be at least 1"],
    [["topics", "--list", "--bogus"], "Unknown option '--bogus'"],
    [
      ["topics", "--create", "--topic", "t", "--config", "noequals"],
      '--config expects key=value, got "noequals"',
    ],
    [["produce", "--topic", "t", "--acks", "2"], '--acks expects 0, 1 or all, got "2"'],
    [["produce", "--topic", "t", "--property", "nope=1"], 'unknown --property "nope"'],
    [["consume", "--topic", "t", "--offset", "5"], "--offset N needs --partition"],
    [
      ["consume", "--topic", "t", "--from-beginning", "--offset", "earliest"],
      "either --from-beginning or --offset",
    ],
    [["groups", "--reset-offsets", "--group", "g", "--topic", "t"], "give exactly one of --to-earliest"],
    [
      ["groups", "--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"],
      "--to-datetime expects",
    ],
    [["configs", "--topic", "t", "--alter"], "--alter needs --add-config"],
    [["delete-records", "--topic", "t", "--partition", "0"], "--offset is required"],
    [["perf"], "give produce or consume"],
    [["perf", "produce", "--topic", "t", "--num-records", "10"], "--record-size is required"],
    [
      ["perf", "produce", "--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "0"],
      "--throughput must be positive",
    ],
  ];
  for (const [argv, message] of cases) {
    it(argv.join(" "), async () => {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain("--help` for usage");
      expect(r.stdout).toBe("");
    });
  }

  it("accepts negative numbers as option values (--shift-by -5)", async () => {
    // Parses fine, then fails only because no broker answers (exit 1, not 2).
    const url = await deadUrl();
    const r = await run([
      "groups",
      "--reset-offsets",
      "--group",
      "g",
      "--topic",
      "t",
      "--shift-by",
      "-5",
      "--url",
      url,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no Eddy broker answers");
  });
});

describe("no broker", () => {
  it("says clearly that no broker answers and how to start one", async () => {
    const url = await deadUrl();
    for (const argv of [
      ["topics", "--list"],
      ["groups", "--list"],
      ["consume", "--topic", "t"],
    ]) {
      const r = await run([...argv, "--url", url]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`no Eddy broker answers at ${url}`);
      expect(r.stderr).toContain("start one with `eddy serve` or pass --url");
    }
  });

  it("produce reports it too, without reading stdin forever", async () => {
    const url = await deadUrl();
    const r = await run(["produce", "--topic", "t", "--url", url], { stdin: "a\nb\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no Eddy broker answers");
  });
});

describe("broker discovery", () => {
  it("--url wins, then EDDY_URL, then <data-dir>/listeners.json, then the default", async () => {
    fs.writeFileSync(path.join(dir, "listeners.json"), JSON.stringify({ http: "0.0.0.0:18080" }));
    expect(await resolveUrl({ url: "localhost:1/", dataDir: dir, env: { EDDY_URL: "http://x:2" } })).toBe(
      "http://localhost:1",
    );
    expect(await resolveUrl({ dataDir: dir, env: { EDDY_URL: "http://x:2" } })).toBe("http://x:2");
    expect(await resolveUrl({ dataDir: dir, env: {} })).toBe("http://127.0.0.1:18080");
    expect(await resolveUrl({ dataDir: path.join(dir, "missing"), env: {} })).toBe("http://127.0.0.1:8080");
  });

  it("understands listeners.json entries as objects and nested under listeners", async () => {
    const sub = path.join(dir, "nested");
    fs.mkdirSync(sub);
    fs.writeFileSync(
      path.join(sub, "listeners.json"),
      JSON.stringify({ listeners: { http: { host: "::1", port: 9 } } }),
    );
    expect(await resolveUrl({ dataDir: sub, env: {} })).toBe("http://[::1]:9");
  });
});
