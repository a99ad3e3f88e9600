/**
 * A TCP fault proxy for tests: sits in front of one TCP server (the central
 * cluster in the mirror tests; one directed peer link in the cluster tests,
 * see peer-links.ts) and breaks the link on command.
 *
 * - cut():    close every connection (FIN) — an orderly disconnect;
 * - reset():  abort every connection (RST, SO_LINGER 0);
 * - stall():  stop moving bytes both ways; connections stay open and what
 *             arrives is held (and new connections are held too) until
 *             resume() delivers it — a black-holing router;
 * - cutAfter(n): let `n` more bytes of responses through, then drop every
 *             connection in the middle of whatever frame was passing;
 * - refuse(true): accept and immediately reset new connections.
 *
 * When proxying a Kafka server, the server must advertise the proxy's
 * address (Metadata), or clients bypass the proxy after bootstrap.
 */
import type { Socket, TCPSocketListener } from "bun";

interface Pipe {
  client: Socket<PipeRef>;
  server: Socket<PipeRef> | null;
  /** client → server bytes waiting (not connected yet, stalled, or backpressure). */
  up: Uint8Array[];
  /** server → client. */
  down: Uint8Array[];
  closed: boolean;
  clientEnded: boolean;
}

interface PipeRef {
  pipe: Pipe | null;
}

export interface FaultProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  setTarget(port: number): void;
  cut(): void;
  reset(): void;
  stall(): void;
  resume(): void;
  cutAfter(bytes: number): void;
  refuse(on: boolean): void;
  close(): Promise<void>;
}

export async function startFaultProxy(opts: { targetPort?: number } = {}): Promise<FaultProxy> {
  let target = opts.targetPort ?? 0;
  let stalled = false;
  let refusing = false;
  let cutBudget: number | null = null;
  let accepted = 0;
  const pipes = new Set<Pipe>();

  const flush = (p: Pipe): void => {
    if (stalled || p.closed) return;
    if (p.server !== null) drainQueue(p.up, p.server);
    drainQueue(p.down, p.client);
    if (p.clientEnded && p.up.length === 0 && p.server !== null) p.server.end();
  };

  const drop = (p: Pipe, how: "end" | "terminate"): void => {
    if (p.closed) return;
    p.closed = true;
    pipes.delete(p);
    p.up.length = 0;
    p.down.length = 0;
    for (const s of [p.client, p.server]) {
      if (s === null) continue;
      s.data.pipe = null;
      if (how === "terminate") s.terminate();
      else s.end();
    }
  };

  const connectUpstream = async (p: Pipe): Promise<void> => {
    try {
      const server = await Bun.connect<PipeRef>({
        hostname: "127.0.0.1",
        port: target,
        data: { pipe: p },
        socket: {
          data(s, chunk) {
            const pipe = s.data.pipe;
            if (pipe === null) return;
            let bytes = new Uint8Array(chunk);
            if (cutBudget !== null) {
              if (bytes.length >= cutBudget) {
                const part = bytes.subarray(0, cutBudget);
                cutBudget = null;
                pipe.down.push(part.slice());
                flush(pipe);
                for (const other of [...pipes]) drop(other, "terminate");
                return;
              }
              cutBudget -= bytes.length;
            }
            bytes = bytes.slice();
            pipe.down.push(bytes);
            flush(pipe);
          },
          drain(s) {
            if (s.data.pipe) flush(s.data.pipe);
          },
          close(s) {
            if (s.data.pipe) drop(s.data.pipe, "end");
          },
          error(s) {
            if (s.data.pipe) drop(s.data.pipe, "terminate");
          },
        },
      });
      if (p.closed) {
        server.terminate();
        return;
      }
      p.server = server;
      flush(p);
    } catch {
      drop(p, "terminate");
    }
  };

  const listener: TCPSocketListener<PipeRef> = Bun.listen<PipeRef>({
    hostname: "127.0.0.1",
    port: 0,
    data: { pipe: null },
    socket: {
      open(client) {
        accepted++;
        if (refusing) {
          client.terminate();
          return;
        }
        const p: Pipe = { client, server: null, up: [], down: [], closed: false, clientEnded: false };
        client.data = { pipe: p };
        pipes.add(p);
        void connectUpstream(p);
      },
      data(client, chunk) {
        const p = client.data.pipe;
        if (p === null) return;
        p.up.push(new Uint8Array(chunk).slice());
        flush(p);
      },
      drain(client) {
        if (client.data.pipe) flush(client.data.pipe);
      },
      close(client) {
        const p = client.data.pipe;
        if (p === null) return;
        // Like TCP: bytes the client sent before closing still reach the server (also after a stall).
        p.clientEnded = true;
        if (p.up.length === 0 && !stalled) drop(p, "end");
        else flush(p);
      },
      error(client) {
        if (client.data.pipe) drop(client.data.pipe, "terminate");
      },
    },
  });

  return {
    port: listener.port,
    get accepted() {
      return accepted;
    },
    setTarget(port) {
      target = port;
    },
    cut() {
      for (const p of [...pipes]) drop(p, "end");
    },
    reset() {
      for (const p of [...pipes]) drop(p, "terminate");
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const p of [...pipes]) flush(p);
    },
    cutAfter(bytes) {
      cutBudget = bytes;
    },
    refuse(on) {
      refusing = on;
    },
    async close() {
      for (const p of [...pipes]) drop(p, "terminate");
      listener.stop(true);
    },
  };
}

function drainQueue(queue: Uint8Array[], socket: Socket<PipeRef>): void {
  while (queue.length > 0) {
    const head = queue[0]!;
    const n = socket.write(head);
    if (n < 0) return;
    if (n < head.length) {
      queue[0] = head.subarray(n);
      return;
    }
    queue.shift();
  }
}
