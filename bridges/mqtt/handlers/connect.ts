/**
 * CONNECT → CONNACK, MQTT 3.1, 3.1.1 and 5.0.
 *
 * - Protocol level 3/4/5 (others answered by the connection's pre-check with
 *   CONNACK 0x01 [MQTT-3.1.2-2]); the parser checks the reserved flag
 *   [MQTT-3.1.2-3] and will flags [MQTT-3.1.2-11..15].
 * - Client id: empty → assigned and returned as Assigned Client Identifier
 *   (v5) [MQTT-3.1.3-6][MQTT-3.2.2-16]; in 3.1.1 an empty id with Clean
 *   Session = 0 is refused with 0x02 [MQTT-3.1.3-8].
 * - Clean Start discards an existing session [MQTT-3.1.2-4]; otherwise the
 *   session resumes and Session Present is 1 [MQTT-3.2.2-2]. 3.1.1 Clean
 *   Session = 0 means a session that never expires.
 * - An existing connection with the same client id is taken over: it gets
 *   DISCONNECT 0x8E (v5) and is closed [MQTT-3.1.4-3].
 * - v5 properties: Session Expiry Interval (capped by the server, the capped
 *   value returned), Receive Maximum and Maximum Packet Size (0 is a protocol
 *   error, sections 3.1.2.11.3-4), Topic Alias Maximum; the CONNACK announces ours
 *   and Server Keep Alive when configured [MQTT-3.2.2-21].
 * - Request Response Information = 1 → Response Information "<prefix><client id>".
 * - Enhanced authentication [MQTT-4.12]: SCRAM-SHA-256 / SCRAM-SHA-512 over
 *   AUTH (enhanced-auth.ts) when the auth hooks give SCRAM credentials; any
 *   other Authentication Method is 0x8C Bad authentication method.
 * - User name / password go to the auth hook (auth.ts): 0x86 / 0x87 (3.1.1: 4 / 5).
 * - More than maxConnections clients: 0x97 Quota exceeded (3.1.1: 3 Server unavailable).
 * - Server redirection [MQTT-4.11] (options.redirect): every CONNECT gets 0x9C
 *   Use another server / 0x9D Server moved with the Server Reference (v5), or
 *   return code 3 Server unavailable (3.1.1, which has no redirection).
 * - A brand-new persistent session is saved (durable) before its CONNACK, so
 *   a crash right after CONNACK cannot lose a session the client was told exists;
 *   a failed save is 0x88 Server unavailable (3.1.1: 3) and the session is dropped.
 * - The ACL read check (auth.ts canRead) of the authenticated user is bound to
 *   the session, so every delivery to this client is checked.
 */
import type { IConnackPacket, IConnectPacket } from "mqtt-packet";
import { NEVER_EXPIRES } from "../bridge.ts";
import { type Connection, ConnState } from "../connection.ts";
import { beginEnhancedAuth, offersMethod } from "../enhanced-auth.ts";
import { fromUserProperties, type MqttMessage } from "../message.ts";
import { ConnackV3, MqttProtocolError, Reason } from "../reason-codes.ts";
import { isValidTopicName } from "../topic-filter.ts";

const enc = new TextEncoder();

