/**
 * Abuse controls for the UDP listener.
 *
 * RateLimiter: a token bucket per source address (not port, so a device
 * cannot escape by rebinding); over the limit a request gets 4.29 Too Many
 * Requests with Max-Age = seconds to wait (RFC 8516; pub/sub draft §3.5).
 * The table is bounded; the least recently seen source goes first.
 *
 * EchoVerifier (RFC 9175 §2.4, amplification mitigation): a source whose
 * address is not verified gets no response larger than `amplificationFactor`
 * times its request; instead 4.01 Unauthorized with an Echo option. The Echo
 * value is 4 bytes of time (seconds) + 4 bytes xxhash32(secret, peer, time),
 * so it costs no state; a request repeating a fresh value verifies the source
 * for `verifiedTtlMs`.
 */
import type { Clock } from "../../src/util/clock.ts";
import { xxhash32 } from "../../src/util/xxhash32.ts";
import { Code, OptionNumber } from "./codec/constants.ts";
import { getOption, uintOption } from "./codec/options.ts";
import type { Peer, ResponseSpec } from "./message-layer.ts";
import { diagnostic } from "./request.ts";

export interface RateLimitOptions {
  /** Requests per second per source address. */
  ratePerSecond: number;
  burst: number;
  maxSources?: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly clock: Clock,
    private readonly o: RateLimitOptions,
  ) {}

  /** 0 when allowed (a token is taken), else the seconds to wait. */
  take(peer: Peer): number {
    const now = this.clock.monotonic();
    let b = this.buckets.get(peer.address);
    if (b) this.buckets.delete(peer.address);
    else b = { tokens: this.o.burst, at: now };
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.ratePerSecond);
    b.at = now;
    this.buckets.set(peer.address, b);
    if (this.buckets.size > (this.o.maxSources ?? 10_000)) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.o.ratePerSecond));
  }

  tooMany(wait: number): ResponseSpec {
    return diagnostic(Code.TOO_MANY_REQUESTS, `too many requests; retry after ${wait} s`, [
      uintOption(OptionNumber.MAX_AGE, wait),
    ]);
  }
}

export interface EchoOptions {
  /** Max response/request size ratio for unverified sources (RFC 9175 suggests 3). */
  amplificationFactor: number;
  /** Responses up to this size are always allowed. */
  freeBytes: number;
  echoFreshnessMs: number;
  verifiedTtlMs: number;
  secret: number;
  maxVerified?: number;
}

export class EchoVerifier {
  private readonly verified = new Map<string, number>();
  constructor(
    private readonly clock: Clock,
    private readonly o: EchoOptions,
  ) {}

  private value(peer: Peer, seconds: number): Uint8Array {
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, seconds >>> 0);
    const tag = new TextEncoder().encode(`${peer.address}|${peer.port}|${seconds}`);
    view.setUint32(4, xxhash32(tag, 0, tag.length, this.o.secret) >>> 0);
    return out;
  }

  /** Note an Echo option in a request; a fresh, valid one verifies the source. */
  observeRequest(peer: Peer, options: { number: number; value: Uint8Array }[]): void {
    const echo = getOption({ options }, OptionNumber.ECHO);
    if (echo?.value.length !== 8) return;
    const seconds = new DataView(echo.value.buffer, echo.value.byteOffset, 8).getUint32(0);
    const age = Math.floor(this.clock.now() / 1000) - seconds;
    if (age < 0 || age * 1000 > this.o.echoFreshnessMs) return;
    const expected = this.value(peer, seconds);
    if (expected.every((b, i) => b === echo.value[i])) {
      const key = `${peer.address}|${peer.port}`;
      this.verified.delete(key);
      this.verified.set(key, this.clock.monotonic() + this.o.verifiedTtlMs);
      if (this.verified.size > (this.o.maxVerified ?? 10_000)) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
    }
  }

  isVerified(peer: Peer): boolean {
    const until = this.verified.get(`${peer.address}|${peer.port}`);
    return until !== undefined && until > this.clock.monotonic();
  }

  /** The largest response (payload + 16 bytes of header and options) this source may get now. */
  responseLimit(peer: Peer, requestBytes: number): number {
    if (this.isVerified(peer)) return Number.POSITIVE_INFINITY;
    return Math.max(this.o.freeBytes, requestBytes * this.o.amplificationFactor);
  }

  /** The response itself, or 4.01 + Echo when it would amplify for an unverified source. */
  guard(peer: Peer, requestBytes: number, res: ResponseSpec): ResponseSpec | undefined {
    if ((res.payload?.length ?? 0) + 16 <= this.responseLimit(peer, requestBytes)) return undefined;
    const echo = { number: OptionNumber.ECHO, value: this.value(peer, Math.floor(this.clock.now() / 1000)) };
    return diagnostic(Code.UNAUTHORIZED, "repeat the request with this Echo option", [echo]);
  }
}
