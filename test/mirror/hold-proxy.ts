/**
 * A Kafka-aware TCP proxy for the stall tests: it passes everything through
 * until armed, then catches the next Produce request (API key 0) and holds,
 * on that one connection only:
 *
 * - "response": the request goes on to central (which appends it), and every
 *   byte central sends back on that connection is held — the answer is lost
 *   in the network while the records are already there;
 * - "request": the request itself (and whatever follows it on that
 *   connection) is held — it reaches central only on release(), after the
 *   client gave up on it (a late, "zombie" produce).
 *
 * Other connections (the link's reader, the next producer) are untouched.
 * release() delivers what was held: requests reach central even when the
 * client closed its side meanwhile (like bytes already in the network);
 * responses reach the client only if it is still connected.
 *
 * Central must advertise the proxy's port, or clients bypass it after bootstrap.
 */
import type { Socket, TCPSocketListener } from "bun";

export type HoldMode = "response" | "request";

interface Pipe {
  client: Socket<Ref>;
  server: Socket<Ref> | null;
  up: Uint8Array[];
  down: Uint8Array[];
  holdUp: boolean;
  holdDown: boolean;
  clientClosed: boolean;
  closed: boolean;
  /** Request-frame parsing (client → server): bytes left of the current frame, header bytes seen. */
  skip: number;
  header: number[];
}

interface Ref {
  pipe: Pipe | null;
}

export interface HoldProxy {
  readonly port: number;
  setTarget(port: number): void;
  /** Catch the next Produce request (on whichever connection carries it). */
  arm(mode: HoldMode): void;
  /** A Produce request was caught and is being held. */
  readonly caught: boolean;
  /** Deliver everything held and stop holding. */
  release(): void;
  close(): Promise<void>;
}

const PRODUCE = 0;

export async function startHoldProxy(opts: { targetPort?: number } = {}): Promise<HoldProxy> {
  let target = opts.targetPort ?? 0;
  let armed: HoldMode | null = null;
  let caught = false;
  const pipes = new Set<Pipe>();

  const flush = (p: Pipe): void => {
    if (p.closed) return;
    if (!p.holdUp && p.server !== null) drain(p.up, p.server);
    if (!p.holdDown && !p.clientClosed) drain(p.down, p.client);
    if (p.clientClosed && !p.holdUp && p.up.length === 0) drop(p);
  };

  const drop = (p: Pipe): void => {
    if (p.closed) return;
    p.closed = true;
    pipes.delete(p);
    for (const s of [p.client, p.server]) {
      if (s === null) continue;
      s.data.pipe = null;
      s.end();
    }
  };

  /**
   * Queue client bytes, following request frames (size, then API key). At a
   * caught Produce request in "request" mode, what came before goes on and
   * the frame and everything after it are held (if the frame's first bytes
   * already went through, the server just waits for the rest).
   */
  const fromClient = (p: Pipe, bytes: Uint8Array): void => {
    let holdFrom = -1;
    let i = 0;
    while (i < bytes.length) {
      if (p.skip > 0) {
        const n = Math.min(p.skip, bytes.length - i);
        p.skip -= n;
        i += n;
        continue;
      }
      const frameStart = i - p.header.length;
      while (p.header.length < 6 && i < bytes.length) p.header.push(bytes[i++]!);
      if (p.header.length < 6) break;
      const h = p.header;
      const size = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
      const apiKey = (h[4]! << 8) | h[5]!;
      p.header = [];
      p.skip = size + 4 - 6;
      if (armed === null || apiKey !== PRODUCE || holdFrom >= 0) continue;
      caught = true;
      if (armed === "response") p.holdDown = true;
      else holdFrom = Math.max(0, frameStart);
      armed = null;
    }
    if (holdFrom < 0) {
      p.up.push(bytes);
      return;
    }
    p.up.push(bytes.subarray(0, holdFrom));
    flush(p);
    p.holdUp = true;
    p.up.push(bytes.subarray(holdFrom));
  };

  const connectUpstream = async (p: Pipe): Promise<void> => {
    try {
      const server = await Bun.connect<Ref>({
        hostname: "127.0.0.1",
        port: target,
        data: { pipe: p },
        socket: {
          data(s, chunk) {
            const pipe = s.data.pipe;
            if (pipe === null) return;
            pipe.down.push(new Uint8Array(chunk).slice());
            flush(pipe);
          },
          drain(s) {
            if (s.data.pipe) flush(s.data.pipe);
          },
          close(s) {
            if (s.data.pipe) drop(s.data.pipe);
          },
          error(s) {
            if (s.data.pipe) drop(s.data.pipe);
          },
        },
      });
      if (p.closed) {
        server.end();
        return;
      }
      p.server = server;
      flush(p);
    } catch {
      drop(p);
    }
  };

  const listener: TCPSocketListener<Ref> = Bun.listen<Ref>({
    hostname: "127.0.0.1",
    port: 0,
    data: { pipe: null },
    socket: {
      open(client) {
        const p: Pipe = {
          client,
          server: null,
          up: [],
          down: [],
          holdUp: false,
          holdDown: false,
          clientClosed: false,
          closed: false,
          skip: 0,
          header: [],
        };
        client.data = { pipe: p };
        pipes.add(p);
        void connectUpstream(p);
      },
      data(client, chunk) {
        const p = client.data.pipe;
        if (p === null) return;
        fromClient(p, new Uint8Array(chunk).slice());
        flush(p);
      },
      drain(client) {
        if (client.data.pipe) flush(client.data.pipe);
      },
      close(client) {
        const p = client.data.pipe;
        if (p === null) return;
        p.clientClosed = true;
        p.down.length = 0;
        flush(p);
      },
      error(client) {
        const p = client.data.pipe;
        if (p === null) return;
        p.clientClosed = true;
        flush(p);
      },
    },
  });
  return {
    port: listener.port,
    setTarget(port) {
      target = port;
    },
    arm(mode) {
      armed = mode;
      caught = false;
    },
    get caught() {
      return caught;
    },
    release() {
      armed = null;
      for (const p of [...pipes]) {
        p.holdUp = false;
        p.holdDown = false;
        flush(p);
      }
    },
    async close() {
      for (const p of [...pipes]) drop(p);
      listener.stop(true);
    },
  };
}

function drain(queue: Uint8Array[], socket: Socket<Ref>): void {
  while (queue.length > 0) {
    const head = queue[0]!;
    if (head.length === 0) {
      queue.shift();
      continue;
    }
    const n = socket.write(head);
    if (n < 0) return;
    if (n < head.length) {
      queue[0] = head.subarray(n);
      return;
    }
    queue.shift();
  }
}
