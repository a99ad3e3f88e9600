/**
 * Eddy's broker and storage metrics on a MetricsRegistry.
 *
 * `createBrokerMetrics` returns hooks to hand to the storage engine
 * (`logObserver`, shaped like src/log/types.ts LogObserver) and to the broker
 * (`brokerObserver`), and `attach(source)` to read per-partition offsets and
 * sizes from the broker on each scrape. Observability is a leaf: the shapes
 * below are structural, so nothing here imports the log or the broker.
 */
import { type Counter, type Gauge, type Histogram, LATENCY_BUCKETS, MetricsRegistry } from "./metrics.ts";

/** What the scrape-time collector reads; BrokerApi satisfies it. */
export interface PartitionMetricsSource {
  listTopics(): Promise<ReadonlyArray<{ name: string }>>;
  describeTopic(name: string): Promise<{
    name: string;
    partitions: ReadonlyArray<{
      partition: number;
      logStartOffset: number;
      logEndOffset: number;
      highWatermark: number;
      sizeBytes: number;
      segments: number;
      /** Cluster mode: leader (-1 = none), replicas and ISR as the metadata log says. */
      leader?: number;
      replicas?: readonly number[];
      isr?: readonly number[];
    }>;
  }>;
  /** Present on a broker: its node id and cluster status (null on a single node). */
  readonly nodeId?: number;
  clusterStatus?(): { controllerId: number | null } | null;
}

/** Storage hooks (structurally a src/log LogObserver). */
export interface LogMetricsObserver {
  onAppend(topic: string, partition: number, records: number, bytes: number): void;
  onFsync(durationMs: number, bytes: number): void;
  onRecoveryTruncate(
    topic: string,
    partition: number,
    file: string,
    droppedBytes: number,
    reason: string,
  ): void;
}

/** Broker hooks (structurally a src/broker BrokerObserver). */
export interface BrokerMetricsObserver {
  onProduce(topic: string, partition: number, records: number, bytes: number): void;
  onFetch(bytes: number): void;
  onRetention(
    topic: string,
    partition: number,
    result: { deletedSegments: number; deletedBytes: number; logStartOffset: number },
  ): void;
  onCompaction(
    topic: string,
    partition: number,
    result: { removedRecords: number; bytesBefore: number; bytesAfter: number },
  ): void;
}

export interface BrokerMetrics {
  readonly registry: MetricsRegistry;
  readonly logObserver: LogMetricsObserver;
  readonly brokerObserver: BrokerMetricsObserver;
  /** Read partition gauges from `source` on every scrape; returns a detach function. */
  attach(source: PartitionMetricsSource): () => void;
  /** The underlying instruments (tests, other frontends). */
  readonly instruments: {
    appendedRecords: Counter;
    appendedBytes: Counter;
    fsyncSeconds: Histogram;
    fsyncBytes: Counter;
    producedRecords: Counter;
    producedBytes: Counter;
    fetchedBytes: Counter;
    retentionSegments: Counter;
    retentionBytes: Counter;
    compactionRemoved: Counter;
    recoveryTruncations: Counter;
    logStartOffset: Gauge;
    logEndOffset: Gauge;
    highWatermark: Gauge;
    partitionBytes: Gauge;
    partitionSegments: Gauge;
    isrSize: Gauge;
    underReplicated: Gauge;
    offline: Gauge;
    isController: Gauge;
  };
}

const TP = ["topic", "partition"] as const;

