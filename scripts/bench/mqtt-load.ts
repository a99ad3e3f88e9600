/**
 * The MQTT benchmark's load generator: raw Bun TCP sockets, MQTT 3.1.1 packets
 * encoded once and patched in place (packet id, sequence number), and a frame
 * scanner that only looks at what the benchmark needs (packet type, PUBLISH
 * packet id and payload head), so that the generator is not the bottleneck.
 */
import type { Socket } from "bun";

const enc = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): number[] {
  const b = enc.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

function packet(first: number, body: number[]): Uint8Array {
  return new Uint8Array([first, ...varint(body.length), ...body]);
}

export function connectPacket(clientId: string, keepAlive = 0): Uint8Array {
  return packet(0x10, [...str("MQTT"), 4, 0x02, keepAlive >> 8, keepAlive & 0xff, ...str(clientId)]);
}

export function subscribePacket(filter: string, qos: number): Uint8Array {
  return packet(0x82, [0, 1, ...str(filter), qos]);
}

/** A PUBLISH with a `size`-byte payload; packet id (QoS > 0) at `idAt`, payload at `payloadAt`. */
export function publishTemplate(
  topic: string,
  qos: 0 | 1,
  size: number,
): { bytes: Uint8Array; idAt: number; payloadAt: number } {
  const t = str(topic);
  const body = [...t, ...(qos > 0 ? [0, 0] : []), ...new Array<number>(size).fill(0x61)];
  const bytes = packet(0x30 | (qos << 1), body);
  const header = bytes.length - body.length;
  return { bytes, idAt: header + t.length, payloadAt: header + t.length + (qos > 0 ? 2 : 0) };
}

export interface Frame {
  type: number;
  qos: number;
  /** PUBLISH (QoS > 0) or ack packet id, else 0. */
  id: number;
  /** PUBLISH: offset of the payload in `buf`. */
  payloadAt: number;
  buf: Uint8Array;
}

export interface LoadHandlers {
  /** Called for every complete packet. The frame object is reused: copy what you keep. */
  frame?(f: Frame, client: LoadClient): void;
  drain?(client: LoadClient): void;
}

/** One raw connection with an outbound queue (Bun sockets buffer nothing). */
export class LoadClient {
  socket!: Socket<LoadClient>;
  private tail: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array[] = [];
  private rest: Uint8Array | null = null;
  private readonly f: Frame = { type: 0, qos: 0, id: 0, payloadAt: 0, buf: new Uint8Array(0) };
  closed = false;
  connacked!: Promise<void>;
  private onConnack!: () => void;

  constructor(readonly handlers: LoadHandlers) {
    this.connacked = new Promise((r) => {
      this.onConnack = r;
    });
  }

  static async open(port: number, clientId: string, handlers: LoadHandlers = {}): Promise<LoadClient> {
    const c = new LoadClient(handlers);
    c.socket = await Bun.connect<LoadClient>({
      hostname: "127.0.0.1",
      port,
      data: c,
      socket: {
        data: (s, chunk) => s.data.onData(chunk),
        drain: (s) => s.data.flush(),
        close: (s) => {
          s.data.closed = true;
        },
        error: () => {},
      },
    });
    c.socket.setNoDelay(true);
    c.write(connectPacket(clientId));
    await c.connacked;
    return c;
  }

  /** True when everything queued went to the kernel. */
  get idle(): boolean {
    return this.tail.length === 0 && this.pending.length === 0;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    if (!this.idle) {
      this.pending.push(bytes);
      return;
    }
    const n = this.socket.write(bytes, 0, bytes.length);
    if (n < bytes.length) this.tail = bytes.subarray(Math.max(n, 0));
  }

  flush(): void {
    while (!this.closed) {
      if (this.tail.length === 0) {
        const next = this.pending.shift();
        if (!next) break;
        this.tail = next;
      }
      const n = this.socket.write(this.tail, 0, this.tail.length);
      if (n < this.tail.length) {
        this.tail = this.tail.subarray(Math.max(n, 0));
        return;
      }
      this.tail = new Uint8Array(0);
    }
    if (this.idle) this.handlers.drain?.(this);
  }

  end(): void {
    this.closed = true;
    this.socket.end();
  }

  private onData(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.rest) {
      buf = new Uint8Array(this.rest.length + chunk.length);
      buf.set(this.rest, 0);
      buf.set(chunk, this.rest.length);
      this.rest = null;
    }
    const f = this.f;
    f.buf = buf;
    let pos = 0;
    while (pos < buf.length) {
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      let done = false;
      for (; i < buf.length && i < pos + 5; i++) {
        len += (buf[i]! & 0x7f) * mul;
        mul *= 128;
        if ((buf[i]! & 0x80) === 0) {
          done = true;
          i++;
          break;
        }
      }
      if (!done || i + len > buf.length) break;
      const b0 = buf[pos]!;
      f.type = b0 >> 4;
      f.qos = (b0 >> 1) & 3;
      f.id = 0;
      f.payloadAt = 0;
      if (f.type === 3) {
        const tl = (buf[i]! << 8) | buf[i + 1]!;
        let p = i + 2 + tl;
        if (f.qos > 0) {
          f.id = (buf[p]! << 8) | buf[p + 1]!;
          p += 2;
        }
        f.payloadAt = p;
      } else if (f.type >= 4 && f.type <= 7) {
        f.id = (buf[i]! << 8) | buf[i + 1]!;
      } else if (f.type === 2) {
        this.onConnack();
      }
      this.handlers.frame?.(f, this);
      pos = i + len;
    }
    if (pos < buf.length) this.rest = buf.slice(pos);
  }
}

/** PUBACK bytes for packet ids, written as one buffer. */
export function pubacks(ids: number[]): Uint8Array {
  const out = new Uint8Array(ids.length * 4);
  ids.forEach((id, k) => {
    out[k * 4] = 0x40;
    out[k * 4 + 1] = 2;
    out[k * 4 + 2] = id >> 8;
    out[k * 4 + 3] = id & 0xff;
  });
  return out;
}

/** `count` copies of a template in one buffer, packet ids patched from `firstId` (1..65535, wrapping). */
export function repeatPublish(
  tpl: { bytes: Uint8Array; idAt: number },
  count: number,
  firstId: number,
  qos: 0 | 1,
): Uint8Array {
  const size = tpl.bytes.length;
  const out = new Uint8Array(size * count);
  let id = firstId;
  for (let k = 0; k < count; k++) {
    out.set(tpl.bytes, k * size);
    if (qos > 0) {
      out[k * size + tpl.idAt] = id >> 8;
      out[k * size + tpl.idAt + 1] = id & 0xff;
      id = id === 65535 ? 1 : id + 1;
    }
  }
  return out;
}
