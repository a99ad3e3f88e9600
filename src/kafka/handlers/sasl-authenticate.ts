/**
 * SaslAuthenticate (key 36), versions 0-2 (KIP-152, KIP-368).
 *
 * Runs the mechanism chosen by SaslHandshake against the users of config
 * `kafka.sasl.users` and `[auth.users]`:
 * - PLAIN (RFC 4616): one message "authzid\0user\0password"; the authzid must
 *   be empty or the user.
 * - SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677, KIP-84) with
 *   src/util/scram.ts (the one SCRAM implementation, shared with MQTT 5
 *   enhanced auth): client-first → server-first (nonce, salt, iterations) →
 *   client-final with proof → server-final with the server signature.
 *   Credentials: for users with a plain-text password (SaslSettings.users),
 *   derived once per listener with a random salt; for the others, the stored
 *   scram_sha_256 / scram_sha_512 of [auth.users] (SaslSettings.scram). A user
 *   with only a password hash fails, and the log tells the operator to add a
 *   stored credential (`eddy passwd`). Channel binding is not supported.
 * Success sets the connection's principal, after which other requests are
 * served; failure answers SASL_AUTHENTICATION_FAILED with a message that does
 * not say whether the user exists. No re-authentication: session lifetime 0.
 * Without a preceding SaslHandshake: ILLEGAL_SASL_STATE.
 */
import crypto from "node:crypto";
import { isScramMechanism, type ScramCredentialSource, ScramServer, ScramUsers } from "../../util/scram.ts";
import { SaslAuthenticate } from "../generated/index.ts";
import type { SaslAuthenticateRequest } from "../generated/sasl-authenticate-request.ts";
import type { SaslAuthenticateResponse } from "../generated/sasl-authenticate-response.ts";
import { EMPTY_BYTES } from "../protocol/values.ts";
import { type Handler, type HandlerContext, KafkaError, type SaslSettings } from "./context.ts";

const FAILED = "authentication failed: wrong user name or password, or a mechanism the user cannot use";

/** Plain-text users first (as PLAIN checks them), then stored credentials; one per SaslSettings. */
const sources = new WeakMap<SaslSettings, ScramCredentialSource>();

function scramSource(sasl: SaslSettings): ScramCredentialSource {
  let source = sources.get(sasl);
  if (source === undefined) {
    const plain = new ScramUsers(new Map([...sasl.users].map(([user, password]) => [user, { password }])));
    source = {
      lookup: (m, user) =>
        sasl.users.has(user) ? plain.lookup(m, user) : (sasl.scram?.lookup(m, user) ?? null),
      hint: (m, user) => (sasl.users.has(user) ? null : (sasl.scram?.hint(m, user) ?? null)),
    };
    sources.set(sasl, source);
  }
  return source;
}

function reply(
  errorCode: number,
  errorMessage: string | null,
  authBytes: Uint8Array = EMPTY_BYTES,
): SaslAuthenticateResponse {
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs: 0 };
}

function fail(ctx: HandlerContext, user: string | null): SaslAuthenticateResponse {
  const mechanism = ctx.connection.saslMechanism;
  ctx.connection.saslExchange = null;
  ctx.logger.warn("kafka: SASL authentication failed", { mechanism, user });
  if (user !== null && ctx.sasl !== null && mechanism !== null && isScramMechanism(mechanism)) {
    const hint = scramSource(ctx.sasl).hint(mechanism, user);
    if (hint !== null) ctx.logger.warn(`kafka: ${hint}`, { mechanism, user });
  }
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

/** One SCRAM message: client-first starts an exchange, client-final ends it. */
function scram(ctx: HandlerContext, sasl: SaslSettings, bytes: Uint8Array): SaslAuthenticateResponse {
  const mechanism = ctx.connection.saslMechanism;
  if (mechanism === null || !isScramMechanism(mechanism)) return fail(ctx, null);
  const msg = Buffer.from(bytes).toString("utf8");
  const ongoing = ctx.connection.saslExchange;
  if (ongoing instanceof ScramServer) {
    const step = ongoing.final(msg);
    return step.ok ? succeed(ctx, ongoing.user!, Buffer.from(step.message)) : fail(ctx, step.user);
  }
  const source = scramSource(sasl);
  const server = new ScramServer(mechanism, (user) => source.lookup(mechanism, user));
  const step = server.first(msg);
  if (!step.ok) return fail(ctx, step.user);
  ctx.connection.saslExchange = server;
  return reply(KafkaError.NONE, null, Buffer.from(step.message));
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
    return scram(ctx, sasl, body.authBytes);
  },
  errorResponse: (_body, errorCode) => reply(errorCode, null),
};
