/**
 * SCRAM-SHA-256 / SCRAM-SHA-512 server side (RFC 5802, RFC 7677), sans-IO:
 * credentials derived from a password, and one exchange
 * client-first → server-first → client-final → server-final. Used by MQTT 5
 * enhanced authentication (bridges/mqtt/enhanced-auth.ts); the same
 * algorithm as the Kafka listener's SASL SCRAM (src/kafka/handlers/sasl-authenticate.ts).
 *
 * Channel binding is not supported (gs2 "n" or "y"). An unknown user gets a
 * server-first message with a fake salt and fails at the proof, so the
 * exchange does not tell which users exist.
 */
import crypto from "node:crypto";

export const SCRAM_MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

export const SCRAM_ITERATIONS = 4096;

export interface ScramCredential {
  salt: Uint8Array;
  iterations: number;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
}

export function isScramMechanism(name: string): name is ScramMechanism {
  return (SCRAM_MECHANISMS as readonly string[]).includes(name);
}

const hashOf = (m: ScramMechanism): "sha256" | "sha512" => (m === "SCRAM-SHA-512" ? "sha512" : "sha256");

const hmac = (hash: string, key: Uint8Array, data: string | Uint8Array): Buffer =>
  crypto.createHmac(hash, key).update(data).digest();

/** Salted credentials for `password` (PBKDF2, SaltedPassword → StoredKey, ServerKey). */
export function deriveScramCredential(
  mechanism: ScramMechanism,
  password: string,
  opts: { salt?: Uint8Array; iterations?: number } = {},
): ScramCredential {
  const hash = hashOf(mechanism);
  const salt = opts.salt ?? crypto.randomBytes(16);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const salted = crypto.pbkdf2Sync(
    password.normalize("NFKC"),
    salt,
    iterations,
    hash === "sha512" ? 64 : 32,
    hash,
  );
  const clientKey = hmac(hash, salted, "Client Key");
  return {
    salt,
    iterations,
    storedKey: crypto.createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, salted, "Server Key"),
  };
}

/** Parse "k=v,k=v" SCRAM attributes (values may contain '='). */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    if (part.length >= 2 && part[1] === "=") out.set(part[0]!, part.slice(2));
  }
  return out;
}

const saslName = (raw: string): string => raw.replace(/=2C/g, ",").replace(/=3D/g, "=");

const FAKE_SALT = crypto.randomBytes(16);

export type ScramStep = { ok: true; message: string } | { ok: false; user: string | null };

/**
 * One server-side SCRAM exchange. `lookup` returns the user's credential, or
 * null when the user is unknown or has none (a password hash cannot make one).
 */
export class ScramServer {
  private state: { user: string; bare: string; serverFirst: string; serverNonce: string } | null = null;
  /** The user name, once the client-first message named one. */
  user: string | null = null;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: (user: string) => ScramCredential | null,
  ) {}

  /** client-first-message → server-first-message. */
  first(clientFirst: string): ScramStep {
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (!m) return { ok: false, user: null };
    const bare = m[3]!;
    const attrs = attributes(bare);
    const user = saslName(attrs.get("n") ?? "");
    const clientNonce = attrs.get("r");
    if (user === "" || !clientNonce) return { ok: false, user: user || null };
    this.user = user;
    const cred = this.lookup(user);
    const serverNonce = crypto.randomBytes(18).toString("base64");
    const salt = Buffer.from(cred?.salt ?? FAKE_SALT).toString("base64");
    const serverFirst = `r=${clientNonce}${serverNonce},s=${salt},i=${cred?.iterations ?? SCRAM_ITERATIONS}`;
    this.state = { user, bare, serverFirst, serverNonce };
    return { ok: true, message: serverFirst };
  }

  /** client-final-message → server-final-message ("v=<signature>") when the proof is right. */
  final(clientFinal: string): ScramStep {
    const state = this.state;
    this.state = null;
    if (state === null) return { ok: false, user: null };
    const i = clientFinal.lastIndexOf(",p=");
    if (i < 0) return { ok: false, user: state.user };
    const withoutProof = clientFinal.slice(0, i);
    const attrs = attributes(withoutProof);
    if (!attrs.get("r")?.endsWith(state.serverNonce)) return { ok: false, user: state.user };
    const cred = this.lookup(state.user);
    if (cred === null) return { ok: false, user: state.user };
    const hash = hashOf(this.mechanism);
    const authMessage = `${state.bare},${state.serverFirst},${withoutProof}`;
    const proof = Buffer.from(clientFinal.slice(i + 3), "base64");
    const signature = hmac(hash, cred.storedKey, authMessage);
    if (proof.length !== signature.length) return { ok: false, user: state.user };
    const clientKey = Buffer.alloc(proof.length);
    for (let k = 0; k < proof.length; k++) clientKey[k] = proof[k]! ^ signature[k]!;
    const stored = crypto.createHash(hash).update(clientKey).digest();
    if (!crypto.timingSafeEqual(stored, cred.storedKey)) return { ok: false, user: state.user };
    return { ok: true, message: `v=${hmac(hash, cred.serverKey, authMessage).toString("base64")}` };
  }
}

/**
 * The client side, for tests and tools: `first()` → client-first, then
 * `final(serverFirst)` → client-final, `verify(serverFinal)`.
 */
export class ScramClient {
  private readonly nonce = crypto.randomBytes(18).toString("base64");
  private bare = "";
  private expectedServerSignature = "";

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly user: string,
    private readonly password: string,
  ) {}

  first(): string {
    this.bare = `n=${this.user.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${this.nonce}`;
    return `n,,${this.bare}`;
  }

  final(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get("r") ?? "";
    if (!nonce.startsWith(this.nonce)) throw new Error("SCRAM: server nonce does not extend ours");
    const hash = hashOf(this.mechanism);
    const cred = deriveScramCredential(this.mechanism, this.password, {
      salt: Buffer.from(attrs.get("s") ?? "", "base64"),
      iterations: Number(attrs.get("i")),
    });
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const salted = crypto.pbkdf2Sync(
      this.password.normalize("NFKC"),
      cred.salt,
      cred.iterations,
      hash === "sha512" ? 64 : 32,
      hash,
    );
    const clientKey = hmac(hash, salted, "Client Key");
    const signature = hmac(hash, cred.storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let k = 0; k < proof.length; k++) proof[k] = clientKey[k]! ^ signature[k]!;
    this.expectedServerSignature = hmac(hash, cred.serverKey, authMessage).toString("base64");
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** True when the server-final message proves the server knew the credential. */
  verify(serverFinal: string): boolean {
    return serverFinal === `v=${this.expectedServerSignature}`;
  }
}
