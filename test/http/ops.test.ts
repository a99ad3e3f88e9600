import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { createHttpApp } from "../../src/http/app.ts";
import { StatsHistory } from "../../src/http/stats-history.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createHarness, expectError, type Harness } from "./harness.ts";

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

describe("operations endpoints", () => {
  it("/health reports ok, then degraded when not ready", async () => {
    const ok = await h.app.request("/health");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: "ok", ready: true, version: "test", nodeId: 1 });
    h.ready.value = false;
    expect(await (await h.app.request("/health")).json()).toMatchObject({ status: "degraded", ready: false });
  });

  it("/ready is 503 until ready and after shutdown begins", async () => {
    h.ready.value = false;
    const notYet = await h.app.request("/ready");
    expect(notYet.status).toBe(503);
    expect(await notYet.json()).toEqual({ ready: false });
    h.ready.value = true;
    expect((await h.app.request("/ready")).status).toBe(200);
    h.shutdown.abort();
    expect((await h.app.request("/ready")).status).toBe(503);
  });

  it("/metrics exposes partition gauges, append counters, the fsync histogram and HTTP counters", async () => {
    await h.json("POST", "/v1/topics", { name: "m", partitions: 2 });
    await h.json("POST", "/v1/topics/m/records", { partition: 1, records: [{ value: 1 }, { value: 2 }] });
    await h.app.request("/v1/topics/m/partitions/1/records");
    h.metrics.logObserver.onFsync(3, 1024);
    const res = await h.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    expect(text).toContain('eddy_partition_log_end_offset{topic="m",partition="1"} 2\n');
    expect(text).toContain('eddy_partition_log_end_offset{topic="m",partition="0"} 0\n');
    expect(text).toMatch(/eddy_partition_size_bytes\{topic="m",partition="1"\} [1-9]\d*\n/);
    expect(text).toContain('eddy_produced_records_total{topic="m",partition="1"} 2\n');
    expect(text).toMatch(/eddy_fetch_bytes_total [1-9]\d*\n/);
    expect(text).toContain("# TYPE eddy_log_fsync_duration_seconds histogram\n");
    expect(text).toContain('eddy_log_fsync_duration_seconds_bucket{le="0.005"} 1\n');
    expect(text).toContain("eddy_log_fsync_duration_seconds_count 1\n");
    expect(text).toContain('eddy_http_requests_total{method="POST",route="/v1/topics",status="201"} 1\n');
  });

  it("/openapi.json documents every route", async () => {
    const res = await h.app.request("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { responses: object; parameters?: Array<{ name: string; in: string }> }>
      >;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe("3.1.0");
    const routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(routes.sort()).toEqual(
      [
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "GET /openapi.json",
        "GET /v1/stats",
        "GET /v1/stats/history",
        "GET /v1/topics",
        "POST /v1/topics",
        "GET /v1/topics/{topic}",
        "DELETE /v1/topics/{topic}",
        "GET /v1/topics/{topic}/configs",
        "PATCH /v1/topics/{topic}/configs",
        "POST /v1/topics/{topic}/partitions",
        "POST /v1/topics/{topic}/records",
        "GET /v1/topics/{topic}/partitions/{partition}/records",
        "GET /v1/topics/{topic}/partitions/{partition}/stream",
        "GET /v1/topics/{topic}/partitions/{partition}/offsets",
        "POST /v1/topics/{topic}/partitions/{partition}/delete-records",
        "GET /v1/groups",
        "GET /v1/groups/{group}",
        "POST /v1/groups/{group}/offsets",
        "POST /v1/groups/{group}/reset-offsets",
        "DELETE /v1/groups/{group}",
        "GET /v1/cluster",
        "GET /v1/cluster/reassignments",
        "POST /v1/cluster/reassignments",
        "DELETE /v1/cluster/reassignments",
        "GET /v1/mqtt/clients",
        "GET /v1/mqtt/sessions",
        "DELETE /v1/mqtt/clients/{clientId}",
        "GET /v1/mqtt/explain",
        "GET /v1/mapping",
        "GET /v1/coap/observers",
        "GET /v1/mirror/links",
        "PUT /v1/mirror/links/{name}",
        "DELETE /v1/mirror/links/{name}",
      ].sort(),
    );
    const read = doc.paths["/v1/topics/{topic}/partitions/{partition}/records"]?.get;
    expect(read?.parameters?.map((p) => `${p.in}:${p.name}`)).toContain("query:valueEncoding");
    expect(read?.parameters?.map((p) => `${p.in}:${p.name}`)).toContain("path:partition");
    expect(doc.components.schemas.Error).toBeDefined();
    const produce = doc.paths["/v1/topics/{topic}/records"]?.post as unknown as {
      requestBody: { content: Record<string, unknown> };
    };
    expect(Object.keys(produce.requestBody.content).sort()).toEqual([
      "application/json",
      "application/octet-stream",
    ]);
  });

  it("/v1/stats/history keeps per-second throughput samples in a ring, oldest first", async () => {
    const clock = new ManualClock(1_000_000);
    const history = new StatsHistory({ read: () => h.broker.stats(), clock, capacity: 3 });
    const app = createHttpApp({ broker: h.broker, clock, statsHistory: history, console: false });
    const read = async () =>
      (await (await app.request("/v1/stats/history")).json()) as {
        intervalMs: number;
        capacity: number;
        samples: Array<{
          time: number;
          recordsInPerSec: number;
          bytesInPerSec: number;
          bytesOutPerSec: number;
        }>;
      };
    expect(await read()).toEqual({ intervalMs: 1000, capacity: 3, samples: [] });
    await h.broker.createTopic({ name: "hist", partitions: 1 });
    history.sample();
    for (const n of [2, 4, 6, 8]) {
      await h.broker.produce({
        topic: "hist",
        partition: 0,
        records: Array.from({ length: n }, () => ({ key: null, value: new Uint8Array(10), headers: [] })),
      });
      clock.advance(2000);
      history.sample();
    }
    const body = await read();
    // Four intervals of 2 s; the ring keeps the last three.
    expect(body.samples.map((s) => s.time)).toEqual([1_004_000, 1_006_000, 1_008_000]);
    expect(body.samples.map((s) => s.recordsInPerSec)).toEqual([2, 3, 4]);
    expect(body.samples.every((s) => s.bytesInPerSec > 0 && s.bytesOutPerSec === 0)).toBe(true);
    await h.broker.readRecords({ topic: "hist", partition: 0, offset: 0 });
    clock.advance(1000);
    history.sample();
    expect((await read()).samples.at(-1)).toMatchObject({ time: 1_009_000, recordsInPerSec: 0 });
    expect((await read()).samples.at(-1)!.bytesOutPerSec).toBeGreaterThan(0);
  });

  it("unknown routes are a JSON 404", async () => {
    const body = await expectError(await h.app.request("/v2/nothing"), 404, "NOT_FOUND");
    expect(body.error.message).toContain("/openapi.json");
    await expectError(await h.app.request("/v1/topics", { method: "PUT" }), 404, "NOT_FOUND");
  });
});
