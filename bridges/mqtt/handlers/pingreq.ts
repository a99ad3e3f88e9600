/** PINGREQ → PINGRESP [MQTT-3.12.4-1]. Any packet already reset the keep-alive clock. */
import type { Connection } from "../connection.ts";

export function handlePingreq(conn: Connection): undefined {
  conn.send({ cmd: "pingresp" });
  return undefined;
}
