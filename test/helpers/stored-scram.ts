/**
 * A config with stored SCRAM credentials only, as `eddy passwd` prints them,
 * loaded from a real eddy.toml (written to a temp dir, removed once read):
 * alice has a password_hash and scram_sha_256 / scram_sha_512; carol only a
 * password_hash (she cannot answer SCRAM). No plain-text password anywhere.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import type { EddyConfig } from "../../src/config/schema.ts";
import { CredentialStore, hashPassword } from "../../src/util/credentials.ts";
import { deriveScramCredential, formatScramCredential, type ScramMechanism } from "../../src/util/scram.ts";

export async function storedScramConfig(
  password: string,
  opts: { iterations?: number } = {},
): Promise<{ config: EddyConfig; credentials: CredentialStore }> {
  const hash = await hashPassword(password, { memoryCost: 1024, timeCost: 1 });
  const stored = (m: ScramMechanism) => formatScramCredential(deriveScramCredential(m, password, opts));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-stored-scram-"));
  try {
    const file = path.join(dir, "eddy.toml");
    fs.writeFileSync(
      file,
      `[auth.users.alice]
password_hash = "${hash}"
scram_sha_256 = "${stored("SCRAM-SHA-256")}"
scram_sha_512 = "${stored("SCRAM-SHA-512")}"
[auth.users.carol]
password_hash = "${hash}"
`,
    );
    const { config } = loadConfig({ configFile: file, env: {} });
    const credentials = new CredentialStore({ users: config.auth.users, tokens: config.auth.tokens });
    return { config, credentials };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
