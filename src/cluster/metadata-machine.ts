/**
 * The metadata state machine behind Raft: every node applies the committed
 * commands (commands.ts) into its own MetadataStore, so topics, configs,
 * partition assignments (leader, leader epoch, replicas, ISR) and registered
 * nodes are the same on every node at the same log index.
 *
 * Exactly-once application across restarts: the last applied index is kept
 * in the store (`cluster.metadata.applied`); entries at or below it are
 * skipped when Raft replays its log, and a stored Raft snapshot that is not
 * newer than the store's state is not restored over it (restoring would
 * briefly delete topics created after the snapshot). Every command's apply is
 * also idempotent, for a crash between the command and the index update.
 *
 * Apply is synchronous SQL and fast; the broker reacts to `onChange`
 * asynchronously (opening logs must never stall Raft's heartbeats).
 * Snapshot = the cluster tables serialized as JSON.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type {
  ClusterNodeRecord,
  MetadataStore,
  PartitionAssignment,
  TopicRecord,
} from "../metadata/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { RaftStateMachine } from "./raft/driver.ts";
import { EntryKind, type LogEntry, type Snapshot } from "./raft/types.ts";
import { CommandType, decodeCommand, type MetadataCommand } from "./commands.ts";
import { loadReassignments, type ReassignmentRecord, saveReassignments } from "./reassign.ts";

export const APPLIED_SETTING = "cluster.metadata.applied";
/** The cluster id the metadata log agreed on (the first SET_CLUSTER_ID). */
export const LOG_CLUSTER_ID_SETTING = "cluster.metadata.cluster-id";

export type MetadataChange =
  /** Topics were created, deleted, reconfigured or grown. */
  | { kind: "topics" }
  /** A partition's leader, leader epoch or ISR changed. */
  | { kind: "partition"; topic: string; partition: number }
  | { kind: "nodes" }
  /** The metadata log agreed on the cluster id. */
  | { kind: "cluster-id" }
  /** The whole state was replaced from a snapshot. */
  | { kind: "reset" };

export interface MetadataMachineOptions {
  store: MetadataStore;
  logger: Logger;
  onChange: (change: MetadataChange, index: number) => void;
}