export function handleConnect(conn: Connection, packet: IConnectPacket): Promise<void> | undefined {
  conn.state = ConnState.CONNECTING;
  const version = packet.protocolVersion ?? 4;
  conn.setProtocolVersion(version);
  const v5 = version === 5;
  const { bridge } = conn;
  const props = packet.properties ?? {};
  const cleanStart = packet.clean !== false;

  if (v5 && (props.receiveMaximum === 0 || props.maximumPacketSize === 0)) {
    return refuse(conn, Reason.PROTOCOL_ERROR, ConnackV3.NOT_AUTHORIZED);
  }
  const redirect = conn.deps.options.redirect;
  if (redirect !== null) {
    const reason = redirect.permanent ? Reason.SERVER_MOVED : Reason.USE_ANOTHER_SERVER;
    return refuse(conn, reason, ConnackV3.SERVER_UNAVAILABLE, { serverReference: redirect.serverReference });
  }
  const method = v5 ? props.authenticationMethod : undefined;
  if (method !== undefined && !offersMethod(conn, method)) {
    return refuse(conn, Reason.BAD_AUTHENTICATION_METHOD, ConnackV3.NOT_AUTHORIZED);
  }
  let clientId = packet.clientId ?? "";
  let assigned = false;
  if (clientId === "") {
    if (!v5 && !cleanStart)
      return refuse(conn, Reason.CLIENT_IDENTIFIER_NOT_VALID, ConnackV3.IDENTIFIER_REJECTED);
    clientId = `eddy-${crypto.randomUUID()}`;
    assigned = true;
  }
  if (packet.will && !isValidTopicName(packet.will.topic)) {
    if (!v5) throw new MqttProtocolError(Reason.TOPIC_NAME_INVALID, "invalid will topic");
    return refuse(conn, Reason.TOPIC_NAME_INVALID, ConnackV3.NOT_AUTHORIZED);
  }
  if (bridge.connections.size >= conn.deps.options.maxConnections && !bridge.connections.has(clientId)) {
    return refuse(conn, Reason.QUOTA_EXCEEDED, ConnackV3.SERVER_UNAVAILABLE);
  }
  const accepted: Accepted = { clientId, assigned, cleanStart };
  if (method !== undefined && offersMethod(conn, method)) {
    beginEnhancedAuth(conn, method, props.authenticationData, {
      success: (user, authProps) => {
        conn.user = user;
        return accept(conn, packet, accepted, authProps);
      },
      failure: (reason) => refuse(conn, reason, ConnackV3.NOT_AUTHORIZED),
    });
    return undefined;
  }
  const authenticate = bridge.deps.auth.authenticate;
  if (!authenticate) {
    conn.user = packet.username ?? null;
    return accept(conn, packet, accepted);
  }
  const request = {
    clientId,
    username: packet.username ?? null,
    password: packet.password ? new Uint8Array(packet.password) : null,
    remoteAddress: conn.remote,
    protocolVersion: version,
  };
  return Promise.resolve(authenticate(request)).then((result) => {
    if (conn.isClosed()) return;
    if (!result.ok) {
      if (result.reason === "bad-credentials") {
        refuse(conn, Reason.BAD_USER_NAME_OR_PASSWORD, ConnackV3.BAD_USER_NAME_OR_PASSWORD);
      } else refuse(conn, Reason.NOT_AUTHORIZED, ConnackV3.NOT_AUTHORIZED);
      return;
    }
    conn.user = result.user;
    return accept(conn, packet, accepted);
  });
}

interface Accepted {
  clientId: string;
  assigned: boolean;
  cleanStart: boolean;
}

function accept(
  conn: Connection,
  packet: IConnectPacket,
  { clientId, assigned, cleanStart }: Accepted,
  authProps?: { authenticationMethod: string; authenticationData: Buffer },
): Promise<void> | undefined {
  const { bridge } = conn;
  const options = conn.deps.options;
  const v5 = conn.protocolVersion === 5;
  const props = packet.properties ?? {};
  const requestedExpiry = v5 ? (props.sessionExpiryInterval ?? 0) : cleanStart ? 0 : NEVER_EXPIRES;
  const expiry = bridge.capExpiry(requestedExpiry);

  conn.clientId = clientId;
  // Server Keep Alive can only be announced to v5 clients; 3.1.1 keeps the client's value.
  conn.keepAlive = (v5 ? options.serverKeepAlive : null) ?? packet.keepalive ?? 0;
  conn.clientReceiveMaximum = props.receiveMaximum ?? 65535;
  conn.clientMaxPacketSize = props.maximumPacketSize ?? Number.POSITIVE_INFINITY;
  conn.clientTopicAliasMaximum = props.topicAliasMaximum ?? 0;

  bridge.takeOver(clientId, conn);
  bridge.willOnReconnect(clientId, cleanStart);

  let session = bridge.sessions.get(clientId);
  if (session && cleanStart) {
    bridge.endSession(session);
    session = undefined;
  }
  const sessionPresent = session !== undefined;
  if (!session) {
    session = bridge.newSession(clientId);
    bridge.sessions.set(clientId, session);
  }
  session.expiryInterval = expiry;
  session.dirty = true;
  const canRead = bridge.deps.auth.canRead;
  const user = conn.user;
  session.readCheck = canRead ? (topic) => canRead(user, clientId, topic) : null;
  conn.session = session;
  conn.will = packet.will ? willOf(conn, packet.will) : null;
  const connack = connackFor(conn, packet, { clientId, assigned, sessionPresent, expiry, requestedExpiry });
  if (authProps) Object.assign(connack.properties ?? {}, authProps);
  if (sessionPresent || !session.persistent) {
    bridge.sessionChanged(session);
    connected(conn, connack);
    return undefined;
  }
  // A persistent session exists from its CONNACK on, also across a crash: save it first.
  const created = session;
  return bridge.saveSession(created).then(() => {
    // flush() marks a session it could not save dirty again (and bridge.closed saves nothing).
    const saved = !created.dirty;
    if (saved && !conn.isClosed()) {
      connected(conn, connack);
      return;
    }
    if (!conn.isClosed()) refuse(conn, Reason.SERVER_UNAVAILABLE, ConnackV3.SERVER_UNAVAILABLE);
    // No CONNACK told the client this session exists: drop it unless another connection took it over.
    if (bridge.connections.get(clientId) === conn) bridge.connections.delete(clientId);
    if (created.link === null && bridge.sessions.get(clientId) === created) bridge.endSession(created);
  });
}

