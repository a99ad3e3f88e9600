/**
 * The chaos workload: `producers` Kafka producers, each with its own
 * connections, writing unique values (history.ts `opValue`) round-robin over
 * the topic's partitions with acks=all, one op at a time, and recording every
 * op. After an error or a timeout a producer forgets that leader, pauses a
 * little and asks every node for leaders again.
 */
import { sleep } from "../../../src/util/sleep.ts";
import { type Op, OpStatus, opValue } from "./history.ts";
import { KafkaClient, type KafkaClientOptions } from "./kafka-client.ts";

export interface WorkloadOptions extends Omit<KafkaClientOptions, "topic"> {
  topic: string;
  producers: number;
  partitions: number;
  /** Pause after a failed or unknown op (default 50 ms). */
  backoffMs?: number;
}

export interface Workload {
  /** Every op so far (pending ones are not in it yet). */
  readonly history: readonly Op[];
  /** Acknowledged ops that were invoked at or after `t` (performance.now()). */
  okSince(t: number): number;
  /** Stop the producers; ops still pending end (as they will) before this resolves. */
  stop(): Promise<void>;
}

export function startWorkload(o: WorkloadOptions): Workload {
  const history: Op[] = [];
  let running = true;
  const backoff = o.backoffMs ?? 50;

  const producer = async (id: number): Promise<void> => {
    const client = new KafkaClient(o);
    try {
      for (let seq = 0; running; seq++) {
        const partition = (id + seq) % o.partitions;
        if (client.leaderOf(partition) === undefined) await client.refreshLeaders();
        const value = opValue(id, seq);
        const invokeAt = performance.now();
        const r = await client.produce(partition, value);
        const op: Op = {
          process: id,
          seq,
          partition,
          value,
          invokeAt,
          completeAt: performance.now(),
          status: OpStatus.OK,
        };
        if (r.node !== undefined) op.node = r.node;
        if (r.kind === "ok") op.offset = r.offset;
        else {
          op.status = r.kind === "not-sent" ? OpStatus.FAIL : OpStatus.INFO;
          op.error = r.error;
        }
        history.push(op);
        if (r.kind !== "ok") await sleep(backoff);
      }
    } finally {
      client.close();
    }
  };

  const done = Promise.all(Array.from({ length: o.producers }, (_, i) => producer(i + 1)));
  return {
    history,
    okSince: (t) => history.filter((op) => op.status === OpStatus.OK && op.invokeAt >= t).length,
    async stop() {
      running = false;
      await done;
    },
  };
}
