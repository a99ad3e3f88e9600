/**
 * SaslAuthenticate (key 36), versions 0-2 (KIP-152, KIP-368).
 *
 * Runs the mechanism chosen by SaslHandshake against the users of config
 * `kafka.sasl.users`:
 * - PLAIN (RFC 4616): one message "authzid\0user\0password"; the authzid must
 *   be empty or the user.
 * - SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677, KIP-84): client-first
 *   → server-first (nonce, salt, 4096 iterations) → client-final with proof
 *   → server-final with the server signature. Salted passwords are derived
 *   once per listener with a random salt (passwords are kept in the config,
 *   not as SCRAM credentials). Channel binding is not supported ("n" or "y").
 * Success sets the connection's principal, after which other requests are
 * served; failure answers SASL_AUTHENTICATION_FAILED with a message that does
 * not say whether the user exists. No re-authentication: session lifetime 0.
 * Without a preceding SaslHandshake: ILLEGAL_SASL_STATE.
 */
import crypto from "node:crypto";
import { SaslAuthenticate } from "../generated/index.ts";
import type { SaslAuthenticateRequest } from "../generated/sasl-authenticate-request.ts";
import type { SaslAuthenticateResponse } from "../generated/sasl-authenticate-response.ts";
import { EMPTY_BYTES } from "../protocol/values.ts";
import { type Handler, type HandlerContext, KafkaError, type SaslSettings } from "./context.ts";

const ITERATIONS = 4096;
const FAILED = "authentication failed: wrong user name or password, or a mechanism the user cannot use";

interface ScramState {
  stage: "final";
  user: string;
  clientFirstBare: string;
  serverFirst: string;
  /** The server's part of the combined nonce. */
  serverNonce: string;
}

interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const credentialCache = new WeakMap<SaslSettings, Map<string, ScramCredential>>();
const FAKE_SALT = crypto.randomBytes(16);

function hashOf(mechanism: string): "sha256" | "sha512" {
  return mechanism === "SCRAM-SHA-512" ? "sha512" : "sha256";
}

function hmac(hash: string, key: Buffer, data: string | Buffer): Buffer {
  return crypto.createHmac(hash, key).update(data).digest();
}

function credential(sasl: SaslSettings, mechanism: string, user: string): ScramCredential | null {
  const password = sasl.users.get(user);
  if (password === undefined) return null;
  let cache = credentialCache.get(sasl);
  if (cache === undefined) {
    cache = new Map();
    credentialCache.set(sasl, cache);
  }
  const key = `${mechanism}\0${user}`;
  let c = cache.get(key);
  if (c === undefined) {
    const hash = hashOf(mechanism);
    const salt = crypto.randomBytes(16);
    const salted = crypto.pbkdf2Sync(
      password.normalize("NFKC"),
      salt,
      ITERATIONS,
      hash === "sha512" ? 64 : 32,
      hash,
    );
    const clientKey = hmac(hash, salted, "Client Key");
    c = {
      salt,
      storedKey: crypto.createHash(hash).update(clientKey).digest(),
      serverKey: hmac(hash, salted, "Server Key"),
    };
    cache.set(key, c);
  }
  return c;
}

function reply(
  errorCode: number,
  errorMessage: string | null,
  authBytes: Uint8Array = EMPTY_BYTES,
): SaslAuthenticateResponse {
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs: 0 };
}

function fail(ctx: HandlerContext, user: string | null): SaslAuthenticateResponse {
  ctx.connection.saslExchange = null;
  ctx.logger.warn("kafka: SASL authentication failed", { mechanism: ctx.connection.saslMechanism, user });
  return reply(KafkaError.SASL_AUTHENTICATION_FAILED, FAILED);
}

function succeed(ctx: HandlerContext, user: string, authBytes?: Uint8Array): SaslAuthenticateResponse {
  ctx.connection.principal = user;
  ctx.connection.saslExchange = null;
  ctx.logger.info("kafka: SASL authenticated", { mechanism: ctx.connection.saslMechanism, user });
  return reply(KafkaError.NONE, null, authBytes);
}

