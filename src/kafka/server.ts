/**
 * The Kafka listener: a Bun TCP (optionally TLS) server whose sockets each
 * drive a KafkaConnection (connection.ts). Port 0 picks a free port; the
 * returned `port` is the real one and is what Metadata advertises unless
 * `advertisedPort` says otherwise.
 */
import os from "node:os";
import type { Socket, TCPSocketListener } from "bun";
import type { BrokerApi } from "../broker/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { KafkaConnection } from "./connection.ts";
import type { SaslSettings } from "./handlers/context.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "./protocol/frame.ts";

export interface KafkaTlsOptions {
  certFile: string;
  keyFile: string;
  /** CA bundle for client certificates (optional). */
  caFile?: string;
}

export interface KafkaListenerOptions {
  broker: BrokerApi;
  host: string;
  port: number;
  /** Host clients are told to connect to; default: `host`, or this machine's name for a wildcard address. */
  advertisedHost?: string;
  advertisedPort?: number;
  logger: Logger;
  clock: Clock;
  tls?: KafkaTlsOptions | null;
  sasl?: SaslSettings | null;
  /** Broker-level settings as Kafka-style keys, shown by DescribeConfigs for the broker resource. */
  brokerConfigs?: Readonly<Record<string, string>>;
  /** Largest request frame accepted (Kafka socket.request.max.bytes); default 100 MiB. */
  maxFrameBytes?: number;
}

export interface KafkaListener {
  readonly host: string;
  readonly port: number;
  readonly advertisedHost: string;
  readonly advertisedPort: number;
  /** Open connections. */
  connectionCount(): number;
  /** Stop accepting, close every connection (aborting long-polls). */
  close(): Promise<void>;
}

interface SocketData {
  conn: KafkaConnection | null;
}

function defaultAdvertisedHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return os.hostname();
  return host;
}

export async function startKafkaListener(opts: KafkaListenerOptions): Promise<KafkaListener> {
  const logger = opts.logger;
  const connections = new Set<KafkaConnection>();
  let nextId = 1;
  let advertisedPort = opts.advertisedPort ?? opts.port;
  const advertisedHost = opts.advertisedHost || defaultAdvertisedHost(opts.host);
  const sasl = opts.sasl && (opts.sasl.users.size > 0 || opts.sasl.verifyPlain) ? opts.sasl : null;

  const tls = opts.tls
    ? {
        cert: Bun.file(opts.tls.certFile),
        key: Bun.file(opts.tls.keyFile),
        ...(opts.tls.caFile ? { ca: Bun.file(opts.tls.caFile) } : {}),
      }
    : undefined;

  const listener: TCPSocketListener<SocketData> = Bun.listen<SocketData>({
    hostname: opts.host,
    port: opts.port,
    ...(tls ? { tls } : {}),
    socket: {
      open(socket: Socket<SocketData>) {
        const id = nextId++;
        socket.setNoDelay(true);
        const conn = new KafkaConnection(
          {
            broker: opts.broker,
            logger: logger.child({ conn: id, remote: socket.remoteAddress }),
            clock: opts.clock,
            sasl,
            advertisedHost,
            advertisedPort,
            maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_SIZE,
            brokerConfigs: opts.brokerConfigs ?? {},
          },
          {
            write: (data, offset, length) => socket.write(data, offset, length),
            end: () => socket.end(),
            pause: () => socket.pause(),
            resume: () => socket.resume(),
          },
          { id, remoteAddress: socket.remoteAddress },
        );
        socket.data = { conn };
        connections.add(conn);
      },
      data(socket, chunk) {
        socket.data.conn?.onData(chunk);
      },
      drain(socket) {
        socket.data.conn?.onDrain();
      },
      close(socket) {
        const conn = socket.data.conn;
        if (conn === null) return;
        conn.onClose();
        connections.delete(conn);
        socket.data.conn = null;
      },
      error(socket, err) {
        logger.debug("kafka: socket error", { error: err.message });
        const conn = socket.data.conn;
        if (conn !== null) {
          conn.onClose();
          connections.delete(conn);
          socket.data.conn = null;
        }
      },
    },
    data: { conn: null },
  });
  const port = listener.port;
  if (opts.advertisedPort === undefined) advertisedPort = port;
  logger.info("kafka listener started", {
    host: opts.host,
    port,
    advertisedHost,
    advertisedPort,
    tls: !!tls,
  });

  return {
    host: opts.host,
    port,
    advertisedHost,
    get advertisedPort() {
      return advertisedPort;
    },
    connectionCount: () => connections.size,
    async close() {
      listener.stop(true);
      for (const conn of connections) conn.close();
      connections.clear();
    },
  };
}
