/**
 * Credentials: users (name + password or password hash) and named API tokens,
 * checked in constant time. Shared by the HTTP API, the Kafka listener's SASL
 * PLAIN and anything else main.ts hands a `CredentialStore` to.
 *
 * Formats:
 * - password hashes are PHC strings made by Bun.password (`eddy passwd`):
 *   argon2id (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`, the default),
 *   argon2i/argon2d, or bcrypt (`$2b$...`). The salt is inside the string.
 * - tokens are random strings (`eddy passwd --token` makes one); only their
 *   SHA-256 is stored, as `sha256:<64 hex digits>`. A token has 256 bits of
 *   entropy, so a fast hash is enough and a request costs one SHA-256.
 *
 * Verifying an argon2 hash takes ~100 ms by design; the console and the CLI
 * send Basic credentials on every request, so a successful check is
 * remembered (by SHA-256 of user and password, in a small LRU) and later
 * requests cost one hash. Failures are never cached.
 */
import crypto from "node:crypto";

export interface UserCredential {
  /** Plain-text password (fine for tests and loopback set-ups; prefer password_hash). */
  password?: string | undefined;
  /** A Bun.password PHC hash (argon2id, argon2i, argon2d, bcrypt). */
  password_hash?: string | undefined;
}

export interface CredentialSpec {
  users: Readonly<Record<string, UserCredential>>;
  /** Token name -> "sha256:<hex>". */
  tokens: Readonly<Record<string, string>>;
}

export const TOKEN_HASH_PREFIX = "sha256:";
const TOKEN_HASH_RE = /^sha256:[0-9a-f]{64}$/;
const PASSWORD_HASH_RE = /^\$(argon2id|argon2i|argon2d|2a|2b|2y)\$/;

export function isPasswordHash(text: string): boolean {
  return PASSWORD_HASH_RE.test(text);
}

export function isTokenHash(text: string): boolean {
  return TOKEN_HASH_RE.test(text);
}

export interface HashPasswordOptions {
  algorithm?: "argon2id" | "bcrypt";
  /** argon2 memory in KiB (default 65536) — lower only for tests. */
  memoryCost?: number;
  /** argon2 iterations (default 2). */
  timeCost?: number;
}

/** A PHC hash of `password` for `auth.users.<name>.password_hash`. */
export async function hashPassword(password: string, opts: HashPasswordOptions = {}): Promise<string> {
  if (opts.algorithm === "bcrypt") return Bun.password.hash(password, { algorithm: "bcrypt", cost: 10 });
  return Bun.password.hash(password, {
    algorithm: "argon2id",
    memoryCost: opts.memoryCost ?? 65536,
    timeCost: opts.timeCost ?? 2,
  });
}

/** `sha256:<hex>` of a token, for `auth.tokens.<name>`. */
export function hashToken(token: string): string {
  return TOKEN_HASH_PREFIX + crypto.createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new random API token (256 bits, base64url, prefixed so it is recognisable in a leak scan). */
export function generateToken(): string {
  return `eddy_${crypto.randomBytes(32).toString("base64url")}`;
}

/** Constant-time string equality (compares SHA-256 digests, so lengths do not leak either). */
export function safeEqual(a: string, b: string): boolean {
  const da = crypto.createHash("sha256").update(a, "utf8").digest();
  const db = crypto.createHash("sha256").update(b, "utf8").digest();
  return crypto.timingSafeEqual(da, db);
}

const CACHE_LIMIT = 256;

export class CredentialStore {
  private readonly users: ReadonlyMap<string, UserCredential>;
  /** Token hash digests (32 bytes) with their names. */
  private readonly tokens: ReadonlyArray<{ name: string; digest: Buffer }>;
  /** SHA-256(user \0 password) hex of verified hashed-password logins, oldest first. */
  private readonly verified = new Map<string, string>();
  private dummyHash: Promise<string> | undefined;

  constructor(spec: CredentialSpec) {
    this.users = new Map(Object.entries(spec.users));
    this.tokens = Object.entries(spec.tokens).map(([name, hash]) => {
      if (!isTokenHash(hash)) {
        throw new Error(
          `auth.tokens.${name}: expected "sha256:<64 hex digits>" (make one with eddy passwd --token)`,
        );
      }
      return { name, digest: Buffer.from(hash.slice(TOKEN_HASH_PREFIX.length), "hex") };
    });
  }

  /** True when any user or token is configured: then callers must authenticate. */
  get enabled(): boolean {
    return this.users.size > 0 || this.tokens.length > 0;
  }

  get userCount(): number {
    return this.users.size;
  }

  get tokenCount(): number {
    return this.tokens.length;
  }

  /** Users whose plain-text password is configured (SCRAM needs the password itself). */
  plaintextPasswords(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, c] of this.users) if (c.password !== undefined) out.set(name, c.password);
    return out;
  }

  /** Check a user name and password; unknown users cost about as much as wrong passwords. */
  async verifyPassword(user: string, password: string): Promise<boolean> {
    const cred = this.users.get(user);
    if (cred?.password !== undefined) return safeEqual(cred.password, password);
    const key = crypto.createHash("sha256").update(`${user}\0${password}`, "utf8").digest("hex");
    const hash = cred?.password_hash;
    if (hash !== undefined && this.verified.get(key) === hash) {
      this.verified.delete(key);
      this.verified.set(key, hash);
      return true;
    }
    if (hash === undefined) {
      // Spend the time a real check would take, so timing does not tell which users exist.
      this.dummyHash ??= hashPassword(crypto.randomBytes(16).toString("hex"), {
        memoryCost: 4096,
        timeCost: 1,
      });
      await Bun.password.verify(password, await this.dummyHash).catch(() => false);
      return false;
    }
    let ok = false;
    try {
      ok = await Bun.password.verify(password, hash);
    } catch {
      ok = false;
    }
    if (ok) {
      this.verified.set(key, hash);
      if (this.verified.size > CACHE_LIMIT) this.verified.delete(this.verified.keys().next().value!);
    }
    return ok;
  }

  /** The name of the token, or null when it matches none. Every configured token is compared. */
  verifyToken(token: string): string | null {
    const digest = crypto.createHash("sha256").update(token, "utf8").digest();
    let match: string | null = null;
    for (const t of this.tokens) {
      if (crypto.timingSafeEqual(t.digest, digest) && match === null) match = t.name;
    }
    return match;
  }
}