export function createBrokerMetrics(opts: { registry?: MetricsRegistry } = {}): BrokerMetrics {
  const registry = opts.registry ?? new MetricsRegistry();
  const i = {
    appendedRecords: registry.counter({
      name: "eddy_log_appended_records_total",
      help: "Records appended to partition logs.",
      labelNames: TP,
    }),
    appendedBytes: registry.counter({
      name: "eddy_log_appended_bytes_total",
      help: "Bytes of record batches appended to partition logs.",
      labelNames: TP,
    }),
    fsyncSeconds: registry.histogram({
      name: "eddy_log_fsync_duration_seconds",
      help: "Time taken by each group-commit fdatasync.",
      buckets: LATENCY_BUCKETS,
    }),
    fsyncBytes: registry.counter({
      name: "eddy_log_fsync_bytes_total",
      help: "Bytes made durable by fsync.",
    }),
    producedRecords: registry.counter({
      name: "eddy_produced_records_total",
      help: "Records accepted by the broker's produce path.",
      labelNames: TP,
    }),
    producedBytes: registry.counter({
      name: "eddy_produced_bytes_total",
      help: "Bytes accepted by the broker's produce path.",
      labelNames: TP,
    }),
    fetchedBytes: registry.counter({
      name: "eddy_fetch_bytes_total",
      help: "Bytes returned to consumers by fetch and readRecords.",
    }),
    retentionSegments: registry.counter({
      name: "eddy_retention_deleted_segments_total",
      help: "Segments deleted by time or size retention.",
      labelNames: TP,
    }),
    retentionBytes: registry.counter({
      name: "eddy_retention_deleted_bytes_total",
      help: "Bytes deleted by time or size retention.",
      labelNames: TP,
    }),
    compactionRemoved: registry.counter({
      name: "eddy_compaction_removed_records_total",
      help: "Records removed by log compaction.",
      labelNames: TP,
    }),
    recoveryTruncations: registry.counter({
      name: "eddy_log_recovery_truncations_total",
      help: "Torn or corrupt segment tails truncated during recovery.",
      labelNames: TP,
    }),
    logStartOffset: registry.gauge({
      name: "eddy_partition_log_start_offset",
      help: "First readable offset of the partition.",
      labelNames: TP,
    }),
    logEndOffset: registry.gauge({
      name: "eddy_partition_log_end_offset",
      help: "Offset the next record appended to the partition gets.",
      labelNames: TP,
    }),
    highWatermark: registry.gauge({
      name: "eddy_partition_high_watermark",
      help: "Offset below which records are committed and visible.",
      labelNames: TP,
    }),
    partitionBytes: registry.gauge({
      name: "eddy_partition_size_bytes",
      help: "Bytes stored for the partition.",
      labelNames: TP,
    }),
    partitionSegments: registry.gauge({
      name: "eddy_partition_segments",
      help: "Segments in the partition's log.",
      labelNames: TP,
    }),
    isrSize: registry.gauge({
      name: "eddy_partition_isr_size",
      help: "Replicas in the partition's in-sync replica set (1 on a single node).",
      labelNames: TP,
    }),
    underReplicated: registry.gauge({
      name: "eddy_cluster_under_replicated_partitions",
      help: "Partitions whose ISR is smaller than their replica set, as this node's metadata says.",
    }),
    offline: registry.gauge({
      name: "eddy_cluster_offline_partitions",
      help: "Partitions with no leader, as this node's metadata says.",
    }),
    isController: registry.gauge({
      name: "eddy_cluster_is_controller",
      help: "1 if this node is the cluster controller (the metadata leader; always 1 on a single node), else 0.",
    }),
  };

  const logObserver: LogMetricsObserver = {
    onAppend(topic, partition, records, bytes) {
      i.appendedRecords.inc({ topic, partition }, records);
      i.appendedBytes.inc({ topic, partition }, bytes);
    },
    onFsync(durationMs, bytes) {
      i.fsyncSeconds.observe(durationMs / 1000);
      i.fsyncBytes.inc(bytes);
    },
    onRecoveryTruncate(topic, partition) {
      i.recoveryTruncations.inc({ topic, partition });
    },
  };

  const brokerObserver: BrokerMetricsObserver = {
    onProduce(topic, partition, records, bytes) {
      i.producedRecords.inc({ topic, partition }, records);
      i.producedBytes.inc({ topic, partition }, bytes);
    },
    onFetch(bytes) {
      i.fetchedBytes.inc(bytes);
    },
    onRetention(topic, partition, result) {
      i.retentionSegments.inc({ topic, partition }, result.deletedSegments);
      i.retentionBytes.inc({ topic, partition }, result.deletedBytes);
    },
    onCompaction(topic, partition, result) {
      i.compactionRemoved.inc({ topic, partition }, result.removedRecords);
    },
  };

  const partitionGauges = [
    i.logStartOffset,
    i.logEndOffset,
    i.highWatermark,
    i.partitionBytes,
    i.partitionSegments,
    i.isrSize,
  ];

  const attach = (source: PartitionMetricsSource): (() => void) =>
    registry.addCollector(async () => {
      const topics = await source.listTopics();
      const described = await Promise.all(topics.map((t) => source.describeTopic(t.name).catch(() => null)));
      // Replace all series at once, after every read finished, so deleted partitions vanish
      // and concurrent scrapes never see a half-filled set.
      for (const g of partitionGauges) g.reset();
      let underReplicated = 0;
      let offline = 0;
      for (const d of described) {
        if (!d) continue;
        for (const p of d.partitions) {
          const isr = p.isr?.length ?? 1;
          if (isr < (p.replicas?.length ?? 1)) underReplicated++;
          if ((p.leader ?? 0) < 0) offline++;
          const labels = { topic: d.name, partition: p.partition };
          i.logStartOffset.set(labels, p.logStartOffset);
          i.logEndOffset.set(labels, p.logEndOffset);
          i.highWatermark.set(labels, p.highWatermark);
          i.partitionBytes.set(labels, p.sizeBytes);
          i.partitionSegments.set(labels, p.segments);
          i.isrSize.set(labels, isr);
        }
      }
      if (source.clusterStatus) {
        const status = source.clusterStatus();
        const controller = status ? status.controllerId === source.nodeId : true;
        i.underReplicated.set(underReplicated);
        i.offline.set(offline);
        i.isController.set(controller ? 1 : 0);
      }
    });

  return { registry, logObserver, brokerObserver, attach, instruments: i };
}
