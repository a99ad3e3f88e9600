/**
 * A raw MQTT-over-WebSocket client on a plain TCP socket: the HTTP upgrade is
 * done by hand, so the test can stop reading the socket (pause()) and play a
 * subscriber that does not read. Client frames are masked (RFC 6455 5.3);
 * server frames are parsed and their binary payloads fed to mqtt-packet.
 */
import mqttPacket, { type Packet } from "mqtt-packet";

export interface RawWebSocket {
  /** Send one MQTT packet in one binary frame. */
  send(packet: Packet): void;
  /** Send these bytes (several packets, say) in one binary frame. */
  sendBytes(bytes: Uint8Array): void;
  /** Next parsed packet (waits up to `ms`), or null once closed. */
  next(ms?: number): Promise<Packet | null>;
  /** Every packet parsed from now on also goes here (next() no longer sees it). */
  onPacket(fn: ((p: Packet) => void) | null): void;
  pause(): void;
  resume(): void;
  end(): void;
}

export async function rawWebSocket(port: number, protocolVersion = 4): Promise<RawWebSocket> {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: Packet[] = [];
  let listener: ((p: Packet) => void) | null = null;
  let isClosed = false;
  let upgraded = false;
  let head = "";
  // Unparsed websocket bytes.
  let pending = Buffer.alloc(0);
  let resolveUpgrade!: () => void;
  let rejectUpgrade!: (err: Error) => void;
  const upgrade = new Promise<void>((resolve, reject) => {
    resolveUpgrade = resolve;
    rejectUpgrade = reject;
  });
  parser.on("packet", (p: Packet) => {
    if (listener) listener(p);
    else packets.push(p);
  });

  const frames = (): void => {
    for (;;) {
      if (pending.length < 2) return;
      const opcode = pending[0]! & 0x0f;
      let len = pending[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (pending.length < 4) return;
        len = pending.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (pending.length < 10) return;
        len = Number(pending.readBigUInt64BE(2));
        at = 10;
      }
      if (pending.length < at + len) return;
      const payload = pending.subarray(at, at + len);
      pending = pending.subarray(at + len);
      if (opcode === 2 || opcode === 0) parser.parse(Buffer.from(payload));
      else if (opcode === 8) isClosed = true;
    }
  };

  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        if (!upgraded) {
          head += Buffer.from(chunk).toString("latin1");
          const end = head.indexOf("\r\n\r\n");
          if (end < 0) return;
          if (!head.startsWith("HTTP/1.1 101")) {
            rejectUpgrade(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
            return;
          }
          upgraded = true;
          pending = Buffer.from(head.slice(end + 4), "latin1");
          resolveUpgrade();
        } else pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
        frames();
      },
      close() {
        isClosed = true;
        rejectUpgrade(new Error("closed before the upgrade"));
      },
      error() {},
    },
  });
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const request =
    `GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n`;
  const req = Buffer.from(request, "latin1");
  socket.write(req, 0, req.length);
  await upgrade;

  const sendFrame = (payload: Uint8Array): void => {
    const n = payload.length;
    const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = Buffer.alloc(header + 4 + n);
    frame[0] = 0x82; // FIN, binary
    if (n < 126) frame[1] = 0x80 | n;
    else if (n < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(n, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    frame.set(mask, header);
    for (let i = 0; i < n; i++) frame[header + 4 + i] = payload[i]! ^ mask[i & 3]!;
    let off = 0;
    while (off < frame.length) {
      const wrote = socket.write(frame, off, frame.length - off);
      if (wrote <= 0) throw new Error("raw websocket: socket full or closed (test frames are small)");
      off += wrote;
    }
  };

  return {
    send(packet) {
      sendFrame(mqttPacket.generate(packet, { protocolVersion }));
    },
    sendBytes: sendFrame,
    async next(ms = 3000) {
      const deadline = Date.now() + ms;
      while (packets.length === 0 && !isClosed) {
        if (Date.now() > deadline) throw new Error("no packet from the server");
        await Bun.sleep(5);
      }
      return packets.shift() ?? null;
    },
    onPacket(fn) {
      listener = fn;
    },
    pause() {
      socket.pause();
    },
    resume() {
      socket.resume();
    },
    end() {
      socket.end();
    },
  };
}
