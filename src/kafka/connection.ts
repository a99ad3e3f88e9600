/**
 * One Kafka client connection (transport-agnostic: server.ts adapts a Bun
 * socket to `Transport`).
 *
 * - Frames are cut by FrameDecoder; each becomes a slot in an ordered queue.
 *   Requests start in arrival order; a request waits for the previous one to
 *   finish unless that one's handler is `pipelined` (long waits: Fetch,
 *   JoinGroup, ...) or `releasesEarly` (Produce: the next request starts once
 *   this one's batches are in the log, so pipelined produce requests share
 *   fsyncs and still append in order). Responses leave strictly in request
 *   order whatever order the handlers finish in.
 * - Produce with acks=0 (handler returns null) gets no response.
 * - A version outside the advertised range gets UNSUPPORTED_VERSION (for
 *   ApiVersions: error 35 with the supported list, encoded at v0, as Kafka
 *   does); an API key with no handler, a malformed frame or an unanswerable
 *   failure closes the connection with a log line.
 * - Writes: Bun's socket.write buffers nothing, so responses wait in our own
 *   queue (small chunks coalesced) until `drain`; reading pauses while too
 *   many requests are in flight or too many response bytes wait.
 * - close aborts `ctx.signal`, ending pending long-polls.
 */
import type { BrokerApi } from "../broker/index.ts";
import { isEddyError } from "../broker/index.ts";
import type { Logger } from "../observability/logger.ts";
import type { Clock } from "../util/clock.ts";
import { ApiVersions, SaslAuthenticate } from "./generated/index.ts";
import type { SaslAuthenticateResponse } from "./generated/sasl-authenticate-response.ts";
import { apiVersionsResponse } from "./handlers/api-versions.ts";
import {
  type AdvertisedApi,
  type AnyHandler,
  type ConnectionState,
  type HandlerContext,
  KafkaError,
  kafkaErrorCode,
  type SaslSettings,
} from "./handlers/context.ts";
import { ADVERTISED_APIS, HANDLER_BY_KEY } from "./handlers/index.ts";
import { FrameDecoder } from "./protocol/frame.ts";
import type { RequestHeader } from "./protocol/headers.ts";
import { encodeResponse, type IncomingRequest, readRequest } from "./protocol/messages.ts";

/** What the connection needs from a socket. */
export interface Transport {
  /** Bytes written (may be short), 0 when the kernel buffer is full, -1 when closed. */
  write(data: Uint8Array, offset: number, length: number): number;
  /** Close the socket (after nothing more needs writing). */
  end(): void;
  pause(): void;
  resume(): void;
}

export interface ConnectionDeps {
  broker: BrokerApi;
  logger: Logger;
  clock: Clock;
  sasl: SaslSettings | null;
  advertisedHost: string;
  advertisedPort: number;
  maxFrameBytes: number;
  /** Broker-level settings as Kafka-style keys (DescribeConfigs on the broker resource). */
  brokerConfigs?: Readonly<Record<string, string>>;
  /** Defaults to the registry (handlers/index.ts). */
  handlers?: ReadonlyMap<number, AnyHandler>;
  apiVersions?: readonly AdvertisedApi[];
}

/** Requests allowed on the SASL path before authentication. */
const SASL_OPEN_KEYS = new Set([18, 17, 36]);
const MAX_IN_FLIGHT = 128;
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
const COALESCE_BYTES = 64 * 1024;
/**
 * Frames at least this large that span socket chunks are assembled in pooled
 * buffers, reused once a `reusableFrame` handler (Produce) is done with them:
 * fresh multi-megabyte buffers cost page faults and zeroing on every request.
 */
const POOL_MIN_FRAME = 64 * 1024;
const POOL_MAX_FRAME = 4 * 1024 * 1024;
/** Idle pooled memory kept per connection (a producer with 1 MB requests and 4 in flight). */
const POOL_MAX_IDLE_BYTES = 4 * 1024 * 1024;

interface Slot {
  done: boolean;
  /** Response chunks; null = no response. */
  chunks: Uint8Array[] | null;
}

