/**
 * RFC 7252 message layer, sans-IO: datagrams in through `receive`, datagrams
 * out through the injected `send`; time through the injected Clock and Timers.
 *
 * - CON/NON requests go to `handle`; the answer is piggybacked on the ACK when
 *   it is ready within `separateAckDelayMs`, otherwise an empty ACK goes out
 *   first and the answer follows as a separate CON response (§5.2.2).
 * - Deduplication (§4.5, dedup-cache.ts): requests are remembered per (peer,
 *   message id, datagram hash) for EXCHANGE_LIFETIME, bounded by bytes; a
 *   duplicate replays the answer (cached bytes, or code + token regenerated for
 *   answers without options and payload), or the empty ACK while the handler
 *   still runs or answered separately. If the cached bytes were dropped for space,
 *   a safe request (GET, FETCH) runs again, an unsafe one gets its bare code.
 * - Outgoing CON (separate responses, notifications) is retransmitted with
 *   exponential backoff: ACK_TIMEOUT * rand[1, ACK_RANDOM_FACTOR], doubling,
 *   MAX_RETRANSMIT times (§4.2, §4.8); the promise says ack, reset or timeout.
 * - RST answers: a malformed CON (header readable), a CON ping (Empty CON), a
 *   CON that is not a request, a NON with an unknown critical option; a CON
 *   with an unknown critical option gets 4.02 Bad Option (§5.4.1). Malformed
 *   NON and stray messages are dropped silently (§4.3).
 * - A RST matching a NON we sent (an Observe notification) is reported to `onReset`.
 */
import {
  type CoapMessage,
  type CoapOption,
  Code,
  isCriticalOption,
  MessageType,
  TransmissionDefaults,
} from "./codec/constants.ts";
import { CoapParseError, decodeMessage } from "./codec/decode.ts";
import { encodeMessage } from "./codec/encode.ts";
import type { Clock } from "../../src/util/clock.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { DedupCache, type DedupEntry, type DedupHandle, DedupState, datagramHash } from "./dedup-cache.ts";
import type { CancelTimer, Timers } from "../../src/util/timers.ts";

export interface Peer {
  address: string;
  port: number;
}

export const peerKey = (p: Peer): string => `${p.address}|${p.port}`;

export interface ResponseSpec {
  code: number;
  options?: CoapOption[];
  payload?: Uint8Array;
}

export interface InboundRequest {
  peer: Peer;
  message: CoapMessage;
}

export type DeliveryOutcome = "ack" | "reset" | "timeout" | "closed";

export interface MessageLayerOptions {
  clock: Clock;
  timers: Timers;
  logger: Logger;
  send(peer: Peer, bytes: Uint8Array): void;
  handle(req: InboundRequest): Promise<ResponseSpec>;
  /** Critical options the resources understand; any other critical option is rejected. */
  knownOptions: ReadonlySet<number>;
  /** A peer reset a message we sent (token of that message). */
  onReset?(peer: Peer, token: Uint8Array): void;
  /** A response to a request left (metrics). */
  onResponse?(code: number): void;
  /** An undecodable datagram arrived (metrics). */
  onMalformed?(): void;
  random?: () => number;
  ackTimeoutMs?: number;
  ackRandomFactor?: number;
  maxRetransmit?: number;
  exchangeLifetimeMs?: number;
  /** Send an empty ACK if the handler has not answered a CON by then. Default 1000 ms. */
  separateAckDelayMs?: number;
  /** Memory bound of the deduplication cache in (estimated) bytes. Default 64 MiB; see dedup-cache.ts. */
  maxDedupBytes?: number;
}

interface Exchange {
  h: DedupHandle;
  /** An empty ACK went out (separate response). */
  ackSent: boolean;
  done: boolean;
}

/** Request codes that are safe (RFC 7252 §5.1, RFC 8132): GET, FETCH. */
const SAFE_METHODS: ReadonlySet<number> = new Set([Code.GET, 5]);

