/**
 * Packet dispatch: the first packet must be CONNECT [MQTT-3.1.0-1], a second
 * CONNECT is a protocol error [MQTT-3.1.0-2], packets only a server sends are
 * protocol errors. AUTH goes to enhanced-auth.ts, also before CONNACK (during
 * the exchange); without enhanced authentication it is a protocol error [MQTT-4.12.0-1]. A packet that needs a Packet
 * Identifier and has none (or 0) is malformed [MQTT-2.2.1-3].
 */
import type { Packet } from "mqtt-packet";
import { type Connection, ConnState } from "../connection.ts";
import { handleAuth } from "../enhanced-auth.ts";
import { MqttProtocolError, Reason } from "../reason-codes.ts";
import { handleConnect } from "./connect.ts";
import { handleDisconnect } from "./disconnect.ts";
import { handlePingreq } from "./pingreq.ts";
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from "./pub-acks.ts";
import { handlePublish } from "./publish.ts";
import { handleSubscribe } from "./subscribe.ts";
import { handleUnsubscribe } from "./unsubscribe.ts";

const ID_PACKETS: ReadonlySet<string> = new Set([
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "unsubscribe",
]);

export function dispatch(conn: Connection, packet: Packet): Promise<void> | undefined {
  if (packet.cmd === "connect") {
    if (conn.state !== ConnState.AWAITING_CONNECT) {
      throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "second CONNECT on one connection");
    }
    return handleConnect(conn, packet);
  }
  if (packet.cmd === "auth") return handleAuth(conn, packet);
  if (conn.state !== ConnState.CONNECTED) {
    throw new MqttProtocolError(Reason.PROTOCOL_ERROR, `${packet.cmd} before CONNACK`);
  }
  if (ID_PACKETS.has(packet.cmd)) {
    // These packets carry a non-zero Packet Identifier [MQTT-2.2.1-3]; mqtt-packet reports a missing one as -1.
    const id = (packet as { messageId?: number }).messageId;
    const needed = packet.cmd !== "publish" || (packet as { qos: number }).qos > 0;
    if (needed && (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff)) {
      throw new MqttProtocolError(Reason.MALFORMED_PACKET, `${packet.cmd} without a valid packet identifier`);
    }
  }
  switch (packet.cmd) {
    case "publish":
      return handlePublish(conn, packet);
    case "puback":
      return handlePuback(conn, packet);
    case "pubrec":
      return handlePubrec(conn, packet);
    case "pubrel":
      return handlePubrel(conn, packet);
    case "pubcomp":
      return handlePubcomp(conn, packet);
    case "subscribe":
      return handleSubscribe(conn, packet);
    case "unsubscribe":
      return handleUnsubscribe(conn, packet);
    case "pingreq":
      return handlePingreq(conn);
    case "disconnect":
      return handleDisconnect(conn, packet);
    default:
      throw new MqttProtocolError(Reason.PROTOCOL_ERROR, `a client must not send ${packet.cmd}`);
  }
}
