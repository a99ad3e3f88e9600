/**
 * The duplicate window of issue 5: a produce held in the network past the
 * forwarder's timeout. A proxy in front of a central Eddy catches one
 * Produce of the link's producer and holds, on that connection only, either
 * its answer (the records are appended at central, the link never hears so)
 * or the request itself (it lands at central late, after the link replaced
 * its producer, reconciled and sent the records again). The link recovers on
 * a new connection; at the end central's read_committed view holds every
 * record exactly once, in partition order.
 *
 * With the earlier idempotent producer, the "request" case duplicated the
 * held chunk against any server that hands a re-initialising producer a new
 * id (Apache Kafka, librdkafka's mock): the late batch was a valid first
 * batch of the old producer id. Now the late batch belongs to a transaction
 * that the new producer's InitProducerId aborted (and its epoch is fenced).
 */
import { afterEach, describe, expect, it } from "bun:test";
import { type Mirror, startMirror } from "../../bridges/mirror/index.ts";
import type { Broker } from "../../src/broker/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { type CentralEddy, header, startCentralEddy, valuesOf } from "./central-eddy.ts";
import { type HoldMode, type HoldProxy, startHoldProxy } from "./hold-proxy.ts";
import { createEdge, values, waitFor } from "./helpers.ts";

const TOPIC = "stall";
const REMOTE = `gw.${TOPIC}`;

let proxy: HoldProxy | undefined;
let central: CentralEddy | undefined;
let mirror: Mirror | undefined;
let edge: Broker | undefined;

afterEach(async () => {
  proxy?.release();
  await mirror?.close();
  await edge?.close();
  await proxy?.close();
  await central?.close();
  proxy = central = mirror = edge = undefined;
});

async function setUp(): Promise<{ proxy: HoldProxy; central: CentralEddy; edge: Broker; mirror: Mirror }> {
  proxy = await startHoldProxy();
  central = await startCentralEddy({ advertisedPort: proxy.port });
  proxy.setTarget(central.port);
  edge = await createEdge();
  await edge.createTopic({ name: TOPIC, partitions: 1 });
  mirror = await startMirror({
    broker: edge,
    links: [
      {
        name: "s1",
        bootstrap_servers: [`127.0.0.1:${proxy.port}`],
        topics: [TOPIC],
        source_id: "gw",
        retry_backoff_ms: 20,
        max_backoff_ms: 200,
        request_timeout_ms: 500,
        batch: { max_records: 40, linger_ms: 0 },
      },
    ],
    logger: silentLogger,
    clock: systemClock,
  });
  return { proxy, central, edge, mirror };
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

async function mirrored(m: Mirror, e: Broker): Promise<void> {
  await waitFor(
    "the link caught up",
    () => {
      const p = m.status()[0]?.partitions[0];
      return p !== undefined && p.mirroredOffset === e.partitionState(TOPIC, 0).highWatermark
        ? true
        : undefined;
    },
    20_000,
  );
}

async function expectExactlyOnce(c: CentralEddy, n: number): Promise<void> {
  const got = await c.records(REMOTE, 0);
  expect(got.map((r) => header(r, "eddy.mirror.offset"))).toEqual(expected(n).map((_, i) => String(i)));
  expect(valuesOf(got)).toEqual(expected(n));
}

async function stallOnce(mode: HoldMode): Promise<{ appendedWhileHeld: number; uncommitted: number }> {
  const s = await setUp();
  await s.edge.produce({ topic: TOPIC, partition: 0, records: values(100, 0) });
  await mirrored(s.mirror, s.edge);
  const before = s.central.broker.partitionState(REMOTE, 0).logEndOffset;

  s.proxy.arm(mode);
  await s.edge.produce({ topic: TOPIC, partition: 0, records: values(100, 100) });
  await waitFor("a produce caught by the proxy", () => (s.proxy.caught ? true : undefined));
  // The link gives up on it (request_timeout_ms), replaces its producer, reconciles and sends again.
  await waitFor("the link down", () => (s.mirror.status()[0]!.state === "down" ? true : undefined));
  const appendedWhileHeld = s.central.broker.partitionState(REMOTE, 0).logEndOffset - before;
  await s.edge.produce({ topic: TOPIC, partition: 0, records: values(100, 200) });
  await mirrored(s.mirror, s.edge);

  // Now the held bytes arrive: a late request reaches central, a late answer reaches nobody.
  s.proxy.release();
  await s.edge.produce({ topic: TOPIC, partition: 0, records: values(50, 300) });
  await mirrored(s.mirror, s.edge);
  await Bun.sleep(100); // a late request is handled by now (nothing in the link waits for it)
  await mirrored(s.mirror, s.edge);

  await expectExactlyOnce(s.central, 350);
  expect(s.mirror.status()[0]!.partitions[0]!.mirroredOffset).toBe(350);
  const uncommitted = (await s.central.records(REMOTE, 0, { uncommitted: true })).length;
  return { appendedWhileHeld, uncommitted };
}

describe("a produce held in the network past the forwarder's timeout", () => {
  it("answer held (records appended at central): no duplicate becomes visible", async () => {
    const r = await stallOnce("response");
    // The held chunk really reached central, inside the transaction the new producer aborted.
    expect(r.appendedWhileHeld).toBeGreaterThan(0);
    expect(r.uncommitted).toBeGreaterThan(350);
  });

  it("request held and delivered late: the zombie batch is fenced or aborted", async () => {
    const r = await stallOnce("request");
    expect(r.appendedWhileHeld).toBe(0);
    expect(r.uncommitted).toBeGreaterThanOrEqual(350);
  });
});