interface Pending {
  peer: Peer;
  bytes: Uint8Array;
  cancelTimer: CancelTimer;
  resolve(outcome: DeliveryOutcome): void;
}

export class MessageLayer {
  private readonly exchanges: DedupCache;
  private readonly pending = new Map<string, Pending>();
  /**
   * NON messages we sent, by message id (ids are ours and sequential, so the
   * last 65 536 NON messages each own their slot): peer key, token, expiry.
   */
  private readonly nonPeer: Array<string | undefined> = new Array(0x10000);
  private readonly nonToken: Array<Uint8Array | undefined> = new Array(0x10000);
  private readonly nonExpires = new Float64Array(0x10000);
  private lastSweep = Number.NEGATIVE_INFINITY;
  private nextMid: number;
  private closed = false;
  private readonly random: () => number;
  private readonly lifetime: number;

  constructor(private readonly o: MessageLayerOptions) {
    this.random = o.random ?? Math.random;
    this.nextMid = Math.floor(this.random() * 0x10000);
    this.lifetime = o.exchangeLifetimeMs ?? TransmissionDefaults.EXCHANGE_LIFETIME;
    this.exchanges = new DedupCache(o.maxDedupBytes);
  }

  get exchangeCount(): number {
    return this.exchanges.size;
  }

