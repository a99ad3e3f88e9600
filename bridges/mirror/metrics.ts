/**
 * Prometheus metrics of the mirror that src/observability/bridge-metrics.ts
 * does not cover (that file has the uplink per partition: state, lag, sent,
 * skipped): the downlink (central → edge) per central partition, and each
 * link's last error per direction. Read from `Mirror.status()` at scrape time.
 *
 * - eddy_mirror_downlink_up{link,topic,partition}: 1 unless that partition is down;
 * - eddy_mirror_downlink_lag_records{link,topic,partition}: central records not yet at the edge;
 * - eddy_mirror_downlink_records_total / _bytes_total{link,topic,partition}: mirrored down since start;
 * - eddy_mirror_downlink_skipped_records_total{link,topic,partition}: deleted by central
 *   retention before the edge got them;
 * - eddy_mirror_partition_failed_attempts{link,topic,partition}: uplink attempts
 *   (reconcile, produce, commit) that failed in a row since the partition's last
 *   acknowledged send; a partition central keeps rejecting (say, a record over
 *   its max.message.bytes) climbs here and retries alone, with backoff;
 * - eddy_mirror_last_error_timestamp_seconds{link,direction="up"|"down"}: when the
 *   error a direction currently reports happened (0: none; a partition clears its
 *   error on its next success; the message is in the HTTP API and `eddy mirror status`).
 */
import type { MetricsRegistry } from "../../src/observability/metrics.ts";
import type { MirrorLinkStatus } from "./status.ts";

/** Register the metrics; `read` is called on every scrape. Returns the collector's remover. */
export function attachMirrorDownlinkMetrics(
  registry: MetricsRegistry,
  read: () => readonly MirrorLinkStatus[],
): () => void {
  const part = ["link", "topic", "partition"];
  const up = registry.gauge({
    name: "eddy_mirror_downlink_up",
    help: "1 while a downlink partition (central to edge) is not down",
    labelNames: part,
  });
  const lag = registry.gauge({
    name: "eddy_mirror_downlink_lag_records",
    help: "Central records the downlink has not delivered to the edge yet",
    labelNames: part,
  });
  const records = registry.counter({
    name: "eddy_mirror_downlink_records_total",
    help: "Records mirrored down from the central cluster into the edge since start",
    labelNames: part,
  });
  const bytes = registry.counter({
    name: "eddy_mirror_downlink_bytes_total",
    help: "Bytes mirrored down from the central cluster into the edge since start",
    labelNames: part,
  });
  const skipped = registry.counter({
    name: "eddy_mirror_downlink_skipped_records_total",
    help: "Central records deleted by central retention before the downlink delivered them",
    labelNames: part,
  });
  const failedAttempts = registry.gauge({
    name: "eddy_mirror_partition_failed_attempts",
    help: "Uplink attempts that failed in a row since the edge partition's last acknowledged send (it retries alone, with backoff; the link's other partitions go on)",
    labelNames: part,
  });
  const lastError = registry.gauge({
    name: "eddy_mirror_last_error_timestamp_seconds",
    help: "Time of the error a mirror link currently reports, by direction (up: edge to central, down: central to edge); 0 if none",
    labelNames: ["link", "direction"],
  });
  const seen = new Map<string, number>();
  const add = (counter: typeof records, labels: Record<string, string | number>, now: number): void => {
    const key = `${counter.name}\0${labels.link}\0${labels.topic}\0${labels.partition}`;
    counter.inc(labels, Math.max(0, now - (seen.get(key) ?? 0)));
    seen.set(key, now);
  };
  const collect = (): void => {
    for (const g of [up, lag, failedAttempts, lastError]) g.reset();
    for (const l of read()) {
      for (const p of l.partitions) {
        failedAttempts.set({ link: l.name, topic: p.topic, partition: p.partition }, p.failedAttempts);
      }
      const upErrors = l.partitions.map((p) => p.lastError?.at ?? 0);
      lastError.set({ link: l.name, direction: "up" }, Math.max(0, ...upErrors) / 1000);
      if (l.downlink === undefined) continue;
      const downErrors = l.downlink.map((p) => p.lastError?.at ?? 0);
      lastError.set({ link: l.name, direction: "down" }, Math.max(0, ...downErrors) / 1000);
      for (const p of l.downlink) {
        const labels = { link: l.name, topic: p.remoteTopic, partition: p.partition };
        up.set(labels, p.state === "down" ? 0 : 1);
        lag.set(labels, p.lagRecords);
        add(records, labels, p.receivedRecords);
        add(bytes, labels, p.receivedBytes);
        add(skipped, labels, p.skippedRecords);
      }
    }
  };
  collect();
  return registry.addCollector(collect);
}
