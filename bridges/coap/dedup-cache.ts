/**
 * Message deduplication cache (RFC 7252 §4.5) over EXCHANGE_LIFETIME, bounded by bytes.
 *
 * Every exchange is one slot in a ring of typed arrays (insertion order is
 * expiry order, since all live the same time): the key `peer id × 65 536 +
 * message id`, the expiry, a 32-bit hash of the request datagram, a sequence
 * number (so stale handles are ignored) and a state word (running / empty ACK
 * sent / answered, plus the response code). A number-keyed Map finds the slot.
 *
 * - A retransmission is byte-identical, so a "duplicate" whose hash differs is a
 *   new request that reused the message id (the client broke §4.4): the old
 *   entry is replaced and the request runs.
 * - Answers that are only a code and the request's token (every publish: 2.01/
 *   2.04 without options or payload) keep no bytes: the reply is regenerated
 *   from the state word. Other answers keep their encoded bytes while the reply
 *   budget allows; past it the oldest replies are dropped and their slots keep
 *   the code as a marker (state REPLY_DROPPED; the message layer re-runs a safe
 *   request and answers an unsafe one with the bare code, so nothing is stored twice).
 *
 * Memory policy (`maxBytes`, default 64 MiB): ENTRY_BYTES per exchange, PEER_BYTES
 * per source with live exchanges, and the cached reply bytes (+ REPLY_OVERHEAD
 * each) never exceed `maxBytes`, replies at most `maxBytes / 4`. When full, the
 * oldest exchange is forgotten before its lifetime ends (counted in
 * `evictedEarly`): 64 MiB hold ~700k exchanges, the full 247 s at ~2.8k requests/s.
 */

/** Estimated bytes per exchange: 30 in the ring (plus growth slack) + a Map entry with a number key (~82 measured). */
export const ENTRY_BYTES = 96;
/** Estimated bytes per source with live exchanges (two Map entries, key string, record; ~237 measured). */
export const PEER_BYTES = 240;
/** Estimated overhead of one cached reply (Uint8Array object + Map entry). */
export const REPLY_OVERHEAD = 96;

export const DedupState = {
  RUNNING: 1,
  ACK_SENT: 2,
  /** Answered; the reply is the code + token (regenerate) or its cached bytes. */
  ANSWERED: 3,
  /** Answered, but the cached reply bytes were dropped for space: only the code is left. */
  REPLY_DROPPED: 4,
} as const;
export type DedupState = (typeof DedupState)[keyof typeof DedupState];

/** Names one exchange: its key and sequence number (slots move when the ring grows). */
export interface DedupHandle {
  readonly key: number;
  readonly seq: number;
}

export interface DedupEntry extends DedupHandle {
  readonly slot: number;
  state: DedupState;
  /** Response code once answered. */
  code: number;
  hash: number;
  /** Cached reply bytes (state ANSWERED only, and only for replies that are not code + token). */
  reply: Uint8Array | undefined;
}

interface PeerRec {
  id: number;
  live: number;
}

/** FNV-1a over the datagram (32 bit). */
export function datagramHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

export class DedupCache {
  private readonly index = new Map<number, number>();
  private readonly peers = new Map<string, PeerRec>();
  private readonly peerKeys = new Map<number, string>();
  private nextPeerId = 1;
  private keys = new Float64Array(0);
  private expires = new Float64Array(0);
  private hashes = new Uint32Array(0);
  private seqs = new Uint32Array(0);
  /** state | code << 8 */
  private info = new Uint16Array(0);
  private readonly replies = new Map<number, Uint8Array>();
  /** Slots with cached replies in insertion order, for dropping the oldest; [slot, seq] pairs. */
  private replyOrder: number[] = [];
  private replyHead = 0;
  private head = 0;
  private count = 0;
  private nextSeq = 1;
  private replyBytes = 0;
  private readonly maxEntries: number;
  private readonly maxReplyBytes: number;
  /** Exchanges forgotten before their lifetime ended, for lack of space. */
  evictedEarly = 0;
  /** Replies dropped for lack of space (their exchange kept as a marker). */
  repliesDropped = 0;

