/**
 * UNSUBSCRIBE → UNSUBACK. Filters are compared character by character
 * [MQTT-3.10.4-1]; a removed subscription stops new deliveries
 * [MQTT-3.10.4-2] (messages already in flight complete). v5 reason per
 * filter: 0x00, or 0x11 No subscription existed [MQTT-3.11.3-1].
 */
import type { IUnsubackPacket, IUnsubscribePacket } from "mqtt-packet";
import { type Connection, ConnState } from "../connection.ts";
import { MqttProtocolError, Reason } from "../reason-codes.ts";

export async function handleUnsubscribe(conn: Connection, packet: IUnsubscribePacket): Promise<void> {
  const session = conn.session!;
  const { bridge } = conn;
  if (packet.unsubscriptions.length === 0) {
    throw new MqttProtocolError(Reason.PROTOCOL_ERROR, "UNSUBSCRIBE without topic filters"); // [MQTT-3.10.3-2]
  }
  const codes: number[] = [];
  for (const raw of packet.unsubscriptions) {
    const sub = session.subs.get(raw);
    if (!sub) {
      codes.push(Reason.NO_SUBSCRIPTION_EXISTED);
      continue;
    }
    session.subs.delete(raw);
    if (sub.group === null) session.trie.delete(sub.filter, raw);
    else bridge.leaveGroup(session, sub);
    codes.push(Reason.SUCCESS);
  }
  session.dirty = true;
  if (session.persistent) await bridge.flush();
  if (conn.state !== ConnState.CONNECTED) return;
  const unsuback: IUnsubackPacket = { cmd: "unsuback", messageId: packet.messageId!, granted: codes };
  if (conn.protocolVersion !== 5) unsuback.granted = [];
  conn.send(unsuback);
}
