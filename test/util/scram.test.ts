/**
 * src/util/scram.ts: credential derivation and one exchange against RFC 7677's
 * SCRAM-SHA-256 test vector (section 3), the stored credential form
 * (`eddy passwd`, [auth.users.NAME] scram_sha_256 / scram_sha_512), and the
 * ScramUsers table (stored first, then plain password, else nothing).
 * SCRAM-SHA-1 is not offered, so RFC 5802's SHA-1 vector does not apply.
 */
import { describe, expect, it } from "bun:test";
import { EddyError, ErrorCode } from "../../src/errors.ts";
import {
  deriveScramCredential,
  formatScramCredential,
  parseScramCredential,
  SCRAM_ITERATIONS,
  ScramClient,
  scramCredentialMatches,
  ScramServer,
  ScramUsers,
} from "../../src/util/scram.ts";

// RFC 7677 section 3.
const RFC = {
  user: "user",
  password: "pencil",
  clientNonce: "rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

const rfcCredential = () =>
  deriveScramCredential("SCRAM-SHA-256", RFC.password, {
    salt: Buffer.from(RFC.salt, "base64"),
    iterations: 4096,
  });

describe("RFC 7677 test vector (SCRAM-SHA-256)", () => {
  it("the client produces the RFC's client-first and client-final and accepts its server-final", () => {
    const client = new ScramClient("SCRAM-SHA-256", RFC.user, RFC.password, RFC.clientNonce);
    expect(client.first()).toBe(RFC.clientFirst);
    expect(client.final(RFC.serverFirst)).toBe(RFC.clientFinal);
    expect(client.verify(RFC.serverFinal)).toBe(true);
    expect(client.verify("v=AAAA")).toBe(false);
  });

  it("a server with the derived credential answers the RFC's server-first and server-final", () => {
    const server = new ScramServer(
      "SCRAM-SHA-256",
      () => rfcCredential(),
      () => RFC.serverNonce,
    );
    expect(server.first(RFC.clientFirst)).toEqual({ ok: true, message: RFC.serverFirst });
    expect(server.final(RFC.clientFinal)).toEqual({ ok: true, message: RFC.serverFinal });
    expect(server.user).toBe("user");
  });

  it("a server with only the stored form (no password) answers the same", () => {
    const stored = formatScramCredential(rfcCredential());
    expect(stored.startsWith(`${RFC.salt}:4096:`)).toBe(true);
    const parsed = parseScramCredential("SCRAM-SHA-256", stored);
    if (!parsed.ok) throw new Error(parsed.error);
    const server = new ScramServer(
      "SCRAM-SHA-256",
      () => parsed.credential,
      () => RFC.serverNonce,
    );
    expect(server.first(RFC.clientFirst)).toEqual({ ok: true, message: RFC.serverFirst });
    expect(server.final(RFC.clientFinal)).toEqual({ ok: true, message: RFC.serverFinal });
  });

  it("refuses a wrong proof, a wrong nonce, a wrong channel binding and a replayed final", () => {
    const run = (final: string, first = RFC.clientFirst) => {
      const server = new ScramServer(
        "SCRAM-SHA-256",
        () => rfcCredential(),
        () => RFC.serverNonce,
      );
      expect(server.first(first).ok).toBe(true);
      return server.final(final);
    };
    const badProof = RFC.clientFinal.replace("p=dHzb", "p=dHzc");
    expect(run(badProof)).toEqual({ ok: false, user: "user" });
    expect(run(RFC.clientFinal.replace("hNlF$k0", "hNlF$k1"))).toEqual({ ok: false, user: "user" });
    expect(run(RFC.clientFinal.replace("c=biws", "c=eSws"))).toEqual({ ok: false, user: "user" });
    const server = new ScramServer(
      "SCRAM-SHA-256",
      () => rfcCredential(),
      () => RFC.serverNonce,
    );
    server.first(RFC.clientFirst);
    expect(server.final(RFC.clientFinal).ok).toBe(true);
    expect(server.final(RFC.clientFinal)).toEqual({ ok: false, user: null });
  });

  it("refuses malformed client-first messages, a foreign authzid and mandatory extensions", () => {
    const server = () => new ScramServer("SCRAM-SHA-256", () => rfcCredential());
    expect(server().first("garbage")).toEqual({ ok: false, user: null });
    expect(server().first("p=tls-unique,,n=user,r=x")).toEqual({ ok: false, user: null });
    expect(server().first("n,,n=user")).toEqual({ ok: false, user: "user" });
    expect(server().first("n,a=admin,n=user,r=abc")).toEqual({ ok: false, user: "user" });
    expect(server().first("n,,m=ext,n=user,r=abc")).toEqual({ ok: false, user: "user" });
    expect(server().first("n,a=user,n=user,r=abc").ok).toBe(true);
  });

  it("an unknown user gets a server-first message too, then fails at the proof", () => {
    const server = new ScramServer("SCRAM-SHA-256", () => null);
    const first = server.first("n,,n=nobody,r=abc");
    expect(first.ok).toBe(true);
    expect(first.ok && /^r=abc[^,]+,s=[^,]+,i=4096$/.test(first.message)).toBe(true);
    expect(server.final("c=biws,r=abcxyz,p=AAAA")).toEqual({ ok: false, user: "nobody" });
  });
});

describe("stored credentials", () => {
  it("round-trip through the stored form for both mechanisms and match only their password", () => {
    for (const mechanism of ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
      const c = deriveScramCredential(mechanism, "s3cret", { iterations: 4096 });
      const text = formatScramCredential(c);
      expect(text.split(":")).toHaveLength(4);
      const parsed = parseScramCredential(mechanism, text);
      expect(parsed).toEqual({ ok: true, credential: expect.anything() });
      if (!parsed.ok) return;
      expect(Buffer.from(parsed.credential.storedKey)).toEqual(Buffer.from(c.storedKey));
      expect(parsed.credential.iterations).toBe(4096);
      expect(scramCredentialMatches(mechanism, parsed.credential, "s3cret")).toBe(true);
      expect(scramCredentialMatches(mechanism, parsed.credential, "S3cret")).toBe(false);
    }
  });

  it("explains what is wrong with a bad stored form", () => {
    const good = formatScramCredential(rfcCredential());
    const [salt, , stored, server] = good.split(":") as [string, string, string, string];
    const error = (mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512", text: string) => {
      const r = parseScramCredential(mechanism, text);
      return r.ok ? "ok" : r.error;
    };
    expect(error("SCRAM-SHA-256", good)).toBe("ok");
    expect(error("SCRAM-SHA-256", "abc")).toStartWith("1 ':'-separated parts instead of 4");
    expect(error("SCRAM-SHA-256", `!!:4096:${stored}:${server}`)).toStartWith("the salt is not base64");
    expect(error("SCRAM-SHA-256", `${salt}:many:${stored}:${server}`)).toStartWith(
      'the iteration count "many" is not a whole number',
    );
    expect(error("SCRAM-SHA-256", `${salt}:1000:${stored}:${server}`)).toStartWith(
      "1000 iterations is outside 4096..",
    );
    expect(error("SCRAM-SHA-256", `${salt}:4096:${stored}x:${server}`)).toStartWith(
      "the StoredKey is not 32 bytes of base64",
    );
    // A SHA-256 credential pasted as scram_sha_512.
    expect(error("SCRAM-SHA-512", good)).toStartWith("the StoredKey is not 64 bytes of base64");
    expect(error("SCRAM-SHA-512", good)).toContain("eddy passwd");
  });
});

describe("ScramUsers", () => {
  const stored256 = formatScramCredential(deriveScramCredential("SCRAM-SHA-256", "stored pw"));
  const users = new ScramUsers({
    plain: { password: "plain pw" },
    stored: { password_hash: "$argon2id$v=19$m=1024,t=1,p=1$x$y", scram_sha_256: stored256 },
    hashed: { password_hash: "$argon2id$v=19$m=1024,t=1,p=1$x$y" },
  });

  const login = (mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512", user: string, password: string) => {
    const server = new ScramServer(mechanism, (u) => users.lookup(mechanism, u));
    const client = new ScramClient(mechanism, user, password);
    const first = server.first(client.first());
    if (!first.ok) return false;
    const final = server.final(client.final(first.message));
    return final.ok && client.verify(final.message);
  };

  it("uses the stored credential, else one derived from the plain password (kept), else none", () => {
    expect(login("SCRAM-SHA-256", "stored", "stored pw")).toBe(true);
    expect(login("SCRAM-SHA-256", "stored", "plain pw")).toBe(false);
    expect(login("SCRAM-SHA-256", "plain", "plain pw")).toBe(true);
    expect(login("SCRAM-SHA-512", "plain", "plain pw")).toBe(true);
    expect(users.lookup("SCRAM-SHA-256", "plain")).toBe(users.lookup("SCRAM-SHA-256", "plain"));
    expect(users.lookup("SCRAM-SHA-256", "plain")?.iterations).toBe(SCRAM_ITERATIONS);
    expect(users.lookup("SCRAM-SHA-512", "stored")).toBeNull(); // only scram_sha_256 stored
    expect(users.lookup("SCRAM-SHA-256", "hashed")).toBeNull();
    expect(login("SCRAM-SHA-256", "hashed", "anything")).toBe(false);
    expect(users.size).toBe(2);
  });

  it("hints the operator for known users without a credential, not for unknown users", () => {
    expect(users.hint("SCRAM-SHA-256", "hashed")).toContain(
      'user "hashed" has no scram_sha_256, and a password_hash cannot answer SCRAM-SHA-256: add auth.users.hashed.scram_sha_256',
    );
    expect(users.hint("SCRAM-SHA-256", "hashed")).toContain("eddy passwd");
    expect(users.hint("SCRAM-SHA-512", "stored")).toContain("auth.users.stored.scram_sha_512");
    expect(users.hint("SCRAM-SHA-256", "stored")).toBeNull();
    expect(users.hint("SCRAM-SHA-256", "plain")).toBeNull();
    expect(users.hint("SCRAM-SHA-256", "nobody")).toBeNull();
  });

  it("refuses a malformed stored credential with INVALID_CONFIG naming the key", () => {
    let err: unknown;
    try {
      new ScramUsers({ x: { scram_sha_512: stored256 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EddyError);
    expect((err as EddyError).code).toBe(ErrorCode.INVALID_CONFIG);
    expect((err as EddyError).message).toStartWith(
      "auth.users.x.scram_sha_512: the StoredKey is not 64 bytes",
    );
  });
});