  constructor(readonly maxBytes = 64 * 1024 * 1024) {
    this.maxEntries = Math.max(1, Math.floor(maxBytes / ENTRY_BYTES));
    this.maxReplyBytes = Math.floor(maxBytes / 4);
  }

  get size(): number {
    return this.index.size;
  }

  /** The estimated bytes held now (≤ maxBytes). */
  get bytes(): number {
    return this.count * ENTRY_BYTES + this.peers.size * PEER_BYTES + this.replyBytes;
  }

  get(peer: string, messageId: number): DedupEntry | undefined {
    const rec = this.peers.get(peer);
    if (!rec) return undefined;
    const slot = this.index.get(rec.id * 0x10000 + messageId);
    if (slot === undefined) return undefined;
    const info = this.info[slot]!;
    return {
      slot,
      key: rec.id * 0x10000 + messageId,
      seq: this.seqs[slot]!,
      state: (info & 0xff) as DedupState,
      code: info >> 8,
      hash: this.hashes[slot]!,
      reply: this.replies.get(slot),
    };
  }

  /** Remember a new exchange (replacing one with the same key); the oldest go when full. */
  add(peer: string, messageId: number, hash: number, expiresAt: number): DedupHandle {
    let rec = this.peers.get(peer);
    const existing = rec ? this.index.get(rec.id * 0x10000 + messageId) : undefined;
    if (existing !== undefined) this.forget(existing);
    while (this.count >= this.maxEntries || this.bytes + ENTRY_BYTES + PEER_BYTES > this.maxBytes) {
      if (this.count === 0) break;
      this.evictedEarly++;
      this.shift();
    }
    rec = this.peers.get(peer);
    if (!rec) {
      rec = { id: this.nextPeerId++, live: 0 };
      this.peers.set(peer, rec);
      this.peerKeys.set(rec.id, peer);
    }
    rec.live++;
    if (this.count === this.keys.length) this.grow();
    const slot = (this.head + this.count) % this.keys.length;
    const key = rec.id * 0x10000 + messageId;
    const seq = this.nextSeq++ >>> 0;
    this.keys[slot] = key;
    this.expires[slot] = expiresAt;
    this.hashes[slot] = hash;
    this.seqs[slot] = seq;
    this.info[slot] = DedupState.RUNNING;
    this.count++;
    this.index.set(key, slot);
    return { key, seq };
  }

  /** The handle's slot, or -1 when its exchange was forgotten or replaced. */
  private slotOf(h: DedupHandle): number {
    const slot = this.index.get(h.key);
    return slot !== undefined && this.seqs[slot] === h.seq ? slot : -1;
  }

  /** The exchange's state, or undefined once forgotten or replaced. */
  stateOf(h: DedupHandle): DedupState | undefined {
    const slot = this.slotOf(h);
    return slot < 0 ? undefined : ((this.info[slot]! & 0xff) as DedupState);
  }

  markAckSent(h: DedupHandle): void {
    const slot = this.slotOf(h);
    if (slot < 0) return;
    if ((this.info[slot]! & 0xff) === DedupState.RUNNING) this.info[slot] = DedupState.ACK_SENT;
  }

  /** The exchange was answered with `code`; `reply` are bytes to replay, omitted when code + token suffice. */
  answer(h: DedupHandle, code: number, reply?: Uint8Array): void {
    const slot = this.slotOf(h);
    if (slot < 0) return;
    this.info[slot] = DedupState.ANSWERED | (code << 8);
    if (!reply) return;
    const cost = reply.length + REPLY_OVERHEAD;
    while (this.replyBytes + cost > this.maxReplyBytes || this.bytes + cost > this.maxBytes) {
      if (!this.dropOldestReply()) {
        // No room even with every other reply gone: keep the code only.
        this.info[slot] = DedupState.REPLY_DROPPED | (code << 8);
        this.repliesDropped++;
        return;
      }
    }
    this.replies.set(slot, reply);
    this.replyBytes += cost;
    this.replyOrder.push(slot, h.seq);
  }

