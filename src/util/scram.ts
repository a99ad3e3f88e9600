/**
 * SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677), sans-IO: the one SCRAM
 * implementation of Eddy, used by the Kafka listener's SASL
 * (src/kafka/handlers/sasl-authenticate.ts) and by MQTT 5 enhanced
 * authentication (bridges/mqtt/enhanced-auth.ts).
 *
 * - Credentials: salt, iterations, StoredKey and ServerKey. A server needs
 *   only these, never the password. They come either stored in eddy.toml
 *   (`scram_sha_256 = "<salt>:<iterations>:<StoredKey>:<ServerKey>"`, base64
 *   parts, made by `eddy passwd`; like Kafka's `kafka-configs --add-config
 *   'SCRAM-SHA-256=[...]'`), or derived from a plain-text `password` once per
 *   process (random salt, SCRAM_ITERATIONS). An argon2/bcrypt password hash
 *   cannot produce them: such a user needs a stored credential.
 * - One server exchange: client-first → server-first → client-final →
 *   server-final. Channel binding is not supported (gs2 "n" or "y"); the
 *   authzid, if any, must be the user. An unknown user gets a server-first
 *   message with a fake salt and fails at the proof, so the exchange does
 *   not tell which users exist.
 */
import crypto from "node:crypto";
import { EddyError, ErrorCode } from "../errors.ts";

export const SCRAM_MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512"] as const;
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

/** Iterations of derived credentials and of `eddy passwd`'s default: RFC 7677's minimum (Kafka's default too). */
export const SCRAM_ITERATIONS = 4096;
/** Fewer iterations than this are refused in stored credentials (RFC 7677 section 4). */
export const SCRAM_MIN_ITERATIONS = 4096;
export const SCRAM_MAX_ITERATIONS = 10_000_000;

/** The [auth.users.NAME] key that stores a mechanism's credential. */
export const SCRAM_CONFIG_KEYS = {
  "SCRAM-SHA-256": "scram_sha_256",
  "SCRAM-SHA-512": "scram_sha_512",
} as const satisfies Record<ScramMechanism, string>;

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
const keyLength = (m: ScramMechanism): number => (m === "SCRAM-SHA-512" ? 64 : 32);

const hmac = (hash: string, key: Uint8Array, data: string | Uint8Array): Buffer =>
  crypto.createHmac(hash, key).update(data).digest();

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k]! ^ b[k]!;
  return out;
}

/** SaltedPassword := Hi(Normalize(password), salt, i), RFC 5802 section 3 (NFKC stands in for SASLprep). */
function saltedPassword(m: ScramMechanism, password: string, salt: Uint8Array, iterations: number): Buffer {
  return crypto.pbkdf2Sync(password.normalize("NFKC"), salt, iterations, keyLength(m), hashOf(m));
}

/** Salted credentials for `password` (PBKDF2, SaltedPassword → StoredKey, ServerKey). */
export function deriveScramCredential(
  mechanism: ScramMechanism,
  password: string,
  opts: { salt?: Uint8Array; iterations?: number } = {},
): ScramCredential {
  const hash = hashOf(mechanism);
  const salt = opts.salt ?? crypto.randomBytes(16);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const salted = saltedPassword(mechanism, password, salt, iterations);
  const clientKey = hmac(hash, salted, "Client Key");
  return {
    salt,
    iterations,
    storedKey: crypto.createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, salted, "Server Key"),
  };
}

/** Does `password` produce this credential? (One PBKDF2 run.) */
export function scramCredentialMatches(
  mechanism: ScramMechanism,
  credential: ScramCredential,
  password: string,
): boolean {
  const derived = deriveScramCredential(mechanism, password, credential);
  return crypto.timingSafeEqual(derived.storedKey, credential.storedKey);
}

