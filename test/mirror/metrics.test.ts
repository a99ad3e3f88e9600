/** Downlink metrics and last-error times in /metrics (bridges/mirror/metrics.ts). */
import { describe, expect, it } from "bun:test";
import { attachMirrorDownlinkMetrics, type MirrorLinkStatus } from "../../bridges/mirror/index.ts";
import { MetricsRegistry } from "../../src/observability/metrics.ts";

function status(received: number, down: boolean): MirrorLinkStatus {
  return {
    name: "l1",
    bootstrapServers: ["c:9092"],
    state: down ? "down" : "idle",
    partitions: [],
    lagRecords: 0,
    skippedRecords: 0,
    lastError: null,
    downlink: [
      {
        remoteTopic: "commands",
        partition: 0,
        edgeTopic: "commands",
        state: down ? "down" : "idle",
        mirroredOffset: received,
        remoteHighWatermark: received + 5,
        lagRecords: 5,
        receivedRecords: received,
        receivedBytes: received * 10,
        skippedRecords: 2,
        skipped: [],
        lastError: down ? { message: "no answer", at: 1_700_000_000_000 } : null,
        lastReceivedAt: null,
      },
    ],
  };
}

describe("mirror downlink metrics", () => {
  it("exposes downlink records, bytes, lag, skipped, up and the last error time", async () => {
    const registry = new MetricsRegistry();
    let current = status(10, false);
    attachMirrorDownlinkMetrics(registry, () => [current]);
    let text = await registry.expose();
    const labels = 'link="l1",topic="commands",partition="0"';
    expect(text).toContain(`eddy_mirror_downlink_records_total{${labels}} 10`);
    expect(text).toContain(`eddy_mirror_downlink_bytes_total{${labels}} 100`);
    expect(text).toContain(`eddy_mirror_downlink_lag_records{${labels}} 5`);
    expect(text).toContain(`eddy_mirror_downlink_skipped_records_total{${labels}} 2`);
    expect(text).toContain(`eddy_mirror_downlink_up{${labels}} 1`);
    expect(text).toContain('eddy_mirror_last_error_timestamp_seconds{link="l1",direction="down"} 0');
    current = status(25, true);
    text = await registry.expose();
    expect(text).toContain(`eddy_mirror_downlink_records_total{${labels}} 25`);
    expect(text).toContain(`eddy_mirror_downlink_up{${labels}} 0`);
    expect(text).toContain('eddy_mirror_last_error_timestamp_seconds{link="l1",direction="down"} 1700000000');
  });
});
