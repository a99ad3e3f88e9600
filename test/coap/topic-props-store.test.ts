import { afterEach, describe, expect, it } from "bun:test";
import { decodeCbor, encodeCbor } from "../../bridges/coap/codec/cbor.ts";
import { Code, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { stringOption } from "../../bridges/coap/codec/options.ts";
import { startCoapListener } from "../../bridges/coap/index.ts";
import { TOPICS_STATE_TOPIC } from "../../bridges/coap/resources/topic-props-store.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));

let h: CoapHarness | undefined;
let c: TestClient | undefined;
afterEach(async () => {
  c?.close();
  await h?.close();
});

describe("topic properties persist in __coap_topics", () => {
  it("survive a listener restart, are tombstoned on DELETE, and the internal topic is not reachable", async () => {
    h = await createCoapHarness();
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "conf", partitions: 1 });
    await h.broker.createTopic({ name: "gone", partitions: 1 });
    for (const name of ["conf", "gone"]) {
      const r = await c.request({
        code: Code.IPATCH,
        options: path("ps", name),
        payload: encodeCbor(
          new Map([
            [3, 50],
            [6, 7],
            [7, 30],
          ]),
        ),
      });
      expect(r.code).toBe(Code.CHANGED);
    }
    expect((await c.request({ code: Code.DELETE, options: path("ps", "gone") })).code).toBe(Code.DELETED);
    const stored = await h.broker.readRecords({ topic: TOPICS_STATE_TOPIC, partition: 0, offset: 0 });
    expect(stored.records.map((r) => [new TextDecoder().decode(r.key!), r.value === null])).toEqual([
      ["conf", false],
      ["gone", false],
      ["gone", true],
    ]);
    expect((await h.broker.describeTopic(TOPICS_STATE_TOPIC)).configs["cleanup.policy"]).toBe("compact");

    // A new listener on the same broker (as after a restart) reads them back.
    c.close();
    await h.listener.close();
    const again = await startCoapListener({ broker: h.broker, logger: silentLogger, port: 0, echo: false });
    h.listener = again;
    c = await createTestClient(again.port);
    const got = await c.request({ code: Code.GET, options: path("ps", "conf") });
    const map = decodeCbor(got.payload) as Map<number, unknown>;
    expect([map.get(3), map.get(6), map.get(7)]).toEqual([50, 7, 30]);
    const pub = await c.request({
      code: Code.PUT,
      options: [
        ...path("ps", "data", "conf"),
        { number: OptionNumber.CONTENT_FORMAT, value: new Uint8Array(0) },
      ],
      payload: new TextEncoder().encode("x"),
    });
    expect(pub.code).toBe(Code.UNSUPPORTED_CONTENT_FORMAT); // topic-content-format 50 still enforced
    const internal = await c.request({ code: Code.GET, options: path("ps", "data", TOPICS_STATE_TOPIC) });
    expect(internal.code).toBe(Code.FORBIDDEN);
  });
});
