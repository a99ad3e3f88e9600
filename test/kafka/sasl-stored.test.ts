/**
 * Kafka SASL/SCRAM with stored credentials only: [auth.users] entries with a
 * password_hash and scram_sha_256 / scram_sha_512 (as `eddy passwd` prints
 * them), no plain-text password anywhere. The SASL settings are built as
 * main.ts builds them (CredentialStore for PLAIN, ScramUsers for SCRAM).
 * kcat (librdkafka) and a raw-frame client drive the exchange; a user with
 * only a password hash fails, and the log tells the operator what to add.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { SaslSettings } from "../../src/kafka/handlers/context.ts";
import { Metadata, SaslAuthenticate, SaslHandshake } from "../../src/kafka/generated/index.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { ScramClient, type ScramMechanism, ScramUsers } from "../../src/util/scram.ts";
import { storedScramConfig } from "../helpers/stored-scram.ts";
import { createKafkaHarness, type KafkaHarness } from "./server-harness.ts";
import { metadataBody } from "./server-requests.ts";

let h: KafkaHarness;
const logLines: string[] = [];

beforeAll(async () => {
  const { config, credentials } = await storedScramConfig("wonder land", { iterations: 8192 });
  const sasl: SaslSettings = {
    mechanisms: config.kafka.sasl.mechanisms,
    users: new Map([...credentials.plaintextPasswords(), ...Object.entries(config.kafka.sasl.users)]),
    verifyPlain: (u, p) => credentials.verifyPassword(u, p),
    scram: new ScramUsers(config.auth.users),
  };
  expect(sasl.users.size).toBe(0); // no plain-text password anywhere
  h = await createKafkaHarness({
    sasl,
    logger: createLogger({ level: "warn", write: (line) => logLines.push(line) }),
  });
});

afterAll(async () => {
  await h.close();
});

async function kcat(
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(
    ["kcat", "-b", `127.0.0.1:${h.listener.port}`, "-X", "socket.timeout.ms=5000", ...args],
    {
      stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

const sasl = (mechanism: string, user: string, password: string) => [
  "-X",
  "security.protocol=SASL_PLAINTEXT",
  "-X",
  `sasl.mechanisms=${mechanism}`,
  "-X",
  `sasl.username=${user}`,
  "-X",
  `sasl.password=${password}`,
];

describe("kcat with stored SCRAM credentials", () => {
  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    it(`${mechanism}: authenticates, produces and consumes`, async () => {
      const topic = `stored-${mechanism.toLowerCase()}`;
      const p = await kcat([...sasl(mechanism, "alice", "wonder land"), "-P", "-t", topic], "secret\n");
      expect(p.stderr).toBe("");
      expect(p.code).toBe(0);
      const c = await kcat([
        ...sasl(mechanism, "alice", "wonder land"),
        ...["-C", "-t", topic, "-o", "beginning", "-e", "-q"],
      ]);
      expect(c.code).toBe(0);
      expect(c.stdout).toBe("secret\n");
    }, 20_000);
  }

  it("refuses a wrong password", async () => {
    const r = await kcat([...sasl("SCRAM-SHA-256", "alice", "nope"), "-m", "1", "-L"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.toLowerCase()).toContain("authentication failed");
  }, 20_000);

  it("PLAIN still checks the password hash of the same user", async () => {
    const r = await kcat([...sasl("PLAIN", "alice", "wonder land"), "-L", "-J"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).brokers).toHaveLength(1);
  }, 20_000);
});

const enc = (s: string) => new Uint8Array(Buffer.from(s));
const dec = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** A raw SCRAM exchange; the error code of the last SaslAuthenticate and whether the server proved itself. */
async function rawScram(mechanism: ScramMechanism, user: string, password: string) {
  const c = await h.connect();
  expect((await c.request(SaslHandshake, 1, { mechanism })).errorCode).toBe(0);
  const scram = new ScramClient(mechanism, user, password);
  const first = await c.request(SaslAuthenticate, 2, { authBytes: enc(scram.first()) });
  expect(first.errorCode).toBe(0); // every user gets a server-first: no user enumeration
  const final = await c.request(SaslAuthenticate, 2, { authBytes: enc(scram.final(dec(first.authBytes))) });
  return { c, errorCode: final.errorCode, verified: scram.verify(dec(final.authBytes)) };
}

describe("raw SCRAM exchange with stored credentials", () => {
  it("signs alice in with the stored iterations, and the server signature checks out", async () => {
    const { c, errorCode, verified } = await rawScram("SCRAM-SHA-512", "alice", "wonder land");
    expect(errorCode).toBe(0);
    expect(verified).toBe(true);
    expect((await c.request(Metadata, 12, metadataBody(null))).brokers).toHaveLength(1);
    const c2 = await h.connect();
    await c2.request(SaslHandshake, 1, { mechanism: "SCRAM-SHA-256" });
    const first = await c2.request(SaslAuthenticate, 2, { authBytes: enc("n,,n=alice,r=abc") });
    expect(dec(first.authBytes)).toEndWith(",i=8192");
  });

  it("a user with only a password hash fails, and the log says to add scram_sha_256 with eddy passwd", async () => {
    logLines.length = 0;
    const { errorCode } = await rawScram("SCRAM-SHA-256", "carol", "wonder land");
    expect(errorCode).toBe(58); // SASL_AUTHENTICATION_FAILED
    const hint = logLines
      .map((l) => JSON.parse(l) as { msg: string; user?: string })
      .find((l) => l.user === "carol" && l.msg.includes("scram_sha_256"));
    expect(hint?.msg).toContain(
      'user "carol" has no scram_sha_256, and a password_hash cannot answer SCRAM-SHA-256',
    );
    expect(hint?.msg).toContain("add auth.users.carol.scram_sha_256");
    expect(hint?.msg).toContain("eddy passwd");
    // An unknown user fails the same way for the client, without a hint in the log.
    logLines.length = 0;
    expect((await rawScram("SCRAM-SHA-256", "mallory", "wonder land")).errorCode).toBe(58);
    expect(logLines.join("\n")).not.toContain("scram_sha_256");
  });
});
