/**
 * RFC 7641 Observe for topic-data resources: every record that becomes
 * visible on an observed stream topic (produced over CoAP, MQTT, Kafka or
 * HTTP alike) goes to each observer as a notification, in partition order.
 *
 * - Register: GET + Observe 0 (the topic-data resource adds the observer
 *   after answering); deregister: GET + Observe 1 with the same token, a RST
 *   to a notification, or a CON notification that times out (§3.6, §4.2, §4.5).
 * - Sequence numbers: 24-bit, increasing per observation (§3.4, §4.4).
 * - Notifications are NON, except that at least every `observerCheckMs`
 *   (the topic's observer-check property, default 24 h per §4.5) or every
 *   `conEvery` notifications one goes as CON, to find observers that are gone;
 *   at most one CON notification is outstanding per observer.
 * - One read cursor per (topic, partition): broker.onAppend wakes it and the
 *   records read are fanned out to all observers of the topic.
 */
import type { BrokerApi, StoredRecord } from "../../src/broker/index.ts";
import { isEddyError } from "../../src/broker/index.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { Clock } from "../../src/util/clock.ts";
import { type CoapOption, Code, OptionNumber } from "./codec/constants.ts";
import { encodeBlock, uintOption } from "./codec/options.ts";
import { etagOf } from "./block.ts";
import type { MessageLayer, Peer } from "./message-layer.ts";
import { peerKey } from "./message-layer.ts";
import type { TopicPropsStore } from "./resources/topic-config.ts";
import { recordContentFormat } from "./resources/records.ts";

export interface Observer {
  key: string;
  peer: Peer;
  token: Uint8Array;
  topic: string;
  seq: number;
  lastConAt: number;
  sinceCon: number;
  conInFlight: boolean;
}

export interface ObserveOptions {
  broker: BrokerApi;
  layer: MessageLayer;
  clock: Clock;
  logger: Logger;
  props: TopicPropsStore;
  maxObservers: number;
  /** Default seconds-between-CON check, when the topic has no observer-check. */
  observerCheckMs: number;
  conEvery: number;
  /** Largest notification payload; larger values go as block 0 of a Block2 transfer. */
  maxPayload: number;
  maxPayloadSzx: number;
}

interface Cursor {
  next: number;
  reading: boolean;
  again: boolean;
}

export const observerKey = (peer: Peer, token: Uint8Array): string =>
  `${peerKey(peer)}#${Buffer.from(token).toString("hex")}`;

