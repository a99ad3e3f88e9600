/**
 * Prometheus metrics of the MQTT bridge and the mirror, read at scrape time
 * from plain snapshots (observability is a leaf: the shapes are structural;
 * src/main.ts adapts each bridge to them). CoAP registers its own metrics
 * (bridges/coap/metrics.ts) on the same registry.
 *
 * MQTT: eddy_mqtt_connections, eddy_mqtt_sessions, eddy_mqtt_retained_messages,
 * eddy_mqtt_inflight_messages, eddy_mqtt_queued_messages (gauges); eddy_mqtt_messages_in_total / _out_total{qos},
 * eddy_mqtt_messages_dropped_total{reason}, eddy_mqtt_connections_total{result}.
 *
 * Mirror (per link and partition): eddy_mirror_link_up (1 unless down),
 * eddy_mirror_link_state{state} (1 for the current state), eddy_mirror_lag_records,
 * eddy_mirror_lag_bytes, eddy_mirror_lag_age_seconds, eddy_mirror_sent_records_total,
 * eddy_mirror_sent_bytes_total, eddy_mirror_skipped_records_total (records retention
 * deleted before the link delivered them: data lost to the central cluster).
 */
import type { MetricsRegistry } from "./metrics.ts";

export interface MqttMetricsSnapshot {
  connections: number;
  sessions: number;
  retained: number;
  /** QoS 1/2 deliveries sent and not yet acknowledged, over every session's in-flight window. */
  inflight?: number;
  /** Records in the log that sessions have not read yet (their backlog: cursors behind the high watermark). */
  queued?: number;
  messagesIn: readonly number[];
  messagesOut: readonly number[];
  dropped: Readonly<Record<string, number>>;
  connectionsAccepted: number;
  connectionsRefused: number;
}

/** Register the MQTT metrics; `read` is called on every scrape. Returns the collector's remover. */
export function attachMqttMetrics(registry: MetricsRegistry, read: () => MqttMetricsSnapshot): () => void {
  const connections = registry.gauge({ name: "eddy_mqtt_connections", help: "Connected MQTT clients" });
  const sessions = registry.gauge({
    name: "eddy_mqtt_sessions",
    help: "MQTT sessions held (connected or persistent)",
  });
  const retained = registry.gauge({ name: "eddy_mqtt_retained_messages", help: "Retained MQTT messages" });
  const inflight = registry.gauge({
    name: "eddy_mqtt_inflight_messages",
    help: "QoS 1/2 messages sent to MQTT clients and not yet acknowledged (in-flight windows)",
  });
  const queued = registry.gauge({
    name: "eddy_mqtt_queued_messages",
    help: "Records MQTT sessions have not read yet (backlog kept in the log, not in memory)",
  });
  const msgIn = registry.counter({
    name: "eddy_mqtt_messages_in_total",
    help: "PUBLISH packets received from MQTT clients, by QoS",
    labelNames: ["qos"],
  });
  const msgOut = registry.counter({
    name: "eddy_mqtt_messages_out_total",
    help: "PUBLISH packets sent to MQTT clients (first transmissions), by QoS",
    labelNames: ["qos"],
  });
  const dropped = registry.counter({
    name: "eddy_mqtt_messages_dropped_total",
    help: "MQTT messages not delivered or not stored, by reason",
    labelNames: ["reason"],
  });
  const conns = registry.counter({
    name: "eddy_mqtt_connections_total",
    help: "MQTT connection attempts, by result (accepted, refused)",
    labelNames: ["result"],
  });
  const seen = new Map<string, number>();
  const delta = (key: string, now: number): number => {
    const d = now - (seen.get(key) ?? 0);
    seen.set(key, now);
    return Math.max(0, d);
  };
  const collect = (): void => {
    const s = read();
    connections.set(s.connections);
    sessions.set(s.sessions);
    retained.set(s.retained);
    inflight.set(s.inflight ?? 0);
    queued.set(s.queued ?? 0);
    for (const [qos, n] of s.messagesIn.entries()) msgIn.inc({ qos }, delta(`in${qos}`, n));
    for (const [qos, n] of s.messagesOut.entries()) msgOut.inc({ qos }, delta(`out${qos}`, n));
    for (const [reason, n] of Object.entries(s.dropped)) dropped.inc({ reason }, delta(`drop:${reason}`, n));
    conns.inc({ result: "accepted" }, delta("accepted", s.connectionsAccepted));
    conns.inc({ result: "refused" }, delta("refused", s.connectionsRefused));
  };
  collect();
  return registry.addCollector(collect);
}

