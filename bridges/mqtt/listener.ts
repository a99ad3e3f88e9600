/**
 * The MQTT TCP listener (Bun.listen, optionally TLS): one Connection per socket, drain →
 * write-queue flush, a sweep timer for keep-alive and session expiry, and a
 * close() that ends every connection (v5 clients get DISCONNECT 0x8B), saves
 * persistent sessions and leaves the broker running.
 */
import type { SocketHandler, TCPSocketListener } from "bun";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { MqttBridge } from "./bridge.ts";
import { Connection } from "./connection.ts";
import { compileMapping } from "./mapping.ts";
import { type MqttBridgeOptions, resolveOptions } from "./options.ts";
import { Reason } from "./reason-codes.ts";
import { createWebSocketHandlers, type MqttWebSocketHandlers } from "./websocket.ts";

export interface MqttListener {
  /** The bound address. */
  readonly host: string;
  readonly port: number;
  /** The TLS listener's port when `tls` was given, else null. */
  readonly tlsPort: number | null;
  /** The bridge state (sessions, retained messages) — for tests and the HTTP API. */
  readonly bridge: MqttBridge;
  /** Handlers for MQTT over WebSocket on the HTTP listener (see websocket.ts). */
  readonly websocket: MqttWebSocketHandlers;
  close(): Promise<void>;
}

interface SocketData {
  conn: Connection | null;
}

export async function startMqttListener(opts: MqttBridgeOptions): Promise<MqttListener> {
  const options = resolveOptions(opts);
  const logger = (opts.logger ?? silentLogger).child({ component: "mqtt" });
  const clock = opts.clock ?? systemClock;
  const mapping = compileMapping(opts.mapping);
  const bridge = new MqttBridge({
    broker: opts.broker,
    auth: opts.auth ?? {},
    logger,
    clock,
    mapping,
    options,
  });
  await bridge.start();
  const connections = new Set<Connection>();

  const handlers: SocketHandler<SocketData> = {
    open(socket) {
      socket.setNoDelay?.(true);
      const conn = new Connection(
        {
          write: (data, offset, length) => socket.write(data, offset, length),
          pause: () => socket.pause(),
          resume: () => socket.resume(),
        },
        {
          bridge,
          options,
          logger,
          onClosed: (c) => connections.delete(c),
          end: () => socket.end(),
        },
        `${socket.remoteAddress}`,
      );
      socket.data = { conn };
      connections.add(conn);
    },
    data(socket, chunk) {
      const conn = socket.data?.conn;
      if (!conn) return;
      try {
        conn.onData(chunk);
      } catch (err) {
        logger.error("mqtt connection failed", { err });
        conn.close();
      }
    },
    drain(socket) {
      socket.data?.conn?.onDrain();
    },
    close(socket) {
      socket.data?.conn?.onSocketClosed();
    },
    error(_socket, err) {
      logger.debug("mqtt socket error", { err });
    },
  };
  const servers: Array<TCPSocketListener<SocketData>> = [];
  const server = Bun.listen<SocketData>({ hostname: options.host, port: options.port, socket: handlers });
  servers.push(server);
  let tlsServer: TCPSocketListener<SocketData> | null = null;
  if (opts.tls) {
    tlsServer = Bun.listen<SocketData>({
      hostname: opts.tls.host ?? options.host,
      port: opts.tls.port ?? 8883,
      tls: { cert: opts.tls.cert, key: opts.tls.key },
      socket: handlers,
    });
    servers.push(tlsServer);
  }

  const websocket = createWebSocketHandlers({
    bridge,
    options,
    logger,
    track: (c) => connections.add(c),
    untrack: (c) => connections.delete(c),
  });

  const sweep = setInterval(() => {
    const now = clock.monotonic();
    for (const conn of connections) conn.checkKeepAlive(now);
    bridge.expireSessions();
  }, options.sweepIntervalMs);

  let closing: Promise<void> | null = null;
  return {
    host: options.host,
    port: server.port,
    tlsPort: tlsServer?.port ?? null,
    bridge,
    websocket,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        bridge.shuttingDown = true; // no wills for connections the server ends
        for (const conn of [...connections]) {
          conn.serverDisconnect(Reason.SERVER_SHUTTING_DOWN, "server shutting down");
          conn.close();
        }
        for (const srv of servers) srv.stop(true);
        await bridge.close();
      })();
      return closing;
    },
  };
}