async function plain(
  ctx: HandlerContext,
  sasl: SaslSettings,
  bytes: Uint8Array,
): Promise<SaslAuthenticateResponse> {
  const parts = Buffer.from(bytes).toString("utf8").split("\0");
  if (parts.length !== 3) return fail(ctx, null);
  const [authzid, user, password] = parts as [string, string, string];
  if (authzid !== "" && authzid !== user) return fail(ctx, user);
  const expected = sasl.users.get(user);
  if (expected === undefined && sasl.verifyPlain) {
    return (await sasl.verifyPlain(user, password)) ? succeed(ctx, user) : fail(ctx, user);
  }
  if (expected === undefined) return fail(ctx, user);
  const a = Buffer.from(expected);
  const b = Buffer.from(password);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return fail(ctx, user);
  return succeed(ctx, user);
}

/** Parse "k=v,k=v" SCRAM attributes (values may contain '='). */
function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    const i = part.indexOf("=");
    if (i === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

function scramName(raw: string): string {
  return raw.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

function scramFirst(
  ctx: HandlerContext,
  sasl: SaslSettings,
  mechanism: string,
  msg: string,
): SaslAuthenticateResponse {
  // gs2-header: "n,," or "y,," (optionally with a=authzid), then client-first-bare
  const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(msg);
  if (!m) return fail(ctx, null);
  const bare = m[3]!;
  const attrs = attributes(bare);
  const user = scramName(attrs.get("n") ?? "");
  const clientNonce = attrs.get("r");
  if (user === "" || !clientNonce) return fail(ctx, user || null);
  const cred = credential(sasl, mechanism, user);
  const serverNonce = crypto.randomBytes(18).toString("base64");
  const nonce = clientNonce + serverNonce;
  const salt = cred?.salt ?? FAKE_SALT;
  const serverFirst = `r=${nonce},s=${salt.toString("base64")},i=${ITERATIONS}`;
  const state: ScramState = { stage: "final", user, clientFirstBare: bare, serverFirst, serverNonce };
  ctx.connection.saslExchange = state;
  return reply(KafkaError.NONE, null, Buffer.from(serverFirst));
}

function scramFinal(
  ctx: HandlerContext,
  sasl: SaslSettings,
  mechanism: string,
  state: ScramState,
  msg: string,
): SaslAuthenticateResponse {
  const i = msg.lastIndexOf(",p=");
  if (i < 0) return fail(ctx, state.user);
  const withoutProof = msg.slice(0, i);
  const attrs = attributes(withoutProof);
  // Kafka's ScramSaslServer only checks that the nonce ends with the server's part:
  // librdkafka 2.0 repeats its client nonce in front of the combined one.
  if (!attrs.get("r")?.endsWith(state.serverNonce)) return fail(ctx, state.user);
  const cred = credential(sasl, mechanism, state.user);
  if (cred === null) return fail(ctx, state.user);
  const hash = hashOf(mechanism);
  const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
  const proof = Buffer.from(msg.slice(i + 3), "base64");
  const signature = hmac(hash, cred.storedKey, authMessage);
  if (proof.length !== signature.length) return fail(ctx, state.user);
  const clientKey = Buffer.alloc(proof.length);
  for (let k = 0; k < proof.length; k++) clientKey[k] = proof[k]! ^ signature[k]!;
  const stored = crypto.createHash(hash).update(clientKey).digest();
  if (!crypto.timingSafeEqual(stored, cred.storedKey)) return fail(ctx, state.user);
  const serverSignature = hmac(hash, cred.serverKey, authMessage).toString("base64");
  return succeed(ctx, state.user, Buffer.from(`v=${serverSignature}`));
}

export const handler: Handler<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  api: SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, _header, body) {
    const mechanism = ctx.connection.saslMechanism;
    const sasl = ctx.sasl;
    if (sasl === null || mechanism === null || ctx.connection.principal !== null) {
      return reply(KafkaError.ILLEGAL_SASL_STATE, "send SaslHandshake first (once per connection)");
    }
    if (mechanism === "PLAIN") return plain(ctx, sasl, body.authBytes);
    const msg = Buffer.from(body.authBytes).toString("utf8");
    const state = ctx.connection.saslExchange as ScramState | null;
    if (state === null) return scramFirst(ctx, sasl, mechanism, msg);
    return scramFinal(ctx, sasl, mechanism, state, msg);
  },
  errorResponse: (_body, errorCode) => reply(errorCode, null),
};
