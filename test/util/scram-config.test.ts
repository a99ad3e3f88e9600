/**
 * Stored SCRAM credentials in [auth.users] (src/config/auth-schema.ts):
 * scram_sha_256 / scram_sha_512 beside a password_hash, validation errors
 * naming the key path, and a stored credential that contradicts a plain
 * password.
 */
import { describe, expect, it } from "bun:test";
import { loadConfig } from "../../src/config/load.ts";
import { deriveScramCredential, formatScramCredential, ScramUsers } from "../../src/util/scram.ts";
import { issuesOf, useTomlFiles } from "../config/helpers.ts";

const toml = useTomlFiles();
const HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
const s256 = formatScramCredential(deriveScramCredential("SCRAM-SHA-256", "pw"));
const s512 = formatScramCredential(deriveScramCredential("SCRAM-SHA-512", "pw"));

describe("[auth.users] scram_sha_256 / scram_sha_512", () => {
  it("reads stored credentials beside a password hash; ScramUsers serves them", () => {
    const file = toml(`
[auth.users.alice]
password_hash = "${HASH}"
scram_sha_256 = "${s256}"
scram_sha_512 = "${s512}"
[auth.users.bob]
password_hash = "${HASH}"
`);
    const { config } = loadConfig({ configFile: file, env: {} });
    expect(config.auth.users.alice).toEqual({
      password_hash: HASH,
      scram_sha_256: s256,
      scram_sha_512: s512,
    });
    const users = new ScramUsers(config.auth.users);
    expect(users.lookup("SCRAM-SHA-256", "alice")?.iterations).toBe(4096);
    expect(users.lookup("SCRAM-SHA-512", "alice")?.storedKey).toHaveLength(64);
    expect(users.lookup("SCRAM-SHA-256", "bob")).toBeNull();
    expect(users.size).toBe(1);
  });

  it("takes the whole table as JSON from the environment", () => {
    const { config } = loadConfig({
      env: { EDDY_AUTH_USERS: JSON.stringify({ carol: { password_hash: HASH, scram_sha_256: s256 } }) },
    });
    expect(config.auth.users.carol?.scram_sha_256).toBe(s256);
  });

  it("names the key path and the problem of a malformed credential", () => {
    const [salt, , stored, server] = s256.split(":");
    const issues = issuesOf(() =>
      loadConfig({
        configFile: toml(`
[auth.users.alice]
password_hash = "${HASH}"
scram_sha_256 = "${salt}:100:${stored}:${server}"
scram_sha_512 = "${s256}"
[auth.users.bob]
password_hash = "${HASH}"
scram_sha_256 = 42
`),
        env: {},
      }),
    ).join("\n");
    expect(issues).toContain("auth.users.alice.scram_sha_256: 100 iterations is outside 4096..");
    expect(issues).toContain("auth.users.alice.scram_sha_512: the StoredKey is not 64 bytes of base64");
    expect(issues).toContain("make one with `eddy passwd --user NAME`");
    expect(issues).toContain(
      "auth.users.bob.scram_sha_256: expected the SCRAM-SHA-256 credential as a string",
    );
  });

  it("still needs a password or a password hash beside the SCRAM credentials", () => {
    const issues = issuesOf(() =>
      loadConfig({ configFile: toml(`[auth.users.alice]\nscram_sha_256 = "${s256}"\n`), env: {} }),
    ).join("\n");
    expect(issues).toContain("auth.users.alice: give exactly one of password_hash");
    expect(issues).toContain("scram_sha_256 and scram_sha_512 go alongside it");
  });

  it("refuses a stored credential that does not match the user's plain password", () => {
    const issues = issuesOf(() =>
      loadConfig({
        configFile: toml(`[auth.users.alice]\npassword = "other"\nscram_sha_256 = "${s256}"\n`),
        env: {},
      }),
    ).join("\n");
    expect(issues).toContain("auth.users.alice.scram_sha_256: does not match this user's password");
    const { config } = loadConfig({
      configFile: toml(`[auth.users.alice]\npassword = "pw"\nscram_sha_256 = "${s256}"\n`),
      env: {},
    });
    expect(config.auth.users.alice?.scram_sha_256).toBe(s256);
  });

  it("refuses unknown keys in a user table (a misspelt scram key is not silently ignored)", () => {
    const issues = issuesOf(() =>
      loadConfig({
        configFile: toml(`[auth.users.alice]\npassword_hash = "${HASH}"\nscram_sha256 = "${s256}"\n`),
        env: {},
      }),
    ).join("\n");
    expect(issues).toContain("auth.users.alice");
    expect(issues).toContain("scram_sha256");
  });
});