export interface MirrorPartitionSnapshot {
  topic: string;
  partition: number;
  state: string;
  lagRecords: number;
  lagBytes: number;
  lagAgeMs: number;
  sentRecords: number;
  sentBytes: number;
  skippedRecords: number;
}

export interface MirrorLinkSnapshot {
  name: string;
  state: string;
  partitions: readonly MirrorPartitionSnapshot[];
}

export const MIRROR_STATES = ["connecting", "forwarding", "idle", "down"] as const;

/** Register the mirror metrics; `read` is called on every scrape. Returns the collector's remover. */
export function attachMirrorMetrics(
  registry: MetricsRegistry,
  read: () => readonly MirrorLinkSnapshot[],
): () => void {
  const link = ["link"];
  const part = ["link", "topic", "partition"];
  const up = registry.gauge({
    name: "eddy_mirror_link_up",
    help: "1 while a mirror link is not down (connecting, forwarding or idle)",
    labelNames: link,
  });
  const state = registry.gauge({
    name: "eddy_mirror_link_state",
    help: "1 for a mirror link's current state",
    labelNames: ["link", "state"],
  });
  const lagRecords = registry.gauge({
    name: "eddy_mirror_lag_records",
    help: "Records the mirror still owes the central cluster",
    labelNames: part,
  });
  const lagBytes = registry.gauge({
    name: "eddy_mirror_lag_bytes",
    help: "Bytes the mirror still owes (estimate)",
    labelNames: part,
  });
  const lagAge = registry.gauge({
    name: "eddy_mirror_lag_age_seconds",
    help: "Age of the oldest record the mirror still owes",
    labelNames: part,
  });
  const sentRecords = registry.counter({
    name: "eddy_mirror_sent_records_total",
    help: "Records acknowledged by the central cluster since start",
    labelNames: part,
  });
  const sentBytes = registry.counter({
    name: "eddy_mirror_sent_bytes_total",
    help: "Bytes acknowledged by the central cluster since start",
    labelNames: part,
  });
  const skipped = registry.counter({
    name: "eddy_mirror_skipped_records_total",
    help: "Records deleted by size retention before the mirror delivered them (lost to the central cluster)",
    labelNames: part,
  });
  const seen = new Map<string, number>();
  const add = (counter: typeof skipped, labels: Record<string, string | number>, now: number): void => {
    const key = `${counter.name}\0${labels.link}\0${labels.topic}\0${labels.partition}`;
    counter.inc(labels, Math.max(0, now - (seen.get(key) ?? 0)));
    seen.set(key, now);
  };
  const collect = (): void => {
    // Gauges are re-read each time (a removed link or partition disappears); counters only grow.
    for (const g of [up, state, lagRecords, lagBytes, lagAge]) g.reset();
    for (const l of read()) {
      up.set({ link: l.name }, l.state === "down" ? 0 : 1);
      for (const s of MIRROR_STATES) state.set({ link: l.name, state: s }, l.state === s ? 1 : 0);
      for (const p of l.partitions) {
        const labels = { link: l.name, topic: p.topic, partition: p.partition };
        lagRecords.set(labels, p.lagRecords);
        lagBytes.set(labels, p.lagBytes);
        lagAge.set(labels, p.lagAgeMs / 1000);
        add(sentRecords, labels, p.sentRecords);
        add(sentBytes, labels, p.sentBytes);
        add(skipped, labels, p.skippedRecords);
      }
    }
  };
  collect();
  return registry.addCollector(collect);
}