export class KafkaConnection {
  readonly state: ConnectionState;
  private readonly decoder: FrameDecoder;
  private readonly abort = new AbortController();
  private readonly handlers: ReadonlyMap<number, AnyHandler>;
  private readonly ctx: HandlerContext;
  private readonly slots: Slot[] = [];
  /** Serial execution chain (see header). */
  private chain: Promise<void> = Promise.resolve();
  private readonly out: Uint8Array[] = [];
  private outOffset = 0;
  private outBytes = 0;
  private paused = false;
  private closed = false;
  /** Idle frame buffers (whole ArrayBuffers), and every buffer the pool handed out. */
  private readonly framePool: ArrayBuffer[] = [];
  private readonly pooledBuffers = new WeakSet<ArrayBuffer>();

  constructor(
    private readonly deps: ConnectionDeps,
    private readonly transport: Transport,
    info: { id: number; remoteAddress: string },
  ) {
    this.decoder = new FrameDecoder({
      maxFrameSize: deps.maxFrameBytes,
      allocate: (size) => this.frameBuffer(size),
    });
    this.handlers = deps.handlers ?? HANDLER_BY_KEY;
    this.state = {
      id: info.id,
      remoteAddress: info.remoteAddress,
      clientId: null,
      clientSoftwareName: null,
      clientSoftwareVersion: null,
      saslMechanism: null,
      saslExchange: null,
      saslRawTokens: false,
      principal: null,
      signal: this.abort.signal,
    };
    this.ctx = {
      broker: deps.broker,
      nodeId: deps.broker.nodeId,
      clusterId: deps.broker.clusterId,
      advertisedHost: deps.advertisedHost,
      advertisedPort: deps.advertisedPort,
      clock: deps.clock,
      logger: deps.logger,
      sasl: deps.sasl,
      connection: this.state,
      signal: this.abort.signal,
      brokerConfigs: deps.brokerConfigs ?? {},
      apiVersions: deps.apiVersions ?? ADVERTISED_APIS,
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests received and not yet answered, plus response bytes waiting for the socket. */
  get backlog(): { requests: number; bytes: number } {
    return { requests: this.slots.length, bytes: this.outBytes };
  }

  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    let frames: Uint8Array[];
    try {
      // Frames are views of the chunk and outlive this call (pipelining). Bun hands
      // every data callback a fresh buffer that it never reuses (checked by
      // test/kafka/socket-chunks.test.ts), so the views stay valid without a copy.
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail("bad frame", err);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.accept(frame);
    }
    this.updateFlow();
  }

  onDrain(): void {
    this.flush();
  }

  /** The socket closed (either side): abort pending work, drop queued output. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.out.length = 0;
    this.outBytes = 0;
    this.slots.length = 0;
    this.framePool.length = 0;
  }

  /** Close from our side. */
  close(): void {
    if (this.closed) return;
    this.onClose();
    this.transport.end();
  }

  private fail(what: string, err: unknown, fields: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.deps.logger.warn(`kafka: closing connection: ${what}`, {
      ...fields,
      error: err instanceof Error ? err.message : String(err),
      clientId: this.state.clientId,
    });
    this.close();
  }

  private accept(frame: Uint8Array): void {
    if (this.state.saslRawTokens) {
      this.acceptSaslToken(frame);
      return;
    }
    let req: IncomingRequest;
    try {
      req = readRequest(frame);
    } catch (err) {
      this.fail("malformed request header", err);
      return;
    }
    const { header } = req;
    if (header.clientId !== null) this.state.clientId = header.clientId;
    const handler = this.handlers.get(header.apiKey);
    if (req.api === undefined || handler === undefined) {
      // Kafka closes the connection too; the log line names what was refused.
      const name = req.api?.name ?? "unknown to Kafka";
      this.fail(
        "unsupported API key",
        `API key ${header.apiKey} (${name}) v${header.apiVersion} is not served by Eddy; ApiVersions lists the APIs it serves`,
        { apiKey: header.apiKey, apiVersion: header.apiVersion, api: req.api?.name ?? null },
      );
      return;
    }
    const slot: Slot = { done: false, chunks: null };
    this.slots.push(slot);
    const run = async (release?: () => void): Promise<void> => {
      if (this.closed) {
        release?.();
        return;
      }
      try {
        const chunks = await this.process(handler, req, release);
        if (handler.reusableFrame === true) this.recycleFrame(frame);
        if (chunks === undefined) return; // the connection was closed instead
        slot.chunks = chunks;
        slot.done = true;
        this.pump();
      } catch (err) {
        this.fail("internal error", err);
      } finally {
        release?.();
      }
    };
    if (handler.pipelined === true) {
      this.chain = this.chain.then(() => {
        void run();
      });
    } else if (handler.releasesEarly === true) {
      // The next request starts at release(), or when this one ends.
      this.chain = this.chain.then(
        () =>
          new Promise<void>((release) => {
            void run(release);
          }),
      );
    } else {
      this.chain = this.chain.then(() => run());
    }
  }

  /** SaslHandshake v0 mode: a bare token in, a bare token (size-prefixed) out; failure closes. */
  private acceptSaslToken(frame: Uint8Array): void {
    const handler = this.handlers.get(SaslAuthenticate.apiKey);
    const slot: Slot = { done: false, chunks: null };
    this.slots.push(slot);
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        if (handler === undefined) throw new Error("no SaslAuthenticate handler");
        const header = { apiKey: SaslAuthenticate.apiKey, apiVersion: 0, correlationId: 0, clientId: null };
        const res = (await handler.handle(this.ctx, header, {
          authBytes: frame,
        })) as SaslAuthenticateResponse;
        if (res.errorCode !== KafkaError.NONE) {
          this.fail("SASL authentication failed", res.errorMessage ?? `error ${res.errorCode}`);
          return;
        }
        if (this.state.principal !== null) this.state.saslRawTokens = false;
        const size = new Uint8Array(4);
        new DataView(size.buffer).setInt32(0, res.authBytes.length);
        slot.chunks = [size, res.authBytes];
        slot.done = true;
        this.pump();
      } catch (err) {
        this.fail("SASL token failed", err);
      }
    });
  }

  /** Response chunks, null for none, undefined when the connection was closed instead. */
  private async process(
    handler: AnyHandler,
    req: IncomingRequest,
    release?: () => void,
  ): Promise<Uint8Array[] | null | undefined> {
    const { header } = req;
    const v = header.apiVersion;
    const api = handler.api;
    const inCodec = v >= api.minVersion && v <= api.maxVersion;
    const advertised = v >= handler.minVersion && v <= handler.maxVersion;
    if (!advertised && api.apiKey === ApiVersions.apiKey) {
      const body = apiVersionsResponse(KafkaError.UNSUPPORTED_VERSION, this.ctx.apiVersions);
      return encodeResponse(ApiVersions, { apiVersion: 0, correlationId: header.correlationId }, body);
    }
    let body: unknown;
    try {
      body = inCodec ? api.decodeRequest(req.reader, v) : undefined;
    } catch (err) {
      this.fail("malformed request body", err, { api: api.name, apiVersion: v });
      return undefined;
    }
    if (!advertised || body === undefined) {
      return this.refuse(handler, header, body, KafkaError.UNSUPPORTED_VERSION, "unsupported version");
    }
    if (this.deps.sasl !== null && this.state.principal === null && !SASL_OPEN_KEYS.has(api.apiKey)) {
      return this.refuse(handler, header, body, KafkaError.SASL_AUTHENTICATION_FAILED, "not authenticated");
    }
    let response: unknown;
    try {
      response = await handler.handle(this.ctx, header, body, release);
    } catch (err) {
      if (this.closed) return undefined;
      const code = kafkaErrorCode(err);
      if (!isEddyError(err) || code === -1) {
        this.deps.logger.error("kafka: request failed", {
          api: api.name,
          apiVersion: v,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        });
      }
      return this.refuse(handler, header, body, code, "request failed", err);
    }
    if (this.closed) return undefined;
    if (response === null) return null;
    try {
      return encodeResponse(api, header, response);
    } catch (err) {
      this.deps.logger.error("kafka: cannot encode response", {
        api: api.name,
        apiVersion: v,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
      this.fail("cannot encode response", err);
      return undefined;
    }
  }

  /** Answer with the handler's error response, or close the connection when it has none. */
  private refuse(
    handler: AnyHandler,
    header: RequestHeader,
    body: unknown,
    code: number,
    reason: string,
    err?: unknown,
  ): Uint8Array[] | undefined {
    const api = handler.api;
    const v = header.apiVersion;
    const inCodec = v >= api.minVersion && v <= api.maxVersion;
    if (handler.errorResponse !== undefined && body !== undefined && inCodec) {
      try {
        return encodeResponse(api, header, handler.errorResponse(body, code, header));
      } catch (encodeErr) {
        this.fail(`${reason}; cannot encode the error response`, encodeErr, { api: api.name, apiVersion: v });
        return undefined;
      }
    }
    this.fail(reason, err ?? `${api.name} v${v} (advertised ${handler.minVersion}-${handler.maxVersion})`, {
      api: api.name,
      apiVersion: v,
      errorCode: code,
    });
    return undefined;
  }

  /** A buffer of exactly `size` bytes for a frame that spans socket chunks (contents undefined). */
  private frameBuffer(size: number): Uint8Array {
    if (size < POOL_MIN_FRAME || size > POOL_MAX_FRAME) return new Uint8Array(size);
    const pool = this.framePool;
    for (let i = pool.length - 1; i >= 0; i--) {
      const buf = pool[i]!;
      if (buf.byteLength >= size) {
        pool.splice(i, 1);
        return new Uint8Array(buf, 0, size);
      }
    }
    // Round up so that a buffer fits the next, slightly larger request too.
    const buf = new ArrayBuffer(Math.min(POOL_MAX_FRAME, 2 ** Math.ceil(Math.log2(size))));
    this.pooledBuffers.add(buf);
    return new Uint8Array(buf, 0, size);
  }

  /** Return a pooled frame's buffer (only frames assembled by frameBuffer: never a view of a socket chunk). */
  private recycleFrame(frame: Uint8Array): void {
    const buf = frame.buffer as ArrayBuffer;
    if (this.closed || !this.pooledBuffers.has(buf) || this.framePool.includes(buf)) return;
    let idle = buf.byteLength;
    for (const b of this.framePool) idle += b.byteLength;
    if (idle > POOL_MAX_IDLE_BYTES) return;
    this.framePool.push(buf);
  }

  /** Move finished responses, in order, from the slot queue to the write queue. */
  private pump(): void {
    if (this.closed) return;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const slot = this.slots.shift()!;
      if (slot.chunks === null) continue;
      for (const c of slot.chunks) {
        if (c.length === 0) continue;
        this.out.push(c);
        this.outBytes += c.length;
      }
    }
    this.flush();
  }

  private flush(): void {
    while (!this.closed && this.out.length > 0) {
      let buf = this.out[0]!;
      let offset = this.outOffset;
      // Coalesce small chunks into one write.
      if (offset === 0 && buf.length < COALESCE_BYTES && this.out.length > 1) {
        let n = 0;
        let total = 0;
        while (n < this.out.length && total + this.out[n]!.length <= COALESCE_BYTES) {
          total += this.out[n]!.length;
          n++;
        }
        if (n > 1) {
          const merged = new Uint8Array(total);
          let at = 0;
          for (const c of this.out.splice(0, n, merged)) {
            merged.set(c, at);
            at += c.length;
          }
          buf = merged;
          offset = 0;
        }
      }
      const want = buf.length - offset;
      const wrote = this.transport.write(buf, offset, want);
      if (wrote < 0) {
        this.onClose();
        return;
      }
      this.outBytes -= wrote;
      if (wrote < want) {
        this.outOffset = offset + wrote;
        break; // wait for drain
      }
      this.out.shift();
      this.outOffset = 0;
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.closed) return;
    const busy = this.slots.length >= MAX_IN_FLIGHT || this.outBytes >= WRITE_HIGH_WATER;
    if (busy && !this.paused) {
      this.paused = true;
      this.transport.pause();
    } else if (!busy && this.paused) {
      this.paused = false;
      this.transport.resume();
    }
  }
}
