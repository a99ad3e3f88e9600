import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { CredentialStore, hashToken } from "../../src/util/credentials.ts";
import { run } from "./run-cli.ts";
import { startServer, type TestServer, testCredentials } from "./server.ts";

const TOKEN = "eddy_cli-test-token";
let server: TestServer;
let url: string;

beforeAll(async () => {
  server = await startServer({ credentials: await testCredentials(TOKEN) });
  await server.broker.createTopic({ name: "guarded", partitions: 1 });
  url = server.url;
});
afterAll(async () => {
  await server.close();
});

describe("CLI against a broker with [auth]", () => {
  it("says what to pass when credentials are missing", async () => {
    const r = await run(["topics", "--list", "--url", url], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error UNAUTHORIZED: the broker requires credentials:");
    expect(r.stderr).toContain("--token TOKEN (or set EDDY_TOKEN)");
    expect(r.stderr).toContain("--user NAME --password PASSWORD (or EDDY_USER and EDDY_PASSWORD)");
    expect(r.stdout).not.toContain("guarded");
  });

  it("says the credentials were refused when they are wrong", async () => {
    const r = await run(["topics", "--list", "--url", url, "--user", "ops", "--password", "nope"], {
      env: {},
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the broker refused the credentials given");
  });

  it("works with --token, --user/--password and the environment", async () => {
    const ways: Array<{ argv: string[]; env: Record<string, string> }> = [
      { argv: ["--token", TOKEN], env: {} },
      { argv: ["--user", "ops", "--password", "hunter2"], env: {} },
      { argv: ["--user", "ops"], env: { EDDY_PASSWORD: "hunter2" } },
      { argv: [], env: { EDDY_TOKEN: TOKEN } },
      { argv: [], env: { EDDY_USER: "ops", EDDY_PASSWORD: "hunter2" } },
      // Flags win over the environment.
      { argv: ["--token", TOKEN], env: { EDDY_USER: "ops", EDDY_PASSWORD: "wrong" } },
    ];
    for (const way of ways) {
      const r = await run(["topics", "--list", "--url", url, ...way.argv], { env: way.env });
      expect({ way, code: r.code, stderr: r.stderr }).toEqual({ way, code: 0, stderr: "" });
      expect(r.stdout).toContain("guarded");
    }
    const produced = await run(["produce", "--topic", "guarded", "--url", url, "--token", TOKEN], {
      stdin: "hello\n",
      env: {},
    });
    expect(produced.code).toBe(0);
    const consumed = await run(
      ["consume", "--topic", "guarded", "--from-beginning", "--max-messages", "1", "--url", url],
      { env: { EDDY_TOKEN: TOKEN } },
    );
    expect(consumed.code).toBe(0);
    expect(consumed.stdout).toBe("hello\n");
  });

  it("refuses ambiguous credential flags", async () => {
    const both = await run(["topics", "--list", "--url", url, "--token", "x", "--user", "y"], { env: {} });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("give either --token or --user, not both");
    const lone = await run(["topics", "--list", "--url", url, "--password", "x"], { env: {} });
    expect(lone.code).toBe(2);
    expect(lone.stderr).toContain("--password needs --user");
  });
});

describe("eddy passwd", () => {
  it("hashes a password from stdin into a TOML snippet", async () => {
    const r = await run(["passwd", "--user", "alice"], { stdin: "s3cret pass\n", env: {} });
    expect(r.code).toBe(0);
    const m = /^\[auth\.users\.alice\]\npassword_hash = "(\$argon2id\$[^"]+)"\n(scram_sha_|#)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(await Bun.password.verify("s3cret pass", m![1]!)).toBe(true);
    expect(await Bun.password.verify("s3cret", m![1]!)).toBe(false);
    // The snippet loads as config and signs in.
    const store = new CredentialStore({ users: { alice: { password_hash: m![1]! } }, tokens: {} });
    expect(await store.verifyPassword("alice", "s3cret pass")).toBe(true);
  });

  it("makes bcrypt hashes on request", async () => {
    const r = await run(["passwd", "--user", "bob", "--bcrypt"], { stdin: "pw", env: {} });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('password_hash = "$2b$');
  });

  it("makes a token and the hash to store", async () => {
    const r = await run(["passwd", "--token", "--name", "ci"], { env: {} });
    expect(r.code).toBe(0);
    const token = /^# (eddy_\S+)$/m.exec(r.stdout)?.[1];
    const hash = /^ci = "(sha256:[0-9a-f]{64})"$/m.exec(r.stdout)?.[1];
    expect(token).toBeDefined();
    expect(hash).toBe(hashToken(token!));
  });

  it("needs --user or --token and a password", async () => {
    expect((await run(["passwd"], { env: {} })).code).toBe(2);
    const empty = await run(["passwd", "--user", "x"], { stdin: "\n", env: {} });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("the password is empty");
  });
});
