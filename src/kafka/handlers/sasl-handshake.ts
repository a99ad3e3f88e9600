/**
 * SaslHandshake (key 17), versions 0-1 (KIP-43, KIP-152).
 *
 * Chooses the mechanism for the SaslAuthenticate requests that follow:
 * PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, as offered by config
 * `kafka.sasl.mechanisms` once `kafka.sasl.users` has users. Anything else
 * (or SASL not configured) gets UNSUPPORTED_SASL_MECHANISM with the list of
 * mechanisms offered. After v0 the client sends bare SASL tokens (size
 * prefix, no Kafka header) until authenticated: the connection hands those
 * to SaslAuthenticate (connection.ts). v0 is advertised because librdkafka
 * enables SASL only when SaslHandshake v0 is in range.
 * Spec: KIP-43, KIP-152.
 */
import { SaslHandshake } from "../generated/index.ts";
import type { SaslHandshakeRequest } from "../generated/sasl-handshake-request.ts";
import type { SaslHandshakeResponse } from "../generated/sasl-handshake-response.ts";
import { type Handler, KafkaError } from "./context.ts";

export const handler: Handler<SaslHandshakeRequest, SaslHandshakeResponse> = {
  api: SaslHandshake,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx, header, body) {
    const offered = ctx.sasl?.mechanisms ?? [];
    const mechanism = body.mechanism.toUpperCase();
    if (!offered.includes(mechanism) || ctx.connection.principal !== null) {
      return { errorCode: KafkaError.UNSUPPORTED_SASL_MECHANISM, mechanisms: [...offered] };
    }
    ctx.connection.saslMechanism = mechanism;
    ctx.connection.saslExchange = null;
    ctx.connection.saslRawTokens = header.apiVersion === 0;
    return { errorCode: KafkaError.NONE, mechanisms: [...offered] };
  },
  errorResponse: (_body, errorCode) => ({ errorCode, mechanisms: [] }),
};
