/**
 * SASL on the Kafka listener: PLAIN and SCRAM-SHA-256/512 (a client-side
 * SCRAM implementation from RFC 5802 drives the exchange), wrong passwords,
 * and refusal of other requests before authentication.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import crypto from "node:crypto";
import {
  ApiVersions,
  Metadata,
  Produce,
  SaslAuthenticate,
  SaslHandshake,
} from "../../src/kafka/generated/index.ts";
import { createKafkaHarness, type KafkaHarness, type RawClient } from "./server-harness.ts";
import { batchOf, metadataBody, produceBody } from "./server-requests.ts";

let h: KafkaHarness;
beforeAll(async () => {
  h = await createKafkaHarness({
    sasl: {
      mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
      users: new Map([
        ["alice", "wonder land"],
        ["bob", "b=o,b"],
      ]),
    },
  });
});
afterAll(async () => {
  await h.close();
});

const enc = (s: string) => new Uint8Array(Buffer.from(s));

async function handshake(c: RawClient, mechanism: string): Promise<number> {
  return (await c.request(SaslHandshake, 1, { mechanism })).errorCode;
}

async function plain(c: RawClient, user: string, password: string) {
  expect(await handshake(c, "PLAIN")).toBe(0);
  return c.request(SaslAuthenticate, 2, { authBytes: enc(`\0${user}\0${password}`) });
}

async function scram(
  c: RawClient,
  mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512",
  user: string,
  password: string,
) {
  const hash = mechanism === "SCRAM-SHA-512" ? "sha512" : "sha256";
  expect(await handshake(c, mechanism)).toBe(0);
  const cnonce = crypto.randomBytes(12).toString("base64");
  const bare = `n=${user.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${cnonce}`;
  const first = await c.request(SaslAuthenticate, 1, { authBytes: enc(`n,,${bare}`) });
  if (first.errorCode !== 0) return { first, final: null };
  const serverFirst = Buffer.from(first.authBytes).toString();
  const attrs = Object.fromEntries(serverFirst.split(",").map((p) => [p[0], p.slice(2)]));
  expect(attrs.r!.startsWith(cnonce)).toBe(true);
  const salted = crypto.pbkdf2Sync(
    password,
    Buffer.from(attrs.s!, "base64"),
    Number(attrs.i),
    hash === "sha512" ? 64 : 32,
    hash,
  );
  const clientKey = crypto.createHmac(hash, salted).update("Client Key").digest();
  const storedKey = crypto.createHash(hash).update(clientKey).digest();
  const withoutProof = `c=${Buffer.from("n,,").toString("base64")},r=${attrs.r}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = crypto.createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  const final = await c.request(SaslAuthenticate, 1, {
    authBytes: enc(`${withoutProof},p=${proof.toString("base64")}`),
  });
  if (final.errorCode === 0) {
    const serverKey = crypto.createHmac(hash, salted).update("Server Key").digest();
    const expected = crypto.createHmac(hash, serverKey).update(authMessage).digest("base64");
    expect(Buffer.from(final.authBytes).toString()).toBe(`v=${expected}`);
  }
  return { first, final };
}

describe("SASL", () => {
  it("refuses requests before authentication, but answers ApiVersions", async () => {
    const c = await h.connect();
    expect(
      (await c.request(ApiVersions, 3, { clientSoftwareName: "t", clientSoftwareVersion: "1" })).errorCode,
    ).toBe(0);
    const produce = await c.request(Produce, 9, produceBody("secret", batchOf(["x"])));
    expect(produce.responses[0]!.partitionResponses[0]!.errorCode).toBe(58);
    // Metadata has no per-item error form: the connection is closed, as Kafka does.
    await c.send(Metadata, 12, metadataBody(null));
    expect(await c.waitClosed()).toBe(true);
  });

  it("PLAIN: right password authenticates, a wrong one fails", async () => {
    const c = await h.connect();
    expect((await plain(c, "alice", "wrong")).errorCode).toBe(58);
    const d = await h.connect();
    const ok = await plain(d, "alice", "wonder land");
    expect(ok.errorCode).toBe(0);
    const meta = await d.request(Metadata, 12, metadataBody(null));
    expect(meta.brokers).toHaveLength(1);
  });

  it("offers the configured mechanisms and refuses others", async () => {
    const c = await h.connect();
    const res = await c.request(SaslHandshake, 1, { mechanism: "GSSAPI" });
    expect(res.errorCode).toBe(33);
    expect(res.mechanisms).toEqual(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    const early = await c.request(SaslAuthenticate, 2, { authBytes: enc("\0alice\0wonder land") });
    expect(early.errorCode).toBe(34);
  });

  it("SaslHandshake v0: bare tokens after the handshake (KIP-43), failure closes", async () => {
    const token = (text: string) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(Buffer.byteLength(text));
      return Buffer.concat([size, Buffer.from(text)]);
    };
    const c = await h.connect();
    expect((await c.request(SaslHandshake, 0, { mechanism: "PLAIN" })).errorCode).toBe(0);
    await c.writeRaw(token("\0alice\0wonder land"));
    expect(await c.nextFrame()).toEqual(new Uint8Array(0));
    expect((await c.request(Metadata, 12, metadataBody(null))).brokers).toHaveLength(1);
    const d = await h.connect();
    expect((await d.request(SaslHandshake, 0, { mechanism: "PLAIN" })).errorCode).toBe(0);
    await d.writeRaw(token("\0alice\0wrong"));
    expect(await d.waitClosed()).toBe(true);
  });

  for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
    it(`${mechanism}: full exchange, names with '=' and ',', wrong password and unknown user fail`, async () => {
      const c = await h.connect();
      const ok = await scram(c, mechanism, "bob", "b=o,b");
      expect(ok.final?.errorCode).toBe(0);
      const produce = await c.request(Produce, 9, produceBody("scram", batchOf(["y"])));
      expect(produce.responses[0]!.partitionResponses[0]!.errorCode).toBe(0);
      const wrong = await scram(await h.connect(), mechanism, "alice", "nope");
      expect(wrong.final?.errorCode).toBe(58);
      const nobody = await scram(await h.connect(), mechanism, "mallory", "x");
      expect(nobody.final?.errorCode).toBe(58);
    });
  }
});