interface SnapshotData {
  v: 1;
  topics: TopicRecord[];
  assignments: PartitionAssignment[];
  nodes: ClusterNodeRecord[];
  /** Absent in snapshots of releases before reassignment. */
  reassignments?: ReassignmentRecord[];
  clusterId?: string | null;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class MetadataMachine implements RaftStateMachine {
  private appliedIndex: number;
  private readonly waiters: Array<{ index: number; resolve: () => void }> = [];

  constructor(private readonly o: MetadataMachineOptions) {
    this.appliedIndex = Number(o.store.getSetting(APPLIED_SETTING) ?? 0);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  /** Resolve once this node has applied `index`. */
  waitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ index, resolve }));
  }

  apply(entry: LogEntry): void {
    if (entry.index <= this.appliedIndex) return;
    let change: MetadataChange | null = null;
    if (entry.kind === EntryKind.COMMAND) {
      try {
        change = this.applyCommand(decodeCommand(entry.data));
      } catch (err) {
        // A command that cannot apply is skipped on every node alike (same state, same code).
        this.o.logger.warn("metadata command skipped", { index: entry.index, err });
      }
    }
    this.setApplied(entry.index);
    if (change) this.o.onChange(change, entry.index);
  }

  restore(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.appliedIndex) return;
    const data = JSON.parse(dec.decode(snapshot.data)) as SnapshotData;
    if (data.v !== 1) {
      throw new EddyError(
        ErrorCode.UNSUPPORTED_FORMAT,
        "metadata snapshot of an unknown version: upgrade this node",
      );
    }
    const s = this.o.store;
    const wanted = new Map(data.topics.map((t) => [t.name, t]));
    for (const t of s.listTopics()) {
      const w = wanted.get(t.name);
      if (!w || w.id !== t.id) {
        s.deleteTopic(t.name);
        s.deleteOffsetsForTopic(t.name);
      }
    }
    for (const t of data.topics) {
      const have = s.getTopic(t.name);
      if (!have) s.createTopic(t);
      else {
        s.setTopicConfigs(t.name, t.configs);
        if (t.partitions > have.partitions) s.setPartitionCount(t.name, t.partitions);
      }
    }
    s.setPartitionAssignments(data.assignments);
    for (const n of data.nodes) s.registerClusterNode(n);
    saveReassignments(s, data.reassignments ?? []);
    if (data.clusterId) s.setSetting(LOG_CLUSTER_ID_SETTING, data.clusterId);
    this.setApplied(snapshot.meta.index);
    this.o.onChange({ kind: "reset" }, snapshot.meta.index);
  }

  snapshot(): Uint8Array {
    const s = this.o.store;
    const data: SnapshotData = {
      v: 1,
      topics: s.listTopics(),
      assignments: s.listPartitionAssignments(),
      nodes: s.listClusterNodes(),
      reassignments: loadReassignments(s),
      clusterId: s.getSetting(LOG_CLUSTER_ID_SETTING),
    };
    return enc.encode(JSON.stringify(data));
  }

  private setApplied(index: number): void {
    this.appliedIndex = index;
    this.o.store.setSetting(APPLIED_SETTING, String(index));
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.index <= index) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private applyCommand(cmd: MetadataCommand): MetadataChange | null {
    const s = this.o.store;
    switch (cmd.type) {
      case CommandType.REGISTER_NODE:
        s.registerClusterNode({ id: cmd.id, witness: cmd.witness, registeredAt: cmd.at });
        return { kind: "nodes" };
      case CommandType.CREATE_TOPIC: {
        if (s.getTopic(cmd.topic.name)) return null;
        s.createTopic(cmd.topic);
        s.setPartitionAssignments(initialAssignments(cmd.topic.name, 0, cmd.replicas));
        return { kind: "topics" };
      }
      case CommandType.DELETE_TOPIC: {
        if (s.getTopic(cmd.name)?.id !== cmd.id) return null;
        s.deleteTopic(cmd.name);
        s.deleteOffsetsForTopic(cmd.name);
        const left = loadReassignments(s).filter((r) => r.topic !== cmd.name);
        if (left.length !== loadReassignments(s).length) saveReassignments(s, left);
        return { kind: "topics" };
      }
      case CommandType.ALTER_CONFIGS:
        if (!s.getTopic(cmd.name)) return null;
        s.setTopicConfigs(cmd.name, cmd.configs);
        return { kind: "topics" };
      case CommandType.CREATE_PARTITIONS: {
        if (s.getTopic(cmd.name)?.partitions !== cmd.from) return null;
        s.setPartitionCount(cmd.name, cmd.from + cmd.replicas.length);
        s.setPartitionAssignments(initialAssignments(cmd.name, cmd.from, cmd.replicas));
        return { kind: "topics" };
      }
      case CommandType.PARTITION_LEADER_CHANGE: {
        const a = this.assignment(cmd.topic, cmd.partition);
        if (!a || a.leaderEpoch !== cmd.prevEpoch) return null;
        s.setPartitionAssignments([
          { ...a, leader: cmd.leader, leaderEpoch: a.leaderEpoch + 1, isr: cmd.isr },
        ]);
        return { kind: "partition", topic: cmd.topic, partition: cmd.partition };
      }
      case CommandType.ISR_CHANGE: {
        const a = this.assignment(cmd.topic, cmd.partition);
        if (!a || a.leader !== cmd.leader || a.leaderEpoch !== cmd.leaderEpoch) return null;
        if (!cmd.isr.includes(cmd.leader)) return null;
        s.setPartitionAssignments([{ ...a, isr: cmd.isr }]);
        return { kind: "partition", topic: cmd.topic, partition: cmd.partition };
      }
      case CommandType.PARTITION_REASSIGNMENT: {
        const a = this.assignment(cmd.topic, cmd.partition);
        if (!a || a.leaderEpoch !== cmd.prevEpoch || !validReassignment(cmd)) return null;
        s.setPartitionAssignments([
          {
            ...a,
            replicas: cmd.replicas,
            isr: cmd.isr,
            leader: cmd.leader,
            leaderEpoch: a.leaderEpoch + 1,
          },
        ]);
        const list = loadReassignments(s).filter(
          (r) => r.topic !== cmd.topic || r.partition !== cmd.partition,
        );
        if (cmd.reassignment) list.push({ topic: cmd.topic, partition: cmd.partition, ...cmd.reassignment });
        saveReassignments(s, list);
        return { kind: "partition", topic: cmd.topic, partition: cmd.partition };
      }
      case CommandType.SET_CLUSTER_ID:
        if (s.getSetting(LOG_CLUSTER_ID_SETTING) || !cmd.id) return null;
        s.setSetting(LOG_CLUSTER_ID_SETTING, cmd.id);
        return { kind: "cluster-id" };
    }
  }

  private assignment(topic: string, partition: number): PartitionAssignment | undefined {
    return this.o.store.listPartitionAssignments(topic).find((a) => a.partition === partition);
  }
}

/** A reassignment command's partition state is coherent: leader in the ISR, ISR within the replicas. */
function validReassignment(cmd: Extract<MetadataCommand, { type: "partition-reassignment" }>): boolean {
  const { replicas, isr, leader } = cmd;
  return (
    replicas.length > 0 &&
    new Set(replicas).size === replicas.length &&
    isr.includes(leader) &&
    isr.every((r) => replicas.includes(r))
  );
}

function initialAssignments(topic: string, from: number, replicas: number[][]): PartitionAssignment[] {
  return replicas.map((r, i) => ({
    topic,
    partition: from + i,
    leader: r[0] ?? -1,
    leaderEpoch: 0,
    replicas: r,
    isr: [...r],
  }));
}
