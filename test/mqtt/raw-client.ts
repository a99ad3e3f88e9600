/** A raw TCP MQTT client for tests that need exact bytes: send packets or bytes, read parsed packets, see the close. */
import mqttPacket, { type Packet } from "mqtt-packet";

export interface RawClient {
  send(packet: Packet): void;
  sendBytes(bytes: Uint8Array | number[]): void;
  /** Next parsed packet, or null once the server closed the connection. */
  next(ms?: number): Promise<Packet | null>;
  /** Resolves when the server closed the socket. */
  closed: Promise<void>;
  end(): void;
  /** Stop / restart reading from the socket (to play a slow client). */
  pause(): void;
  resume(): void;
  /** Packets parsed so far and not yet taken by next(). */
  readonly buffered: number;
}

export async function rawConnect(port: number, protocolVersion = 4): Promise<RawClient> {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: Packet[] = [];
  let waiter: (() => void) | null = null;
  let isClosed = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  parser.on("packet", (p: Packet) => {
    packets.push(p);
    waiter?.();
  });
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        parser.parse(Buffer.from(chunk));
      },
      close() {
        isClosed = true;
        resolveClosed();
        waiter?.();
      },
      error() {},
    },
  });
  return {
    send(packet) {
      const bytes = mqttPacket.generate(packet, { protocolVersion });
      socket.write(bytes, 0, bytes.length);
    },
    sendBytes(bytes) {
      const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      socket.write(b, 0, b.length);
    },
    async next(ms = 3000) {
      const deadline = Date.now() + ms;
      while (packets.length === 0 && !isClosed) {
        if (Date.now() > deadline) throw new Error("no packet from the server");
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, 20);
        });
      }
      return packets.shift() ?? null;
    },
    closed,
    end() {
      socket.end();
    },
    pause() {
      socket.pause();
    },
    resume() {
      socket.resume();
    },
    get buffered() {
      return packets.length;
    },
  };
}
