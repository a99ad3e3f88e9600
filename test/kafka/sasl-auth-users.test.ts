/**
 * [auth.users] on the Kafka listener: main.ts hands the SASL settings the
 * plain-text users and a `verifyPlain` backed by the CredentialStore, so users
 * with a password_hash sign in with SASL/PLAIN (SCRAM needs the password itself).
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import crypto from "node:crypto";
import { Metadata, SaslAuthenticate, SaslHandshake } from "../../src/kafka/generated/index.ts";
import { CredentialStore, hashPassword } from "../../src/util/credentials.ts";
import { createKafkaHarness, type KafkaHarness, type RawClient } from "./server-harness.ts";
import { metadataBody } from "./server-requests.ts";

let h: KafkaHarness;
beforeAll(async () => {
  const store = new CredentialStore({
    users: { carol: { password_hash: await hashPassword("hashed pw", { memoryCost: 1024, timeCost: 1 }) } },
    tokens: {},
  });
  h = await createKafkaHarness({
    sasl: {
      mechanisms: ["PLAIN", "SCRAM-SHA-256"],
      users: new Map([["dave", "plain pw"]]),
      verifyPlain: (u, p) => store.verifyPassword(u, p),
    },
  });
});
afterAll(async () => {
  await h.close();
});

const enc = (s: string) => new Uint8Array(Buffer.from(s));

async function plain(c: RawClient, authBytes: string): Promise<number> {
  expect((await c.request(SaslHandshake, 1, { mechanism: "PLAIN" })).errorCode).toBe(0);
  return (await c.request(SaslAuthenticate, 2, { authBytes: enc(authBytes) })).errorCode;
}

describe("SASL/PLAIN with hashed [auth.users]", () => {
  it("signs in a hashed user and a plain-text user; refuses wrong passwords and foreign authzids", async () => {
    const c = await h.connect();
    expect(await plain(c, "\0carol\0hashed pw")).toBe(0);
    expect((await c.request(Metadata, 12, metadataBody(null))).brokers).toHaveLength(1);
    expect(await plain(await h.connect(), "\0dave\0plain pw")).toBe(0);
    expect(await plain(await h.connect(), "\0carol\0hashed PW")).toBe(58);
    expect(await plain(await h.connect(), "\0nobody\0hashed pw")).toBe(58);
    expect(await plain(await h.connect(), "dave\0carol\0hashed pw")).toBe(58);
  });

  it("SCRAM cannot use a hashed user, even with the right password", async () => {
    const c = await h.connect();
    expect((await c.request(SaslHandshake, 1, { mechanism: "SCRAM-SHA-256" })).errorCode).toBe(0);
    const bare = "n=carol,r=abcdef";
    const first = await c.request(SaslAuthenticate, 1, { authBytes: enc(`n,,${bare}`) });
    expect(first.errorCode).toBe(0); // a server-first for everyone: no user enumeration
    const serverFirst = Buffer.from(first.authBytes).toString();
    const attrs = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
    const salted = crypto.pbkdf2Sync(
      "hashed pw",
      Buffer.from(attrs.s!, "base64"),
      Number(attrs.i),
      32,
      "sha256",
    );
    const clientKey = crypto.createHmac("sha256", salted).update("Client Key").digest();
    const storedKey = crypto.createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=biws,r=${attrs.r}`;
    const signature = crypto
      .createHmac("sha256", storedKey)
      .update(`${bare},${serverFirst},${withoutProof}`)
      .digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString("base64");
    const final = await c.request(SaslAuthenticate, 1, { authBytes: enc(`${withoutProof},p=${proof}`) });
    expect(final.errorCode).toBe(58);
  });
});
