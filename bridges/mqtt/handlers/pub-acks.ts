/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP.
 * Outbound flow (we published): PUBACK ends QoS 1 [MQTT-4.3.2-1]; PUBREC →
 * PUBREL [MQTT-4.3.3-4], PUBCOMP ends QoS 2 [MQTT-4.3.3-5]; each frees a slot
 * of the client's Receive Maximum. Unknown packet ids: PUBREL with 0x92 (v5).
 * Inbound QoS 2: PUBREL releases the stored packet id and is answered with
 * PUBCOMP [MQTT-4.3.3-11]; an unknown id gets PUBCOMP 0x92 (v5) [MQTT-4.3.3-12].
 */
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from "mqtt-packet";
import type { Connection } from "../connection.ts";
import { Reason } from "../reason-codes.ts";

export function handlePuback(conn: Connection, packet: IPubackPacket): undefined {
  conn.session?.onPuback(packet.messageId!);
  return undefined;
}

export function handlePubrec(conn: Connection, packet: IPubrecPacket): undefined {
  const id = packet.messageId!;
  const known = conn.session?.onPubrec(id, packet.reasonCode) ?? false;
  if (!known && (packet.reasonCode ?? 0) < 0x80) {
    conn.send(
      conn.protocolVersion === 5
        ? { cmd: "pubrel", messageId: id, reasonCode: Reason.PACKET_IDENTIFIER_NOT_FOUND }
        : { cmd: "pubrel", messageId: id },
    );
  }
  return undefined;
}

export function handlePubrel(conn: Connection, packet: IPubrelPacket): Promise<void> | undefined {
  const id = packet.messageId!;
  const session = conn.session!;
  const state = session.inboundQos2.get(id);
  const complete = () => {
    session.inboundQos2.delete(id);
    conn.bridge.sessionChanged(session);
    conn.send({ cmd: "pubcomp", messageId: id });
  };
  if (state === undefined) {
    conn.send(
      conn.protocolVersion === 5
        ? { cmd: "pubcomp", messageId: id, reasonCode: Reason.PACKET_IDENTIFIER_NOT_FOUND }
        : { cmd: "pubcomp", messageId: id },
    );
    return undefined;
  }
  if (typeof state === "number") {
    complete();
    return undefined;
  }
  return state.then(complete);
}

export function handlePubcomp(conn: Connection, packet: IPubcompPacket): undefined {
  conn.session?.onPubcomp(packet.messageId!);
  return undefined;
}