  /** Forget exchanges whose lifetime ended at or before `now`. */
  sweep(now: number): void {
    while (this.count > 0 && this.expires[this.head]! <= now) this.shift();
  }

  clear(): void {
    this.index.clear();
    this.peers.clear();
    this.peerKeys.clear();
    this.replies.clear();
    this.replyOrder = [];
    this.replyHead = 0;
    this.replyBytes = 0;
    this.head = 0;
    this.count = 0;
  }

  private dropOldestReply(): boolean {
    while (this.replyHead < this.replyOrder.length) {
      const slot = this.replyOrder[this.replyHead++]!;
      const seq = this.replyOrder[this.replyHead++]!;
      this.compactReplyOrder();
      if (this.seqs[slot] !== seq || !this.replies.has(slot)) continue;
      this.releaseReply(slot);
      const info = this.info[slot]!;
      this.info[slot] = DedupState.REPLY_DROPPED | (info & 0xff00);
      this.repliesDropped++;
      return true;
    }
    return false;
  }

  private compactReplyOrder(): void {
    if (this.replyHead > 1024 && this.replyHead * 2 > this.replyOrder.length) {
      this.replyOrder = this.replyOrder.slice(this.replyHead);
      this.replyHead = 0;
    }
  }

  private releaseReply(slot: number): void {
    const r = this.replies.get(slot);
    if (!r) return;
    this.replies.delete(slot);
    this.replyBytes -= r.length + REPLY_OVERHEAD;
  }

  /** Unlink a slot from the index (it stays in the ring until shifted, then is skipped). */
  private forget(slot: number): void {
    const key = this.keys[slot]!;
    if (this.index.get(key) !== slot) return;
    this.index.delete(key);
    this.releaseReply(slot);
    this.seqs[slot] = 0;
    this.unref(key);
  }

  private unref(key: number): void {
    const id = Math.floor(key / 0x10000);
    const peer = this.peerKeys.get(id);
    if (peer === undefined) return;
    const rec = this.peers.get(peer);
    if (rec && --rec.live === 0) {
      this.peers.delete(peer);
      this.peerKeys.delete(id);
    }
  }

  private shift(): void {
    const slot = this.head;
    this.forget(slot);
    this.head = (this.head + 1) % this.keys.length;
    this.count--;
  }

  private grow(): void {
    const size = Math.min(this.maxEntries, Math.max(64, this.keys.length * 2));
    const keys = new Float64Array(size);
    const expires = new Float64Array(size);
    const hashes = new Uint32Array(size);
    const seqs = new Uint32Array(size);
    const info = new Uint16Array(size);
    const moved = new Map<number, Uint8Array>();
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % this.keys.length;
      keys[i] = this.keys[from]!;
      expires[i] = this.expires[from]!;
      hashes[i] = this.hashes[from]!;
      seqs[i] = this.seqs[from]!;
      info[i] = this.info[from]!;
      if (this.index.get(keys[i]!) === from) this.index.set(keys[i]!, i);
      const r = this.replies.get(from);
      if (r) moved.set(i, r);
    }
    this.replies.clear();
    for (const [slot, r] of moved) this.replies.set(slot, r);
    const order: number[] = [];
    for (let i = this.replyHead; i < this.replyOrder.length; i += 2) {
      const from = this.replyOrder[i]!;
      const to = (from - this.head + this.keys.length) % this.keys.length;
      order.push(to, this.replyOrder[i + 1]!);
    }
    this.replyOrder = order;
    this.replyHead = 0;
    this.keys = keys;
    this.expires = expires;
    this.hashes = hashes;
    this.seqs = seqs;
    this.info = info;
    this.head = 0;
  }
}
