import { describe, expect, it } from "bun:test";
import { createBrokerMetrics } from "../../src/observability/broker-metrics.ts";
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "../../src/observability/metrics.ts";

describe("MetricsRegistry", () => {
  it("renders counters, gauges and histograms in text format 0.0.4", async () => {
    const reg = new MetricsRegistry();
    const c = reg.counter({ name: "x_total", help: "Things.", labelNames: ["topic"] });
    c.inc({ topic: "a" });
    c.inc({ topic: "a" }, 2);
    c.inc({ topic: 'we"ird\\\n' });
    const g = reg.gauge({ name: "g", help: "A gauge." });
    g.set(5);
    g.dec(2);
    const h = reg.histogram({ name: "h_seconds", help: "Latency.", buckets: [0.1, 1] });
    h.observe(0.05);
    h.observe(0.5);
    h.observe(3);
    const text = await reg.expose();
    expect(reg.contentType).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(text).toContain("# HELP x_total Things.\n# TYPE x_total counter\n");
    expect(text).toContain('x_total{topic="a"} 3\n');
    expect(text).toContain('x_total{topic="we\\"ird\\\\\\n"} 1\n');
    expect(text).toContain("# TYPE g gauge\ng 3\n");
    expect(text).toContain('h_seconds_bucket{le="0.1"} 1\n');
    expect(text).toContain('h_seconds_bucket{le="1"} 2\n');
    expect(text).toContain('h_seconds_bucket{le="+Inf"} 3\n');
    expect(text).toContain("h_seconds_sum 3.55\nh_seconds_count 3\n");
    expect(text.endsWith("\n")).toBe(true);
  });

  it("shows unlabelled metrics at zero before the first event, labelled ones not at all", async () => {
    const reg = new MetricsRegistry();
    reg.histogram({ name: "idle_seconds", help: "Idle.", buckets: [1] });
    reg.counter({ name: "l_total", help: "Labelled.", labelNames: ["k"] });
    const text = await reg.expose();
    expect(text).toContain('idle_seconds_bucket{le="+Inf"} 0\n');
    expect(text).toContain("idle_seconds_count 0\n");
    expect(text).not.toContain("l_total{");
  });

  it("rejects wrong labels, decreasing counters, bad names and type clashes", () => {
    const reg = new MetricsRegistry();
    const c = reg.counter({ name: "c_total", help: "C.", labelNames: ["a"] });
    expect(() => c.inc({ b: "x" })).toThrow(/missing label 'a'/);
    expect(() => c.inc({ a: "x", b: "y" })).toThrow(/expected labels/);
    expect(() => c.inc({ a: "x" }, -1)).toThrow(/cannot decrease/);
    expect(() => reg.counter({ name: "bad-name", help: "" })).toThrow(/invalid metric name/);
    expect(() => reg.gauge({ name: "c_total", help: "" })).toThrow(/already registered/);
    expect(reg.counter({ name: "c_total", help: "C.", labelNames: ["a"] })).toBe(c);
  });

  it("runs collectors before each exposition and survives a failing one", async () => {
    const reg = new MetricsRegistry();
    const g = reg.gauge({ name: "scrapes", help: "Scrapes." });
    reg.addCollector(() => {
      throw new Error("boom");
    });
    const remove = reg.addCollector(() => g.inc());
    expect(await reg.expose()).toContain("scrapes 1\n");
    expect(await reg.expose()).toContain("scrapes 2\n");
    remove();
    expect(await reg.expose()).toContain("scrapes 2\n");
  });
});

describe("createBrokerMetrics", () => {
  it("counts log and broker hooks and reads partition gauges on scrape", async () => {
    const m = createBrokerMetrics();
    m.logObserver.onAppend("t", 0, 3, 300);
    m.logObserver.onFsync(2.5, 4096);
    m.brokerObserver.onProduce("t", 0, 3, 280);
    m.brokerObserver.onFetch(100);
    m.brokerObserver.onRetention("t", 0, { deletedSegments: 1, deletedBytes: 10, logStartOffset: 5 });
    let partitions = [
      { partition: 0, logStartOffset: 0, logEndOffset: 3, highWatermark: 3, sizeBytes: 300, segments: 1 },
      { partition: 1, logStartOffset: 0, logEndOffset: 0, highWatermark: 0, sizeBytes: 0, segments: 1 },
    ];
    const detach = m.attach({
      listTopics: async () => [{ name: "t" }],
      describeTopic: async (name) => ({ name, partitions }),
    });
    let text = await m.registry.expose();
    expect(text).toContain('eddy_log_appended_records_total{topic="t",partition="0"} 3\n');
    expect(text).toContain('eddy_log_fsync_duration_seconds_bucket{le="0.0025"} 1\n');
    expect(text).toContain('eddy_log_fsync_duration_seconds_bucket{le="0.001"} 0\n');
    expect(text).toContain("eddy_log_fsync_bytes_total 4096\n");
    expect(text).toContain('eddy_produced_bytes_total{topic="t",partition="0"} 280\n');
    expect(text).toContain("eddy_fetch_bytes_total 100\n");
    expect(text).toContain('eddy_partition_log_end_offset{topic="t",partition="0"} 3\n');
    expect(text).toContain('eddy_partition_size_bytes{topic="t",partition="0"} 300\n');
    expect(text).toContain('eddy_partition_log_end_offset{topic="t",partition="1"} 0\n');
    partitions = partitions.slice(0, 1);
    text = await m.registry.expose();
    expect(text).not.toContain('eddy_partition_log_end_offset{topic="t",partition="1"}');
    detach();
  });
});
