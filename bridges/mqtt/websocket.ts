/**
 * MQTT over WebSocket (MQTT 5.0 section 6): binary frames carry the MQTT byte
 * stream (a packet may span frames, a frame may hold several packets). The
 * HTTP listener (src/main/bridges.ts → src/http/server.ts) upgrades `GET /mqtt`
 * with `mqttWebSocketUpgrade` — subprotocol "mqtt" [MQTT-6.0.0-3] — and passes
 * websocket events for such sockets to these handlers.
 *
 * The transport difference with TCP is confined to the RawSocket adapter
 * below; flow control is the Connection's, the same as over TCP:
 * - outbound: a ServerWebSocket buffers what it cannot send (send() = -1),
 *   so the write queue counts getBufferedAmount() as queued bytes: above
 *   `writeHighWaterBytes` the connection takes no deliveries (QoS 0 readers
 *   stay behind at their log cursor) until Bun's drain brings it back under;
 * - inbound: pause() / resume() stop and restart reading the socket while too
 *   many QoS 0 publishes are not yet durable (`maxInboundQos0`).
 * send() = 0 means Bun dropped the frame (past its backpressureLimit, 16 MiB by
 * default, which the bound above keeps us far from): the MQTT byte stream would
 * have a hole, so the connection is closed.
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
          write: (data, offset, length) => {
            // -1: queued by Bun (backpressure, counted by buffered()); > 0: written.
            if (ws.send(data.subarray(offset, offset + length)) !== 0) return length;
            ws.close(1011, "send buffer overflow");
            return -1;
          },
          buffered: () => ws.getBufferedAmount(),
          pause: () => ws.pause(),
          resume: () => ws.resume(),
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
