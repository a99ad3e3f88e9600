import { describe, expect, it } from "bun:test";
import { formatBanner } from "../../src/config/banner.ts";
import { listenerHasAuth, loadConfig } from "../../src/config/load.ts";
import {
  CredentialStore,
  generateToken,
  hashPassword,
  hashToken,
  isPasswordHash,
  isTokenHash,
} from "../../src/util/credentials.ts";
import { issuesOf, useTomlFiles } from "./helpers.ts";

const toml = useTomlFiles();

const CHEAP = { memoryCost: 1024, timeCost: 1 };

describe("[auth] users and tokens", () => {
  it("reads users with hashes or passwords and hashed tokens from eddy.toml", async () => {
    const hash = await hashPassword("s3cret", CHEAP);
    const token = generateToken();
    const file = toml(`
[listeners]
http = "0.0.0.0:0"
kafka = "0.0.0.0:0"
[auth.users.alice]
password_hash = "${hash}"
[auth.users.bob]
password = "plain"
[auth.tokens]
ci = "${hashToken(token)}"
`);
    const { config, warnings } = loadConfig({ configFile: file, env: {} });
    expect(config.auth.users).toEqual({ alice: { password_hash: hash }, bob: { password: "plain" } });
    expect(config.auth.tokens.ci).toBe(hashToken(token));
    expect(config.auth.allow_anonymous).toBe(false);
    expect(listenerHasAuth(config, "http")).toBe(true);
    expect(listenerHasAuth(config, "kafka")).toBe(true);
    // Reachable, credentials, no TLS: a loud warning for each listener.
    expect(warnings.join("\n")).toContain(
      "listeners.http: 0.0.0.0:0 is reachable from the network and takes credentials, but without TLS",
    );
    expect(warnings.join("\n")).toContain("set http.tls_cert_file and http.tls_key_file");
    expect(warnings.join("\n")).toContain("listeners.kafka: 0.0.0.0:0");

    const store = new CredentialStore(config.auth);
    expect(await store.verifyPassword("alice", "s3cret")).toBe(true);
    expect(await store.verifyPassword("alice", "s3cret")).toBe(true); // cached
    expect(await store.verifyPassword("alice", "S3cret")).toBe(false);
    expect(await store.verifyPassword("bob", "plain")).toBe(true);
    expect(await store.verifyPassword("bob", "plain2")).toBe(false);
    expect(await store.verifyPassword("mallory", "s3cret")).toBe(false);
    expect(store.verifyToken(token)).toBe("ci");
    expect(store.verifyToken(`${token}x`)).toBeNull();
    expect(store.plaintextPasswords()).toEqual(new Map([["bob", "plain"]]));
  });

  it("tokens alone open the HTTP listener but not Kafka", () => {
    const token = hashToken("t");
    const { config } = loadConfig({
      env: { EDDY_LISTENERS_HTTP: "0.0.0.0:0", EDDY_AUTH_TOKENS: JSON.stringify({ ci: token }) },
    });
    expect(config.auth.tokens).toEqual({ ci: token });
    const issues = issuesOf(() =>
      loadConfig({
        env: { EDDY_LISTENERS_KAFKA: "0.0.0.0:0", EDDY_AUTH_TOKENS: JSON.stringify({ ci: token }) },
      }),
    );
    expect(issues[0]).toContain(
      "listeners.kafka: 0.0.0.0:0 is reachable from the network but no authentication",
    );
  });

  it("takes users as JSON from the environment", async () => {
    const hash = await hashPassword("pw", CHEAP);
    const { config } = loadConfig({
      env: {
        EDDY_AUTH_USERS: JSON.stringify({ alice: { password_hash: hash } }),
        EDDY_LISTENERS_HTTP: "0.0.0.0:0",
      },
    });
    expect(config.auth.users.alice?.password_hash).toBe(hash);
  });

  it("still refuses a non-loopback HTTP listener with no users, tokens or allow_anonymous", () => {
    const issues = issuesOf(() => loadConfig({ env: { EDDY_LISTENERS_HTTP: "0.0.0.0:0" } }));
    expect(issues[0]).toContain(
      "listeners.http: 0.0.0.0:0 is reachable from the network but no authentication",
    );
    // kafka.sasl.users protects only Kafka.
    const kafkaOnly = issuesOf(() =>
      loadConfig({ env: { EDDY_LISTENERS_HTTP: "0.0.0.0:0", EDDY_KAFKA_SASL_USERS: "a:b" } }),
    );
    expect(kafkaOnly[0]).toContain("listeners.http");
  });

  it("names the bad key and says how to make a good value", () => {
    const issues = issuesOf(() =>
      loadConfig({
        configFile: toml(`
[auth.users.alice]
password_hash = "not-a-hash"
[auth.users.bob]
password = "x"
password_hash = "$argon2id$v=19$m=1024,t=1,p=1$abc$def"
[auth.users.carol]
[auth.tokens]
ci = "plaintext-token"
`),
        env: {},
      }),
    );
    const text = issues.join("\n");
    expect(text).toContain("auth.users.alice.password_hash: expected an argon2 or bcrypt hash");
    expect(text).toContain("eddy passwd");
    expect(text).toContain("auth.users.bob: give exactly one of password_hash");
    expect(text).toContain("auth.users.carol: give exactly one of password_hash");
    expect(text).toContain('auth.tokens.ci: expected "sha256:<64 hex digits>"');
    expect(text).toContain("eddy passwd --token");
  });

  it("rejects a user name with ':' and unknown user keys", () => {
    const issues = issuesOf(() =>
      loadConfig({
        env: { EDDY_AUTH_USERS: JSON.stringify({ "a:b": { password: "x" }, c: { pass: "y" } }) },
      }),
    );
    const text = issues.join("\n");
    expect(text).toContain("auth.users.a:b: a user name cannot be empty or contain ':'");
    expect(text).toContain("auth.users.c");
  });

  it("needs both TLS files or neither", () => {
    const issues = issuesOf(() => loadConfig({ env: { EDDY_HTTP_TLS_CERT_FILE: "/x/cert.pem" } }));
    expect(issues.join("\n")).toContain("http.tls_cert_file and http.tls_key_file: set both");
  });

  it("no TLS warning on loopback or with TLS configured", () => {
    const { warnings } = loadConfig({
      env: {
        EDDY_LISTENERS_HTTP: "0.0.0.0:0",
        EDDY_AUTH_USERS: JSON.stringify({ a: { password: "b" } }),
        EDDY_HTTP_TLS_CERT_FILE: "/x/cert.pem",
        EDDY_HTTP_TLS_KEY_FILE: "/x/key.pem",
        EDDY_TOKEN: "ignored by the server",
      },
    });
    expect(warnings).toEqual([]);
  });

  it("the hash helpers recognise their formats", async () => {
    expect(isPasswordHash(await hashPassword("x", CHEAP))).toBe(true);
    expect(isPasswordHash(await hashPassword("x", { algorithm: "bcrypt" }))).toBe(true);
    expect(isPasswordHash("x")).toBe(false);
    expect(isTokenHash(hashToken("x"))).toBe(true);
    expect(isTokenHash("sha256:abc")).toBe(false);
    expect(generateToken()).not.toBe(generateToken());
  });
});

describe("banner", () => {
  const base = { version: "1", dataDir: "/d", configFile: null, nodeId: 1, startupMs: 1 };
  it("marks authenticated and TLS listeners and warns loudly about clear-text credentials", () => {
    const text = formatBanner({
      ...base,
      listeners: { http: "0.0.0.0:8443", kafka: "0.0.0.0:9092" },
      authenticated: ["http", "kafka"],
      tls: ["http"],
    });
    expect(text).toContain("https://0.0.0.0:8443  (credentials required, TLS)");
    expect(text).toContain("WARNING: kafka takes credentials over the network WITHOUT TLS");
    expect(text).not.toContain("without authentication");
  });
  it("still warns about listeners open without authentication", () => {
    const text = formatBanner({ ...base, listeners: { http: "0.0.0.0:8080" } });
    expect(text).toContain("Warning: http is open to the network without authentication");
  });
});
