/**
 * config/eddy.service: the keys an operator relies on are there, and (where
 * systemd-analyze is installed, as on Debian with systemd) systemd itself
 * parses the unit without a single warning.
 */
import { describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const UNIT = path.join(import.meta.dir, "../../config/eddy.service");
const text = fs.readFileSync(UNIT, "utf8");

/** section -> key -> values (a key may repeat). */
function parseUnit(src: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of src.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      out.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq <= 0) throw new Error(`not a unit-file line: ${raw}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const unit = parseUnit(text);
const value = (section: string, key: string) => unit.get(section)?.get(key)?.at(-1);

describe("config/eddy.service", () => {
  it("runs eddy serve as the dedicated user with data under /var/lib/eddy", () => {
    expect(value("Service", "ExecStart")).toBe("/usr/local/bin/eddy serve --config /etc/eddy/eddy.toml");
    expect(value("Service", "User")).toBe("eddy");
    expect(value("Service", "Group")).toBe("eddy");
    expect(value("Service", "StateDirectory")).toBe("eddy");
    expect(value("Service", "WorkingDirectory")).toBe("/var/lib/eddy");
    expect(value("Service", "ReadWritePaths")).toBe("/var/lib/eddy");
    expect(value("Install", "WantedBy")).toBe("multi-user.target");
  });

  it("restarts on failure but not on a configuration error, and stops gracefully", () => {
    expect(value("Service", "Restart")).toBe("on-failure");
    expect(value("Service", "RestartPreventExitStatus")).toBe("2");
    expect(value("Service", "KillSignal")).toBe("SIGTERM");
    expect(Number(value("Service", "LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
  });

  it("is hardened, without breaking the JIT", () => {
    expect(value("Service", "NoNewPrivileges")).toBe("yes");
    expect(value("Service", "ProtectSystem")).toBe("strict");
    expect(value("Service", "ProtectHome")).toBe("yes");
    expect(value("Service", "PrivateTmp")).toBe("yes");
    expect(value("Service", "CapabilityBoundingSet")).toBe("");
    expect(unit.get("Service")?.has("MemoryDenyWriteExecute")).toBe(false);
  });

  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  if (analyze.status === 0) {
    it("passes systemd-analyze verify with no warnings", () => {
      // verify checks that ExecStart's binary exists: point it at a stand-in.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-unit-"));
      try {
        const copy = path.join(dir, "eddy.service");
        fs.writeFileSync(copy, text.replaceAll("/usr/local/bin/eddy", "/bin/true"));
        const r = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
        expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
        expect(r.status).toBe(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
