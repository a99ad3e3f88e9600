/**
 * A small raw Kafka client for the chaos workload, on the generated codecs:
 * one connection per node, one request in flight at a time, a client-side
 * deadline on every request (a SIGSTOPped node never answers), and leaders
 * learned from Metadata on every node at once (the highest leader epoch wins,
 * so an isolated old leader's view loses to the majority's).
 *
 * No retries: one produce call is one attempt, so the history knows exactly
 * which values were sent once.
 */
import { decodeRecords, encodeBatch } from "../../../src/broker/index.ts";
import { Fetch, Metadata, Produce } from "../../../src/kafka/generated/index.ts";
import type { ApiCodec } from "../../../src/kafka/protocol/api.ts";
import { decodeResponse } from "../../../src/kafka/protocol/messages.ts";
import { RawClient } from "../../kafka/server-harness.ts";
import { fetchBody, metadataBody, produceBody } from "../../kafka/server-requests.ts";
import type { ReadRecord } from "./history.ts";

export interface KafkaClientOptions {
  topic: string;
  nodes: readonly number[];
  /** The node's Kafka listener port. */
  port: (node: number) => number;
  /** Client-side deadline of one request. */
  requestTimeoutMs: number;
  /** How long the broker waits for acks=all (Produce timeoutMs). */
  ackTimeoutMs: number;
}

export type ProduceOutcome =
  | { kind: "ok"; offset: number; node: number }
  | { kind: "not-sent"; error: string; node?: number }
  | { kind: "unknown"; error: string; node: number };

const PRODUCE_V = 8;
const METADATA_V = 9;
const FETCH_V = 8;
/** A node that does not answer Metadata this fast (stopped, cut off) is left out of the leader vote. */
const METADATA_TIMEOUT_MS = 500;
const te = new TextEncoder();
const td = new TextDecoder();

class Timeout extends Error {}

export class KafkaClient {
  private readonly conns = new Map<number, RawClient>();
  private readonly leaders = new Map<number, { node: number; epoch: number }>();
  private closed = false;

  constructor(private readonly o: KafkaClientOptions) {}

  leaderOf(partition: number): number | undefined {
    return this.leaders.get(partition)?.node;
  }

  /** Ask every node for the topic's leaders; keep, per partition, the answer with the highest epoch. */
  async refreshLeaders(): Promise<void> {
    const answers = await Promise.all(
      this.o.nodes.map(async (node) => {
        try {
          const conn = await this.connect(node);
          const body = metadataBody([this.o.topic], false);
          return await this.roundTrip(node, conn, Metadata, METADATA_V, body, METADATA_TIMEOUT_MS);
        } catch {
          return null;
        }
      }),
    );
    const best = new Map<number, { node: number; epoch: number }>();
    for (const a of answers) {
      for (const p of a?.topics.find((t) => t.name === this.o.topic)?.partitions ?? []) {
        if (p.errorCode !== 0 || p.leaderId < 0) continue;
        const cur = best.get(p.partitionIndex);
        if (!cur || p.leaderEpoch > cur.epoch)
          best.set(p.partitionIndex, { node: p.leaderId, epoch: p.leaderEpoch });
      }
    }
    this.leaders.clear();
    for (const [p, l] of best) this.leaders.set(p, l);
  }

  /** One acks=all produce of `value` to the partition's known leader. */
  async produce(partition: number, value: string): Promise<ProduceOutcome> {
    const node = this.leaderOf(partition);
    if (node === undefined) return { kind: "not-sent", error: "no known leader" };
    let conn: RawClient;
    try {
      conn = await this.connect(node);
    } catch (err) {
      return { kind: "not-sent", error: `connect: ${String(err)}`, node };
    }
    const batch = encodeBatch([{ key: null, value: te.encode(value) }], { now: Date.now() });
    const body = {
      ...produceBody(this.o.topic, batch, { acks: -1, partition }),
      timeoutMs: this.o.ackTimeoutMs,
    };
    try {
      const res = await this.roundTrip(node, conn, Produce, PRODUCE_V, body);
      const p = res.responses[0]?.partitionResponses[0];
      if (!p) return { kind: "unknown", error: "empty produce response", node };
      if (p.errorCode === 0) return { kind: "ok", offset: p.baseOffset, node };
      this.leaders.delete(partition);
      return { kind: "unknown", error: `kafka error ${p.errorCode}`, node };
    } catch (err) {
      this.leaders.delete(partition);
      return { kind: "unknown", error: err instanceof Timeout ? "timeout" : String(err), node };
    }
  }

  /** Everything a consumer reads from `node` (the leader), from offset 0 up to the high watermark. */
  async readAll(node: number, partition: number): Promise<ReadRecord[]> {
    const out: ReadRecord[] = [];
    let offset = 0;
    for (let round = 0; ; round++) {
      const body = fetchBody(this.o.topic, offset);
      body.topics[0]!.partitions[0]!.partition = partition;
      const res = await this.request(node, Fetch, FETCH_V, body);
      const p = res.responses[0]?.partitions[0];
      if (p?.errorCode !== 0) throw new Error(`fetch from node ${node}: error ${p?.errorCode}`);
      const recs = p.records ? decodeRecords(p.records, offset) : [];
      for (const r of recs) out.push({ offset: r.offset, value: r.value ? td.decode(r.value) : "" });
      if (recs.length > 0) offset = recs[recs.length - 1]!.offset + 1;
      if (offset >= p.highWatermark) return out;
      if (round > 10_000) throw new Error(`fetch from node ${node} makes no progress at offset ${offset}`);
    }
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }

  private async connect(node: number): Promise<RawClient> {
    if (this.closed) throw new Error("client closed");
    const have = this.conns.get(node);
    if (have && !have.closed) return have;
    const c = await withDeadline(RawClient.connect(this.o.port(node)), this.o.requestTimeoutMs);
    this.conns.set(node, c);
    return c;
  }

  private async request<Req, Res>(
    node: number,
    api: ApiCodec<Req, Res>,
    version: number,
    body: Req,
  ): Promise<Res> {
    return this.roundTrip(node, await this.connect(node), api, version, body);
  }

  /** Send and wait for the answer; on a timeout or a broken connection, drop the connection. */
  private async roundTrip<Req, Res>(
    node: number,
    conn: RawClient,
    api: ApiCodec<Req, Res>,
    version: number,
    body: Req,
    timeoutMs = this.o.requestTimeoutMs,
  ): Promise<Res> {
    try {
      const id = await conn.send(api, version, body);
      const frame = await conn.nextFrame(timeoutMs).catch(() => {
        throw new Timeout("no response in time");
      });
      if (frame === null) throw new Error("connection closed");
      const r = decodeResponse(api, version, frame);
      if (r.correlationId !== id) throw new Error(`correlation id ${r.correlationId}, expected ${id}`);
      return r.body;
    } catch (err) {
      conn.close();
      if (this.conns.get(node) === conn) this.conns.delete(node);
      throw err;
    }
  }
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Timeout(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
