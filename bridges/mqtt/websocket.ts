/**
 * MQTT over WebSocket (MQTT 5.0 section 6): binary frames carry the MQTT byte
 * stream (a packet may span frames, a frame may hold several packets). The
 * HTTP listener (wired by the lead) upgrades `GET /mqtt` with
 * `mqttWebSocketUpgrade` — subprotocol "mqtt" [MQTT-6.0.0-3] — and passes
 * websocket events for such sockets to these handlers. A ServerWebSocket
 * buffers what it cannot send (send() = -1), so backpressure is read from
 * getBufferedAmount() and released on drain.
 */
import type { ServerWebSocket } from "bun";
import type { MqttBridge } from "./bridge.ts";
import { Connection } from "./connection.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Logger } from "../../src/observability/logger.ts";

export interface MqttWebSocketData {
  mqtt: Connection | null;
}

export interface MqttWebSocketHandlers {
  open(ws: ServerWebSocket<MqttWebSocketData>): void;
  message(ws: ServerWebSocket<MqttWebSocketData>, message: string | Uint8Array): void;
  drain(ws: ServerWebSocket<MqttWebSocketData>): void;
  close(ws: ServerWebSocket<MqttWebSocketData>): void;
}

/** Upgrade options for Bun's server.upgrade(): answer with subprotocol "mqtt" when offered. */
export function mqttWebSocketUpgrade(
  req: Request,
): { headers: Record<string, string>; data: MqttWebSocketData } | null {
  const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (!offered.includes("mqtt")) return null;
  return { headers: { "Sec-WebSocket-Protocol": "mqtt" }, data: { mqtt: null } };
}

export function createWebSocketHandlers(deps: {
  bridge: MqttBridge;
  options: ResolvedOptions;
  logger: Logger;
  track(conn: Connection): void;
  untrack(conn: Connection): void;
}): MqttWebSocketHandlers {
  return {
    open(ws) {
      const conn = new Connection(
        {
          write: (data, offset, length) =>
            ws.send(data.subarray(offset, offset + length)) === 0 ? -1 : length,
          buffered: () => ws.getBufferedAmount(),
        },
        {
          bridge: deps.bridge,
          options: deps.options,
          logger: deps.logger,
          onClosed: (c) => deps.untrack(c),
          end: () => ws.close(),
        },
        ws.remoteAddress,
      );
      ws.data = { mqtt: conn };
      deps.track(conn);
    },
    message(ws, message) {
      const conn = ws.data?.mqtt;
      if (!conn) return;
      if (typeof message === "string") {
        conn.close(); // MQTT travels in binary frames only [MQTT-6.0.0-1]
        return;
      }
      try {
        conn.onData(message);
      } catch (err) {
        deps.logger.error("mqtt websocket connection failed", { err });
        conn.close();
      }
    },
    drain(ws) {
      ws.data?.mqtt?.onDrain();
    },
    close(ws) {
      ws.data?.mqtt?.onSocketClosed();
    },
  };
}
