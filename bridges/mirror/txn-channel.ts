/**
 * One transactional.id at central and the producer that currently holds it
 * (see README.md, "Decision: a transactional.id per source partition"). Each
 * edge partition's forwarder owns one channel, `eddy-mirror/{source.id}/{link}/{topic}/{partition}`:
 * whoever forwards the partition (this process after a failed send, the next
 * run after a restart, or another node of an edge cluster after a leadership
 * change) initialises the same id, and central's InitProducerId fences every
 * older holder and aborts its open transaction.
 *
 * The producer is recreated after a failed send (same id: the new one fences
 * the old); callers pass the generation they sent with, so one failure
 * recreates it once.
 */
import type { Producer } from "@platformatic/kafka";
import type { RemoteMessage } from "./remote.ts";
import type { SendTicket, TxnSender } from "./txn-sender.ts";

type BufferProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

export interface TxnChannelOptions {
  transactionalId: string;
  newProducer: (transactionalId: string) => BufferProducer;
  newSender: (producer: BufferProducer, generation: number) => TxnSender;
  onCloseError: (err: unknown) => void;
  onClosed?: () => void;
}

export class TxnChannel {
  private producer: BufferProducer;
  private sender: TxnSender;
  private gen = 0;
  private closed = false;

  constructor(private readonly o: TxnChannelOptions) {
    this.producer = o.newProducer(o.transactionalId);
    this.sender = o.newSender(this.producer, this.gen);
  }

  get transactionalId(): string {
    return this.o.transactionalId;
  }

  /** Bumped each time the producer is recreated. */
  get generation(): number {
    return this.gen;
  }

  /** Produce a chunk (acks=all) in the current transaction; see TxnSender for `produced` / `committed`. */
  submit(messages: RemoteMessage[], opts: { more?: boolean } = {}): SendTicket {
    return this.sender.submit(messages, opts);
  }

  /**
   * InitProducerId with the channel's transactional.id: older holders of the
   * id (wherever they run) are fenced and their open transaction aborted.
   * Reconcile calls it before scanning central.
   */
  async fence(): Promise<void> {
    const sender = this.sender;
    try {
      await sender.fence();
    } catch (err) {
      await this.reset(sender.generation); // the next attempt starts with a fresh producer
      throw err;
    }
  }

  /** After a failed send: replace the producer (once per generation); the same transactional.id fences the old one. */
  async reset(generation: number): Promise<void> {
    if (generation !== this.gen || this.closed) return;
    this.gen++;
    const old = this.producer;
    this.sender.close(new Error("the mirror link replaced its producer after a failed send"));
    this.producer = this.o.newProducer(this.o.transactionalId);
    this.sender = this.o.newSender(this.producer, this.gen);
    await old.close(true).catch(this.o.onCloseError);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.o.onClosed?.();
    this.sender.close(new Error("the mirror forwarder is stopping"));
    await this.producer.close(true).catch(this.o.onCloseError);
  }
}