/** The stored form, `<salt>:<iterations>:<StoredKey>:<ServerKey>` (base64 parts). */
export function formatScramCredential(c: ScramCredential): string {
  return `${b64(c.salt)}:${c.iterations}:${b64(c.storedKey)}:${b64(c.serverKey)}`;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export type ParsedScramCredential = { ok: true; credential: ScramCredential } | { ok: false; error: string };

/** Parse the stored form; `error` says which part is wrong and what to do. */
export function parseScramCredential(mechanism: ScramMechanism, text: string): ParsedScramCredential {
  const fail = (what: string): ParsedScramCredential => ({
    ok: false,
    error: `${what}; expected "<salt>:<iterations>:<StoredKey>:<ServerKey>" (base64 parts) for ${mechanism}: make one with \`eddy passwd --user NAME\``,
  });
  const parts = text.trim().split(":");
  if (parts.length !== 4) return fail(`${parts.length} ':'-separated parts instead of 4`);
  const [salt, iter, stored, server] = parts as [string, string, string, string];
  const size = keyLength(mechanism);
  if (salt === "" || !BASE64_RE.test(salt)) return fail("the salt is not base64");
  if (!/^[0-9]+$/.test(iter)) return fail(`the iteration count "${iter}" is not a whole number`);
  const iterations = Number(iter);
  if (iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
    return fail(`${iterations} iterations is outside ${SCRAM_MIN_ITERATIONS}..${SCRAM_MAX_ITERATIONS}`);
  }
  for (const [name, value] of [
    ["StoredKey", stored],
    ["ServerKey", server],
  ] as const) {
    if (!BASE64_RE.test(value) || Buffer.from(value, "base64").length !== size) {
      return fail(`the ${name} is not ${size} bytes of base64 (is this a credential of another mechanism?)`);
    }
  }
  return {
    ok: true,
    credential: {
      salt: Buffer.from(salt, "base64"),
      iterations,
      storedKey: Buffer.from(stored, "base64"),
      serverKey: Buffer.from(server, "base64"),
    },
  };
}

/** Where SCRAM servers get credentials (see ScramUsers). */
export interface ScramCredentialSource {
  /** The credential, or null: unknown user, or a user who cannot use this mechanism. */
  lookup(mechanism: ScramMechanism, user: string): ScramCredential | null;
  /**
   * For the operator's log: why a known user cannot use `mechanism` and how
   * to fix it; null for unknown users and for users who can.
   */
  hint(mechanism: ScramMechanism, user: string): string | null;
}

/** A user of [auth.users] (or kafka.sasl.users) as far as SCRAM is concerned. */
export interface ScramUserEntry {
  password?: string | undefined;
  password_hash?: string | undefined;
  scram_sha_256?: string | undefined;
  scram_sha_512?: string | undefined;
}

/**
 * Users' SCRAM credentials: the stored one when present, else one derived
 * from the plain-text password (on first use, then kept), else none.
 * Stored credentials are parsed up front (config validation has checked them).
 */
export class ScramUsers implements ScramCredentialSource {
  private readonly users: ReadonlyMap<string, ScramUserEntry>;
  private readonly stored = new Map<string, ScramCredential>();
  private readonly derived = new Map<string, ScramCredential>();

  constructor(users: Readonly<Record<string, ScramUserEntry>> | ReadonlyMap<string, ScramUserEntry>) {
    this.users = users instanceof Map ? users : new Map(Object.entries(users));
    for (const [name, entry] of this.users) {
      for (const mechanism of SCRAM_MECHANISMS) {
        const text = entry[SCRAM_CONFIG_KEYS[mechanism]];
        if (text === undefined) continue;
        const parsed = parseScramCredential(mechanism, text);
        if (!parsed.ok) {
          throw new EddyError(
            ErrorCode.INVALID_CONFIG,
            `auth.users.${name}.${SCRAM_CONFIG_KEYS[mechanism]}: ${parsed.error}`,
          );
        }
        this.stored.set(`${mechanism}\u0000${name}`, parsed.credential);
      }
    }
  }

  /** Users who can use at least one SCRAM mechanism. */
  get size(): number {
    let n = 0;
    for (const [name, entry] of this.users) {
      if (entry.password !== undefined || SCRAM_MECHANISMS.some((m) => this.stored.has(`${m}\u0000${name}`)))
        n++;
    }
    return n;
  }

  lookup(mechanism: ScramMechanism, user: string): ScramCredential | null {
    const key = `${mechanism}\u0000${user}`;
    const stored = this.stored.get(key);
    if (stored !== undefined) return stored;
    const password = this.users.get(user)?.password;
    if (password === undefined) return null;
    let c = this.derived.get(key);
    if (c === undefined) {
      c = deriveScramCredential(mechanism, password);
      this.derived.set(key, c);
    }
    return c;
  }

  hint(mechanism: ScramMechanism, user: string): string | null {
    const entry = this.users.get(user);
    if (entry === undefined || this.lookup(mechanism, user) !== null) return null;
    const key = SCRAM_CONFIG_KEYS[mechanism];
    const why = entry.password_hash !== undefined ? `, and a password_hash cannot answer ${mechanism}` : "";
    return (
      `user "${user}" has no ${key}${why}: add auth.users.${user}.${key}` +
      ` to eddy.toml (\`eddy passwd --user ${user}\` prints it next to a new hash; it needs the password)`
    );
  }
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
const escapeSaslName = (name: string): string => name.replace(/=/g, "=3D").replace(/,/g, "=2C");

const FAKE_SALT = crypto.randomBytes(32);

const randomNonce = (): string => crypto.randomBytes(18).toString("base64");

export type ScramStep = { ok: true; message: string } | { ok: false; user: string | null };

interface ServerState {
  user: string;
  gs2Header: string;
  bare: string;
  serverFirst: string;
  serverNonce: string;
  credential: ScramCredential | null;
}

/**
 * One server-side SCRAM exchange. `lookup` (called once, on client-first)
 * returns the user's credential, or null when the user is unknown or has none.
 */
export class ScramServer {
  private state: ServerState | null = null;
  /** The user name, once the client-first message named one. */
  user: string | null = null;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: (user: string) => ScramCredential | null,
    /** The server's nonce part (tests use RFC vectors); random by default. */
    private readonly nonce: () => string = randomNonce,
  ) {}

  /** client-first-message → server-first-message. */
  first(clientFirst: string): ScramStep {
    const m = /^([ny]),(?:a=([^,]*))?,(.*)$/s.exec(clientFirst);
    if (!m) return { ok: false, user: null };
    const bare = m[3]!;
    const attrs = attributes(bare);
    const user = saslName(attrs.get("n") ?? "");
    const clientNonce = attrs.get("r");
    if (user === "" || !clientNonce || attrs.has("m")) return { ok: false, user: user || null };
    if (m[2] !== undefined && m[2] !== "" && saslName(m[2]) !== user) return { ok: false, user };
    this.user = user;
    const credential = this.lookup(user);
    const serverNonce = this.nonce();
    const salt = b64(credential?.salt ?? FAKE_SALT);
    const serverFirst = `r=${clientNonce}${serverNonce},s=${salt},i=${credential?.iterations ?? SCRAM_ITERATIONS}`;
    const gs2Header = clientFirst.slice(0, clientFirst.length - bare.length);
    this.state = { user, gs2Header, bare, serverFirst, serverNonce, credential };
    return { ok: true, message: serverFirst };
  }

  /** client-final-message → server-final-message ("v=<signature>") when the proof is right. */
  final(clientFinal: string): ScramStep {
    const state = this.state;
    this.state = null;
    if (state === null) return { ok: false, user: null };
    const failed = { ok: false, user: state.user } as const;
    const i = clientFinal.lastIndexOf(",p=");
    if (i < 0) return failed;
    const withoutProof = clientFinal.slice(0, i);
    const attrs = attributes(withoutProof);
    if (attrs.get("c") !== Buffer.from(state.gs2Header).toString("base64")) return failed;
    // Kafka's ScramSaslServer only checks that the nonce ends with the server's part:
    // librdkafka 2.0 repeats its client nonce in front of the combined one.
    if (!attrs.get("r")?.endsWith(state.serverNonce)) return failed;
    const cred = state.credential;
    if (cred === null) return failed;
    const hash = hashOf(this.mechanism);
    const authMessage = `${state.bare},${state.serverFirst},${withoutProof}`;
    const proof = Buffer.from(clientFinal.slice(i + 3), "base64");
    const signature = hmac(hash, cred.storedKey, authMessage);
    if (proof.length !== signature.length) return failed;
    const stored = crypto.createHash(hash).update(xor(proof, signature)).digest();
    if (!crypto.timingSafeEqual(stored, cred.storedKey)) return failed;
    return { ok: true, message: `v=${b64(hmac(hash, cred.serverKey, authMessage))}` };
  }
}

/**
 * The client side, for tests and tools: `first()` → client-first, then
 * `final(serverFirst)` → client-final, `verify(serverFinal)`.
 */
export class ScramClient {
  private bare = "";
  private expectedServerSignature = "";

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly user: string,
    private readonly password: string,
    /** The client nonce (tests use RFC vectors); random by default. */
    private readonly nonce: string = randomNonce(),
  ) {}

  first(): string {
    this.bare = `n=${escapeSaslName(this.user)},r=${this.nonce}`;
    return `n,,${this.bare}`;
  }

  final(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get("r") ?? "";
    if (!nonce.startsWith(this.nonce)) throw new Error("SCRAM: server nonce does not extend ours");
    const hash = hashOf(this.mechanism);
    const salted = saltedPassword(
      this.mechanism,
      this.password,
      Buffer.from(attrs.get("s") ?? "", "base64"),
      Number(attrs.get("i")),
    );
    const clientKey = hmac(hash, salted, "Client Key");
    const storedKey = crypto.createHash(hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(hash, storedKey, authMessage));
    this.expectedServerSignature = b64(hmac(hash, hmac(hash, salted, "Server Key"), authMessage));
    return `${withoutProof},p=${b64(proof)}`;
  }

  /** True when the server-final message proves the server knew the credential. */
  verify(serverFinal: string): boolean {
    return serverFinal === `v=${this.expectedServerSignature}`;
  }
}