  /** The deduplication cache (size, bytes, evictions), for metrics and tests. */
  get dedup(): DedupCache {
    return this.exchanges;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  allocateMessageId(): number {
    this.nextMid = (this.nextMid + 1) & 0xffff;
    return this.nextMid;
  }

  receive(peer: Peer, bytes: Uint8Array): void {
    if (this.closed) return;
    this.sweep();
    let msg: CoapMessage;
    try {
      msg = decodeMessage(bytes);
    } catch (err) {
      this.o.onMalformed?.();
      if (err instanceof CoapParseError && err.header?.type === MessageType.CON)
        this.reset(peer, err.header.messageId);
      this.o.logger.debug("coap: dropped malformed datagram", {
        peer: peerKey(peer),
        error: (err as Error).message,
      });
      return;
    }
    if (msg.type === MessageType.ACK || msg.type === MessageType.RST) {
      this.onAckOrReset(peer, msg);
      return;
    }
    if (msg.code === Code.EMPTY) {
      if (msg.type === MessageType.CON) this.reset(peer, msg.messageId); // CoAP ping
      return;
    }
    if (msg.code >> 5 !== 0) {
      if (msg.type === MessageType.CON) this.reset(peer, msg.messageId);
      return;
    }
    const pk = peerKey(peer);
    const hash = datagramHash(bytes);
    const seen = this.exchanges.get(pk, msg.messageId);
    // A different datagram under a remembered id is a new request (the id was reused).
    if (seen && seen.hash === hash && this.onDuplicate(peer, msg, seen)) return;
    const badOption = msg.options.find(
      (opt) => isCriticalOption(opt.number) && !this.o.knownOptions.has(opt.number),
    );
    const ex: Exchange = {
      h: this.exchanges.add(pk, msg.messageId, hash, this.now + this.lifetime),
      ackSent: false,
      done: false,
    };
    if (badOption) {
      if (msg.type === MessageType.NON) {
        ex.done = true;
        this.reset(peer, msg.messageId);
        return;
      }
      const diag = `unrecognized critical option ${badOption.number}`;
      this.finish(peer, msg, ex, { code: Code.BAD_OPTION, payload: new TextEncoder().encode(diag) });
      return;
    }
    this.dispatch(peer, msg, ex);
  }

  private dispatch(peer: Peer, msg: CoapMessage, ex: Exchange): void {
    let cancelAck: CancelTimer | undefined;
    if (msg.type === MessageType.CON) {
      cancelAck = this.o.timers.schedule(this.o.separateAckDelayMs ?? 1000, () => {
        if (ex.done || ex.ackSent || this.closed) return;
        ex.ackSent = true;
        this.exchanges.markAckSent(ex.h);
        this.emptyAck(peer, msg.messageId);
      });
    }
    let result: Promise<ResponseSpec>;
    try {
      result = this.o.handle({ peer, message: msg });
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (spec) => {
        cancelAck?.();
        this.finish(peer, msg, ex, spec);
      },
      (err: unknown) => {
        cancelAck?.();
        this.o.logger.warn("coap: request handler failed", {
          peer: peerKey(peer),
          error: (err as Error)?.message,
        });
        this.finish(peer, msg, ex, {
          code: Code.INTERNAL_SERVER_ERROR,
          payload: new TextEncoder().encode("internal error; retry later"),
        });
      },
    );
  }

  private finish(peer: Peer, req: CoapMessage, ex: Exchange, spec: ResponseSpec): void {
    ex.done = true;
    if (this.closed) return;
    this.o.onResponse?.(spec.code);
    const base = {
      code: spec.code,
      token: req.token,
      options: spec.options ?? [],
      payload: spec.payload ?? new Uint8Array(0),
    };
    // Code + token only (every publish): the cache keeps the code, not the bytes.
    const bare = base.options.length === 0 && base.payload.length === 0;
    // A duplicate may have drawn the empty ACK while the handler ran.
    if (this.exchanges.stateOf(ex.h) === DedupState.ACK_SENT) ex.ackSent = true;
    if (req.type === MessageType.CON && !ex.ackSent) {
      const bytes = encodeMessage({ ...base, type: MessageType.ACK, messageId: req.messageId });
      this.exchanges.answer(ex.h, spec.code, bare ? undefined : bytes);
      this.o.send(peer, bytes);
    } else if (req.type === MessageType.CON) {
      // Separate response: a duplicate request gets the empty ACK again (state ACK_SENT).
      void this.sendConfirmable(peer, base);
    } else {
      const bytes = encodeMessage({ ...base, type: MessageType.NON, messageId: this.allocateMessageId() });
      this.exchanges.answer(ex.h, spec.code, bare ? undefined : bytes);
      this.o.send(peer, bytes);
    }
  }

  /** Answer a duplicate; false when it should run again (a safe request whose cached reply was dropped). */
  private onDuplicate(peer: Peer, msg: CoapMessage, seen: DedupEntry): boolean {
    if (seen.state === DedupState.ANSWERED && seen.reply) {
      this.o.send(peer, seen.reply);
      return true;
    }
    if (seen.state === DedupState.ANSWERED || seen.state === DedupState.REPLY_DROPPED) {
      if (seen.state === DedupState.REPLY_DROPPED && SAFE_METHODS.has(msg.code)) return false;
      const con = msg.type === MessageType.CON;
      this.o.send(
        peer,
        encodeMessage({
          type: con ? MessageType.ACK : MessageType.NON,
          code: seen.code,
          messageId: con ? msg.messageId : this.allocateMessageId(),
          token: msg.token,
          options: [],
          payload: new Uint8Array(0),
        }),
      );
      return true;
    }
    if (msg.type !== MessageType.CON) return true;
    // Still running, or answered separately: the client retransmits, so acknowledge now.
    this.exchanges.markAckSent(seen);
    this.emptyAck(peer, msg.messageId);
    return true;
  }

  private onAckOrReset(peer: Peer, msg: CoapMessage): void {
    const key = `${peerKey(peer)}#${msg.messageId}`;
    const p = this.pending.get(key);
    if (p) {
      this.pending.delete(key);
      p.cancelTimer();
      p.resolve(msg.type === MessageType.ACK ? "ack" : "reset");
    }
    if (msg.type === MessageType.RST) {
      const id = msg.messageId;
      const token = this.nonToken[id];
      if (token && this.nonPeer[id] === peerKey(peer) && this.nonExpires[id]! > this.o.clock.monotonic()) {
        this.nonToken[id] = undefined;
        this.nonPeer[id] = undefined;
        this.o.onReset?.(peer, token);
      }
    }
  }

  /** Send a CON message; retransmit until ACK/RST or MAX_RETRANSMIT. */
  sendConfirmable(peer: Peer, m: Omit<CoapMessage, "type" | "messageId">): Promise<DeliveryOutcome> {
    return this.sendConfirmableEncoded(peer, (messageId) =>
      encodeMessage({ ...m, type: MessageType.CON, messageId }),
    );
  }

  /** Send a CON message the caller encodes for the message id it is given. */
  sendConfirmableEncoded(peer: Peer, encode: (messageId: number) => Uint8Array): Promise<DeliveryOutcome> {
    if (this.closed) return Promise.resolve("closed");
    const messageId = this.allocateMessageId();
    const bytes = encode(messageId);
    const key = `${peerKey(peer)}#${messageId}`;
    const ackTimeout = this.o.ackTimeoutMs ?? TransmissionDefaults.ACK_TIMEOUT;
    const factor = this.o.ackRandomFactor ?? TransmissionDefaults.ACK_RANDOM_FACTOR;
    const maxRetransmit = this.o.maxRetransmit ?? TransmissionDefaults.MAX_RETRANSMIT;
    return new Promise<DeliveryOutcome>((resolve) => {
      let timeout = ackTimeout * (1 + this.random() * (factor - 1));
      let retransmits = 0;
      const onTimer = (): void => {
        const p = this.pending.get(key);
        if (!p) return;
        if (retransmits >= maxRetransmit) {
          this.pending.delete(key);
          resolve("timeout");
          return;
        }
        retransmits++;
        timeout *= 2;
        this.o.send(peer, bytes);
        p.cancelTimer = this.o.timers.schedule(timeout, onTimer);
      };
      this.pending.set(key, { peer, bytes, cancelTimer: this.o.timers.schedule(timeout, onTimer), resolve });
      this.o.send(peer, bytes);
    });
  }

  /** Send a NON message; a RST for it is reported to onReset with its token. */
  sendNonConfirmable(peer: Peer, m: Omit<CoapMessage, "type" | "messageId">): void {
    this.sendNonEncoded(peer, m.token, (messageId) =>
      encodeMessage({ ...m, type: MessageType.NON, messageId }),
    );
  }

  /**
   * Send a NON message the caller encodes for the message id it is given
   * (notification fan-out patches a pre-encoded template); `key` is the peer's key if known.
   */
  sendNonEncoded(
    peer: Peer,
    token: Uint8Array,
    encode: (messageId: number) => Uint8Array,
    key?: string,
  ): void {
    if (this.closed) return;
    const messageId = this.allocateMessageId();
    this.nonPeer[messageId] = key ?? peerKey(peer);
    this.nonToken[messageId] = token;
    this.nonExpires[messageId] = this.o.clock.monotonic() + this.lifetime;
    this.o.send(peer, encode(messageId));
  }

  /** The monotonic time of the last swept datagram, refreshed at most every ms by receive. */
  private now = 0;

  private sweep(): void {
    const now = this.o.clock.monotonic();
    this.now = now;
    if (now - this.lastSweep < 1) return;
    this.lastSweep = now;
    this.exchanges.sweep(now);
  }

  private emptyAck(peer: Peer, messageId: number): void {
    this.o.send(
      peer,
      encodeMessage({
        type: MessageType.ACK,
        code: Code.EMPTY,
        messageId,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
  }

  private reset(peer: Peer, messageId: number): void {
    this.o.send(
      peer,
      encodeMessage({
        type: MessageType.RST,
        code: Code.EMPTY,
        messageId,
        token: new Uint8Array(0),
        options: [],
        payload: new Uint8Array(0),
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) {
      p.cancelTimer();
      p.resolve("closed");
    }
    this.pending.clear();
    this.exchanges.clear();
    this.nonToken.fill(undefined);
    this.nonPeer.fill(undefined);
  }
}
