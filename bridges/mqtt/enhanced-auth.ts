/**
 * MQTT 5 enhanced authentication (section 4.12): SCRAM-SHA-256 and
 * SCRAM-SHA-512 over CONNECT / AUTH, as EMQX offers them (Authentication
 * Method "SCRAM-SHA-256" / "SCRAM-SHA-512").
 *
 *   CONNECT  (method, data = client-first)
 *   AUTH 0x18 Continue authentication (data = server-first)     ← server
 *   AUTH 0x18 (data = client-final)                              → server
 *   CONNACK 0x00 (method, data = server-final "v=<signature>")   ← server
 *
 * - A method we do not offer (or no SCRAM credentials configured) is CONNACK
 *   0x8C Bad authentication method (connect.ts).
 * - Credentials come from the `scramCredential` hook (src/config/mqtt-auth.ts):
 *   a user's stored scram_sha_256 / scram_sha_512, or one derived from a
 *   plain-text password. The SCRAM algorithm is src/util/scram.ts, shared
 *   with the Kafka listener's SASL.
 * - A wrong proof, an unknown user or a user without a SCRAM credential (only
 *   a password_hash: the hook logs that the operator should add scram_sha_256
 *   with `eddy passwd`) is CONNACK 0x86; a client-first message we cannot
 *   parse is 0x87.
 * - The AUTH packets must carry the method of the CONNECT [MQTT-4.12.0-5];
 *   another reason code or method during the exchange is a protocol error.
 * - An exchange not finished within the connect timeout closes the connection.
 * - Re-authentication [MQTT-4.12.1-1]: AUTH 0x19 with the CONNECT's method and
 *   a new client-first; the same exchange, ending with AUTH 0x00 Success and
 *   the server-final message. Other packets keep flowing meanwhile. A failed
 *   re-authentication, or one that names another user, is DISCONNECT 0x87.
 *   A client that did not use enhanced authentication in CONNECT must not send
 *   AUTH [MQTT-4.12.0-1]: protocol error.
 */
import type { IAuthPacket } from "mqtt-packet";
import { isScramMechanism, type ScramMechanism, ScramServer } from "../../src/util/scram.ts";
import { type Connection, ConnState } from "./connection.ts";
import { MqttProtocolError, Reason } from "./reason-codes.ts";

export interface EnhancedAuthOutcome {
  /** Authenticated: the user and the properties the CONNACK carries. */
  success(
    user: string,
    props: { authenticationMethod: string; authenticationData: Buffer },
  ): Promise<void> | undefined;
  /** Refused with this v5 reason code (CONNACK). */
  failure(reason: number): void;
}

interface Exchange {
  server: ScramServer;
  /** "connect": completes the CONNECT; "reauth": an AUTH 0x19 on a connected client. */
  phase: "connect" | "reauth";
  outcome: EnhancedAuthOutcome | null;
  cancel: () => void;
}

/** The method a connection authenticated with (re-authentication must use it). */
const methods = new WeakMap<Connection, ScramMechanism>();
const exchanges = new WeakMap<Connection, Exchange>();

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Can this bridge authenticate with `method`? */
export function offersMethod(conn: Connection, method: string): method is ScramMechanism {
  return isScramMechanism(method) && conn.bridge.deps.auth.scramCredential !== undefined;
}

/** CONNECT with a supported Authentication Method: send server-first, wait for AUTH. */
export function beginEnhancedAuth(
  conn: Connection,
  method: ScramMechanism,
  data: Buffer | undefined,
  outcome: EnhancedAuthOutcome,
): void {
  const exchange = start(conn, method, data, "connect");
  if (exchange === null) {
    outcome.failure(Reason.NOT_AUTHORIZED);
    return;
  }
  exchange.outcome = outcome;
}

function start(
  conn: Connection,
  method: ScramMechanism,
  data: Buffer | undefined,
  phase: Exchange["phase"],
): Exchange | null {
  const lookup = conn.bridge.deps.auth.scramCredential!;
  const server = new ScramServer(method, (user) => lookup(method, user));
  const first = server.first(data ? dec.decode(data) : "");
  if (!first.ok) return null;
  const timer = setTimeout(() => {
    if (exchanges.get(conn) !== exchange) return;
    exchanges.delete(conn);
    conn.deps.logger.debug("mqtt enhanced authentication timed out", { clientId: conn.clientId });
    if (phase === "reauth") conn.serverDisconnect(Reason.NOT_AUTHORIZED, "re-authentication timed out");
    else conn.close();
  }, conn.deps.options.connectTimeoutMs);
  (timer as { unref?: () => void }).unref?.();
  const exchange: Exchange = { server, phase, outcome: null, cancel: () => clearTimeout(timer) };
  exchanges.set(conn, exchange);
  sendAuth(conn, Reason.CONTINUE_AUTHENTICATION, method, first.message);
  return exchange;
}

function sendAuth(conn: Connection, reasonCode: number, method: string, message: string): void {
  const packet: IAuthPacket = {
    cmd: "auth",
    reasonCode,
    properties: { authenticationMethod: method, authenticationData: Buffer.from(enc.encode(message)) },
  };
  conn.send(packet);
}

/** An AUTH packet from the client (before or after CONNACK). */
export function handleAuth(conn: Connection, packet: IAuthPacket): Promise<void> | undefined {
  if (conn.protocolVersion !== 5) throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "AUTH before MQTT 5");
  const method = packet.properties?.authenticationMethod;
  const data = packet.properties?.authenticationData;
  const exchange = exchanges.get(conn);
  if (conn.state === ConnState.CONNECTED && exchange === undefined) {
    const used = methods.get(conn);
    // [MQTT-4.12.0-1]: no Authentication Method in CONNECT = no AUTH; [MQTT-4.12.1-1]: same method.
    if (used === undefined || packet.reasonCode !== Reason.RE_AUTHENTICATE || method !== used) {
      throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "unexpected AUTH packet");
    }
    if (start(conn, used, data, "reauth") === null) {
      conn.serverDisconnect(Reason.NOT_AUTHORIZED, "re-authentication failed");
    }
    return undefined;
  }
  if (exchange === undefined || packet.reasonCode !== Reason.CONTINUE_AUTHENTICATION) {
    throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "unexpected AUTH packet");
  }
  if (method !== exchange.server.mechanism) {
    throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "AUTH with another authentication method"); // [MQTT-4.12.0-5]
  }
  exchange.cancel();
  exchanges.delete(conn);
  const final = exchange.server.final(data ? dec.decode(data) : "");
  const user = exchange.server.user;
  if (exchange.phase === "connect") {
    if (!final.ok || user === null) {
      exchange.outcome?.failure(Reason.BAD_USER_NAME_OR_PASSWORD);
      return undefined;
    }
    methods.set(conn, exchange.server.mechanism);
    return exchange.outcome?.success(user, {
      authenticationMethod: exchange.server.mechanism,
      authenticationData: Buffer.from(enc.encode(final.message)),
    });
  }
  if (!final.ok || user !== conn.user) {
    conn.serverDisconnect(Reason.NOT_AUTHORIZED, "re-authentication failed");
    return undefined;
  }
  sendAuth(conn, Reason.SUCCESS, exchange.server.mechanism, final.message);
  return undefined;
}
