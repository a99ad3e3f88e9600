/** A real broker (memory log + in-memory metadata) behind a CoAP listener on port 0, and a tiny UDP test client. */
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type CoapListener, type CoapListenerOptions, startCoapListener } from "../../bridges/coap/index.ts";
import { type CoapMessage, Code, MessageType } from "../../bridges/coap/codec/constants.ts";
import { decodeMessage } from "../../bridges/coap/codec/decode.ts";
import { encodeMessage } from "../../bridges/coap/codec/encode.ts";
import { createMemoryBroker } from "../helpers/memory-broker.ts";

export interface CoapHarness {
  broker: Broker;
  listener: CoapListener;
  close(): Promise<void>;
}

export async function createCoapHarness(
  opts: Partial<CoapListenerOptions> & { autoCreateTopics?: boolean } = {},
): Promise<CoapHarness> {
  const broker = await createMemoryBroker({ autoCreateTopics: opts.autoCreateTopics });
  const listener = await startCoapListener({
    broker,
    logger: silentLogger,
    host: "127.0.0.1",
    port: 0,
    echo: false,
    ...opts,
  });
  const h: CoapHarness = {
    broker,
    listener,
    async close() {
      await h.listener.close(); // a test may have replaced the listener (restart)
      await broker.close();
    },
  };
  return h;
}

export interface TestClient {
  port: number;
  /** Send a request (CON by default) and wait for the response with its token (piggybacked or separate). */
  request(m: Partial<CoapMessage> & { code: number }, timeoutMs?: number): Promise<CoapMessage>;
  /** Raw datagram out. */
  sendRaw(bytes: Uint8Array): void;
  /** Wait for the next received message matching `pred` (including ones already queued). */
  waitFor(pred: (m: CoapMessage) => boolean, timeoutMs?: number): Promise<CoapMessage>;
  received: CoapMessage[];
  close(): void;
}

export async function createTestClient(
  serverPort: number,
  opts: { ackCon?: boolean } = {},
): Promise<TestClient> {
  const received: CoapMessage[] = [];
  const waiters: Array<{ pred: (m: CoapMessage) => boolean; resolve: (m: CoapMessage) => void }> = [];
  let mid = 1000;
  let tokenSeq = 1;
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(s, buf, port, address) {
        let m: CoapMessage;
        try {
          m = decodeMessage(buf);
        } catch {
          return;
        }
        if (m.type === MessageType.CON && (opts.ackCon ?? true)) {
          const ack = {
            type: MessageType.ACK,
            code: Code.EMPTY,
            messageId: m.messageId,
            token: new Uint8Array(0),
            options: [],
            payload: new Uint8Array(0),
          };
          s.send(encodeMessage(ack), port, address);
        }
        received.push(m);
        for (let i = 0; i < waiters.length; i++) {
          const w = waiters[i]!;
          if (w.pred(m)) {
            waiters.splice(i, 1);
            received.splice(received.indexOf(m), 1);
            w.resolve(m);
            return;
          }
        }
      },
    },
  });
  const sendRaw = (bytes: Uint8Array) => socket.send(bytes, serverPort, "127.0.0.1");
  const waitFor = (pred: (m: CoapMessage) => boolean, timeoutMs = 3000): Promise<CoapMessage> => {
    const idx = received.findIndex(pred);
    if (idx >= 0) return Promise.resolve(received.splice(idx, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: CoapMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error("timed out waiting for a CoAP message"));
      }, timeoutMs);
      waiters.push(w);
    });
  };
  return {
    port: socket.port,
    received,
    sendRaw,
    waitFor,
    request(m, timeoutMs) {
      const token = m.token ?? Uint8Array.of(0x70, tokenSeq++ & 0xff, tokenSeq >> 8);
      const msg: CoapMessage = {
        type: m.type ?? MessageType.CON,
        code: m.code,
        messageId: m.messageId ?? mid++ & 0xffff,
        token,
        options: m.options ?? [],
        payload: m.payload ?? new Uint8Array(0),
      };
      const same = (t: Uint8Array) => t.length === token.length && t.every((b, i) => b === token[i]);
      const p = waitFor((r) => r.code !== Code.EMPTY && same(r.token), timeoutMs);
      sendRaw(encodeMessage(msg));
      return p;
    },
    close: () => socket.close(),
  };
}
