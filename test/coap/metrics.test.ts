import { afterEach, describe, expect, it } from "bun:test";
import { Code, OptionNumber } from "../../bridges/coap/codec/constants.ts";
import { stringOption, uintOption } from "../../bridges/coap/codec/options.ts";
import { MetricsRegistry } from "../../src/observability/metrics.ts";
import { type CoapHarness, createCoapHarness, createTestClient, type TestClient } from "./harness.ts";

const path = (...segs: string[]) => segs.map((s) => stringOption(OptionNumber.URI_PATH, s));

let h: CoapHarness | undefined;
let c: TestClient | undefined;
afterEach(async () => {
  c?.close();
  await h?.close();
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await Bun.sleep(5);
}

describe("CoAP listener metrics", () => {
  it("counts responses by code, observers, dropped datagrams and rate-limited requests", async () => {
    const metrics = new MetricsRegistry();
    h = await createCoapHarness({
      metrics,
      rateLimit: { ratePerSecond: 0.001, burst: 4 },
      maxDatagramBytes: 100,
    });
    c = await createTestClient(h.listener.port);
    await h.broker.createTopic({ name: "m", partitions: 1 });
    await h.broker.produce({ topic: "m", records: [{ value: new Uint8Array(1) }], acks: -1 });
    const codes: number[] = [];
    codes.push((await c.request({ code: Code.GET, options: path("ps", "data", "m") })).code);
    codes.push((await c.request({ code: Code.GET, options: path("ps", "data", "nope") })).code);
    codes.push(
      (
        await c.request({
          code: Code.GET,
          token: Uint8Array.of(9),
          options: [uintOption(OptionNumber.OBSERVE, 0), ...path("ps", "data", "m")],
        })
      ).code,
    );
    codes.push((await c.request({ code: Code.GET, options: path(".well-known", "core") })).code);
    codes.push((await c.request({ code: Code.GET, options: path(".well-known", "core") })).code); // over the burst
    expect(codes).toEqual([Code.CONTENT, Code.NOT_FOUND, Code.CONTENT, Code.CONTENT, Code.TOO_MANY_REQUESTS]);
    c.sendRaw(new Uint8Array(101).fill(0x40)); // oversized
    c.sendRaw(Uint8Array.of(0x50, 1, 0)); // malformed (3 bytes)
    await until(() => h!.listener.counters.dropped.malformed === 1);
    const text = await metrics.expose();
    expect(text).toContain('eddy_coap_responses_total{code="2.05"} 3');
    expect(text).toContain('eddy_coap_responses_total{code="4.04"} 1');
    expect(text).toContain('eddy_coap_responses_total{code="4.29"} 1');
    expect(text).toContain("eddy_coap_observers 1");
    expect(text).toContain('eddy_coap_dropped_datagrams_total{reason="oversized"} 1');
    expect(text).toContain('eddy_coap_dropped_datagrams_total{reason="malformed"} 1');
    expect(text).toContain("eddy_coap_rate_limited_total 1");
    // Counters move by deltas between scrapes.
    await c.request({ code: Code.GET, options: path(".well-known", "core") });
    expect(await metrics.expose()).toContain('eddy_coap_responses_total{code="4.29"} 2');
  });
});