export class ObserveManager {
  private readonly observers = new Map<string, Observer>();
  private readonly byTopic = new Map<string, Set<Observer>>();
  private readonly cursors = new Map<string, Cursor>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly o: ObserveOptions) {
    this.unsubscribe = o.broker.onAppend((e) => {
      if (this.byTopic.has(e.topic)) void this.pump(e.topic, e.partition);
    });
  }

  get count(): number {
    return this.observers.size;
  }

  countFor(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /**
   * Add (or refresh) an observation; `highWatermarks` are the partitions' ends
   * the registration response reflects. Returns the Observe value for the
   * response, or undefined when the limit is reached (answer without Observe).
   */
  register(peer: Peer, token: Uint8Array, topic: string, highWatermarks: number[]): number | undefined {
    const key = observerKey(peer, token);
    const existing = this.observers.get(key);
    if (existing && existing.topic === topic) return this.nextSeq(existing);
    if (existing) this.remove(key);
    const max = this.o.props.get(topic).maxSubscribers;
    if (this.observers.size >= this.o.maxObservers || (max !== undefined && this.countFor(topic) >= max))
      return undefined;
    const ob: Observer = {
      key,
      peer,
      token,
      topic,
      seq: 0,
      lastConAt: this.o.clock.monotonic(),
      sinceCon: 0,
      conInFlight: false,
    };
    this.observers.set(key, ob);
    let set = this.byTopic.get(topic);
    if (!set) {
      set = new Set();
      this.byTopic.set(topic, set);
    }
    set.add(ob);
    highWatermarks.forEach((hw, p) => {
      if (!this.cursors.has(`${topic}#${p}`))
        this.cursors.set(`${topic}#${p}`, { next: hw, reading: false, again: false });
    });
    return this.nextSeq(ob);
  }

  deregister(peer: Peer, token: Uint8Array): boolean {
    return this.remove(observerKey(peer, token));
  }

  /** The peer reset a notification. */
  onReset(peer: Peer, token: Uint8Array): void {
    this.remove(observerKey(peer, token));
  }

  /** The topic (or its data) went away: tell observers with a final 4.04 and drop them (§3.2). */
  cancelTopic(topic: string, reason: string): void {
    for (const ob of [...(this.byTopic.get(topic) ?? [])]) {
      this.o.layer.sendNonConfirmable(ob.peer, {
        code: Code.NOT_FOUND,
        token: ob.token,
        options: [],
        payload: new TextEncoder().encode(reason),
      });
      this.remove(ob.key);
    }
    for (const k of [...this.cursors.keys()]) if (k.startsWith(`${topic}#`)) this.cursors.delete(k);
  }

  private remove(key: string): boolean {
    const ob = this.observers.get(key);
    if (!ob) return false;
    this.observers.delete(key);
    const set = this.byTopic.get(ob.topic);
    set?.delete(ob);
    if (set && set.size === 0) {
      this.byTopic.delete(ob.topic);
      for (const k of [...this.cursors.keys()]) if (k.startsWith(`${ob.topic}#`)) this.cursors.delete(k);
    }
    return true;
  }

  private nextSeq(ob: Observer): number {
    ob.seq = (ob.seq + 1) & 0xffffff;
    return ob.seq;
  }

  private async pump(topic: string, partition: number): Promise<void> {
    const ckey = `${topic}#${partition}`;
    let cursor = this.cursors.get(ckey);
    if (!cursor) {
      // A partition added after the registration: everything on it is new.
      cursor = { next: 0, reading: false, again: false };
      this.cursors.set(ckey, cursor);
    }
    if (cursor.reading) {
      cursor.again = true;
      return;
    }
    cursor.reading = true;
    try {
      do {
        cursor.again = false;
        for (;;) {
          if (this.closed || !this.byTopic.has(topic)) return;
          let res: Awaited<ReturnType<BrokerApi["readRecords"]>>;
          try {
            res = await this.o.broker.readRecords({ topic, partition, offset: cursor.next, maxRecords: 200 });
          } catch (err) {
            if (isEddyError(err) && err.code === "OFFSET_OUT_OF_RANGE") {
              cursor.next = this.o.broker.partitionState(topic, partition).logStartOffset;
              continue;
            }
            throw err;
          }
          for (const r of res.records) this.fanOut(topic, partition, r);
          if (res.nextOffset <= cursor.next) break;
          cursor.next = res.nextOffset;
          if (res.nextOffset >= res.highWatermark) break;
        }
      } while (cursor.again);
    } catch (err) {
      this.o.logger.warn("coap: observe read failed", { topic, partition, error: (err as Error).message });
    } finally {
      cursor.reading = false;
    }
  }

  private fanOut(topic: string, _partition: number, record: StoredRecord): void {
    const set = this.byTopic.get(topic);
    if (!set) return;
    const value = record.value ?? new Uint8Array(0);
    const cf = recordContentFormat(record);
    const base: CoapOption[] = [];
    if (cf !== undefined) base.push(uintOption(OptionNumber.CONTENT_FORMAT, cf));
    let payload = value;
    if (value.length > this.o.maxPayload) {
      payload = value.slice(0, 1 << (this.o.maxPayloadSzx + 4));
      base.push({
        number: OptionNumber.BLOCK2,
        value: encodeBlock({ num: 0, more: true, szx: this.o.maxPayloadSzx }),
      });
      base.push(uintOption(OptionNumber.SIZE2, value.length));
      base.push({ number: OptionNumber.ETAG, value: etagOf(value) });
    }
    const now = this.o.clock.monotonic();
    for (const ob of set) {
      const options = [uintOption(OptionNumber.OBSERVE, this.nextSeq(ob)), ...base];
      const msg = { code: Code.CONTENT, token: ob.token, options, payload };
      ob.sinceCon++;
      const checkMs = (this.o.props.get(topic).observerCheck ?? 0) * 1000 || this.o.observerCheckMs;
      if (!ob.conInFlight && (now - ob.lastConAt >= checkMs || ob.sinceCon >= this.o.conEvery)) {
        ob.conInFlight = true;
        ob.sinceCon = 0;
        void this.o.layer.sendConfirmable(ob.peer, msg).then((outcome) => {
          ob.conInFlight = false;
          ob.lastConAt = this.o.clock.monotonic();
          if (outcome === "reset" || outcome === "timeout") {
            this.o.logger.debug("coap: observer gone", { peer: peerKey(ob.peer), topic, outcome });
            this.remove(ob.key);
          }
        });
      } else {
        this.o.layer.sendNonConfirmable(ob.peer, msg);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.observers.clear();
    this.byTopic.clear();
    this.cursors.clear();
  }
}
