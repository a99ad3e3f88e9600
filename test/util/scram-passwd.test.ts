/**
 * `eddy passwd --user` prints the password hash and the stored SCRAM
 * credentials as one block; pasted into eddy.toml it loads, and SCRAM
 * (ScramUsers + ScramServer, as the Kafka and MQTT listeners use them) signs
 * the user in without the password in the config.
 */
import { describe, expect, it } from "bun:test";
import { loadConfig } from "../../src/config/load.ts";
import { ScramClient, type ScramMechanism, ScramServer, ScramUsers } from "../../src/util/scram.ts";
import { run } from "../cli/run-cli.ts";
import { useTomlFiles } from "../config/helpers.ts";

const toml = useTomlFiles();

function login(users: ScramUsers, mechanism: ScramMechanism, user: string, password: string): boolean {
  const server = new ScramServer(mechanism, (u) => users.lookup(mechanism, u));
  const client = new ScramClient(mechanism, user, password);
  const first = server.first(client.first());
  if (!first.ok) return false;
  const final = server.final(client.final(first.message));
  return final.ok && client.verify(final.message);
}

describe("eddy passwd with SCRAM credentials", () => {
  it("prints hash + scram_sha_256 + scram_sha_512 (4096 iterations); the pasted block signs in over SCRAM", async () => {
    const r = await run(["passwd", "--user", "alice"], { stdin: "correct horse\n", env: {} });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("[auth.users.alice]");
    expect(lines[1]).toMatch(/^password_hash = "\$argon2id\$[^"]+"$/);
    expect(lines[2]).toStartWith("# SCRAM");
    expect(lines[3]).toMatch(
      /^scram_sha_256 = "[A-Za-z0-9+/=]+:4096:[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}"$/,
    );
    expect(lines[4]).toMatch(
      /^scram_sha_512 = "[A-Za-z0-9+/=]+:4096:[A-Za-z0-9+/=]{88}:[A-Za-z0-9+/=]{88}"$/,
    );
    expect(lines).toHaveLength(5);
    expect(r.stdout).not.toContain("correct horse");

    const { config } = loadConfig({ configFile: toml(r.stdout), env: {} });
    const users = new ScramUsers(config.auth.users);
    expect(login(users, "SCRAM-SHA-256", "alice", "correct horse")).toBe(true);
    expect(login(users, "SCRAM-SHA-512", "alice", "correct horse")).toBe(true);
    expect(login(users, "SCRAM-SHA-256", "alice", "correct horsE")).toBe(false);
  });

  it("--scram chooses mechanisms (or none) and --iterations the count; bad values are usage errors", async () => {
    const one = await run(["passwd", "--user", "bob", "--scram", "scram-sha-512", "--iterations", "8192"], {
      stdin: "pw",
      env: {},
    });
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain("scram_sha_256");
    expect(one.stdout).toMatch(/^scram_sha_512 = "[^:"]+:8192:/m);
    const { config } = loadConfig({ configFile: toml(one.stdout), env: {} });
    expect(login(new ScramUsers(config.auth.users), "SCRAM-SHA-512", "bob", "pw")).toBe(true);

    const none = await run(["passwd", "--user", "bob", "--scram", "none"], { stdin: "pw", env: {} });
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^\[auth\.users\.bob\]\npassword_hash = "[^"]+"\n$/);

    const badMech = await run(["passwd", "--user", "bob", "--scram", "SCRAM-SHA-1"], {
      stdin: "pw",
      env: {},
    });
    expect(badMech.code).toBe(2);
    expect(badMech.stderr).toContain("--scram: give SCRAM-SHA-256, SCRAM-SHA-512");
    const few = await run(["passwd", "--user", "bob", "--iterations", "1000"], { stdin: "pw", env: {} });
    expect(few.code).toBe(2);
    expect(few.stderr).toContain("--iterations must be at least 4096");
  });

  it("--help shows the output format", async () => {
    const r = await run(["passwd", "--help"], { env: {} });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('scram_sha_256 = "<salt>:4096:<StoredKey>:<ServerKey>"');
    expect(r.stdout).toContain("--iterations N");
    expect(r.stdout).toContain("a password hash cannot answer SCRAM");
  });
});
