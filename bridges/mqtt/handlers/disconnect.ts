/**
 * DISCONNECT from the client. Reason 0x00 discards the will [MQTT-3.14.4-3];
 * 0x04 "Disconnect with Will Message" keeps it (v5). A Session Expiry
 * Interval may be changed here, but not from 0 to non-zero [MQTT-3.14.2-2].
 */
import type { IDisconnectPacket } from "mqtt-packet";
import type { Connection } from "../connection.ts";
import { MqttProtocolError, Reason } from "../reason-codes.ts";

export function handleDisconnect(conn: Connection, packet: IDisconnectPacket): undefined {
  const session = conn.session;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (expiry !== undefined && session) {
    if (session.expiryInterval === 0 && expiry !== 0) {
      throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "session expiry interval was 0 at CONNECT");
    }
    session.expiryInterval = conn.bridge.capExpiry(expiry);
    session.dirty = true;
  }
  if ((packet.reasonCode ?? 0) !== Reason.DISCONNECT_WITH_WILL) conn.will = null;
  conn.close();
  return undefined;
}