function connackFor(
  conn: Connection,
  packet: IConnectPacket,
  a: {
    clientId: string;
    assigned: boolean;
    sessionPresent: boolean;
    expiry: number;
    requestedExpiry: number;
  },
): IConnackPacket {
  const { clientId, assigned, sessionPresent, expiry, requestedExpiry } = a;
  const options = conn.deps.options;
  const v5 = conn.protocolVersion === 5;
  const props = packet.properties ?? {};

  const connack: IConnackPacket = { cmd: "connack", sessionPresent };
  if (v5) {
    connack.reasonCode = Reason.SUCCESS;
    const p: NonNullable<IConnackPacket["properties"]> = {
      receiveMaximum: options.receiveMaximum,
      maximumPacketSize: options.maxPacketSize,
      topicAliasMaximum: options.topicAliasMaximum,
    };
    if (expiry !== requestedExpiry) p.sessionExpiryInterval = expiry;
    if (assigned) p.assignedClientIdentifier = clientId;
    if (options.serverKeepAlive !== null) p.serverKeepAlive = options.serverKeepAlive;
    if (props.requestResponseInformation)
      p.responseInformation = options.responseInformationPrefix + clientId;
    connack.properties = p;
  } else {
    connack.returnCode = ConnackV3.ACCEPTED;
  }
  return connack;
}

function connected(conn: Connection, connack: IConnackPacket): void {
  conn.bridge.stats.connectionsAccepted++;
  conn.send(connack);
  conn.state = ConnState.CONNECTED;
  conn.session!.attach(conn);
}

/** CONNACK with a failure code, then close [MQTT-3.2.2-5]; Session Present is 0 [MQTT-3.2.2-6]. */
function refuse(
  conn: Connection,
  v5Reason: number,
  v3Code: number,
  properties?: IConnackPacket["properties"],
): undefined {
  conn.bridge.stats.connectionsRefused++;
  conn.send(
    conn.protocolVersion === 5
      ? { cmd: "connack", sessionPresent: false, reasonCode: v5Reason, ...(properties ? { properties } : {}) }
      : { cmd: "connack", sessionPresent: false, returnCode: v3Code },
  );
  conn.serverDisconnect(v5Reason);
  return undefined;
}

function willOf(
  conn: Connection,
  will: NonNullable<IConnectPacket["will"]>,
): { msg: MqttMessage; delay: number } {
  const p = will.properties ?? {};
  const payload = typeof will.payload === "string" ? enc.encode(will.payload) : new Uint8Array(will.payload);
  const msg: MqttMessage = {
    topic: will.topic,
    payload,
    qos: will.qos ?? 0,
    retain: will.retain ?? false,
    clientId: conn.clientId,
    timestamp: 0,
    userProperties: fromUserProperties(p.userProperties),
  };
  if (p.contentType !== undefined) msg.contentType = p.contentType;
  if (p.payloadFormatIndicator) msg.payloadFormatUtf8 = true;
  if (p.responseTopic !== undefined) msg.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) msg.correlationData = new Uint8Array(p.correlationData);
  if (p.messageExpiryInterval !== undefined) msg.messageExpiry = p.messageExpiryInterval;
  return { msg, delay: p.willDelayInterval ?? 0 };
}
