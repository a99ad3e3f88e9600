/**
 * The metadata log's commands: what the controller (the Raft leader)
 * proposes and every node applies (metadata-machine.ts). JSON in a Raft
 * entry; a version field lets later releases add commands. Apply is
 * deterministic and checks each command's precondition against the applied
 * state, so a command proposed from a stale view is skipped, never misapplied.
 */
import { EddyError, ErrorCode } from "../errors.ts";
import type { TopicRecord } from "../metadata/types.ts";

export const CommandType = {
  REGISTER_NODE: "register-node",
  CREATE_TOPIC: "create-topic",
  DELETE_TOPIC: "delete-topic",
  ALTER_CONFIGS: "alter-configs",
  CREATE_PARTITIONS: "create-partitions",
  /** New leader (or -1) and a new leader epoch; applies only if `prevEpoch` is current. */
  PARTITION_LEADER_CHANGE: "partition-leader-change",
  /** New ISR from the partition leader; applies only if leader and epoch are current. */
  ISR_CHANGE: "isr-change",
  /**
   * A partition's replicas, ISR and leader set by the controller for a
   * reassignment (start, replace, complete, cancel); bumps the leader epoch;
   * applies only if `prevEpoch` is current. `reassignment` is the one in
   * progress afterwards (null: none).
   */
  PARTITION_REASSIGNMENT: "partition-reassignment",
  /** The cluster id; only the first one in the log applies. */
  SET_CLUSTER_ID: "set-cluster-id",
} as const;
export type CommandType = (typeof CommandType)[keyof typeof CommandType];

export type MetadataCommand =
  | { type: typeof CommandType.REGISTER_NODE; id: number; witness: boolean; at: number }
  | {
      type: typeof CommandType.CREATE_TOPIC;
      topic: TopicRecord;
      /** Replicas per partition, preferred leader first; the first is the initial leader. */
      replicas: number[][];
    }
  | { type: typeof CommandType.DELETE_TOPIC; name: string; id: string }
  | { type: typeof CommandType.ALTER_CONFIGS; name: string; configs: Record<string, string> }
  | {
      type: typeof CommandType.CREATE_PARTITIONS;
      name: string;
      /** The partition count the command was computed from; replicas are for partitions from there on. */
      from: number;
      replicas: number[][];
    }
  | {
      type: typeof CommandType.PARTITION_LEADER_CHANGE;
      topic: string;
      partition: number;
      prevEpoch: number;
      leader: number;
      isr: number[];
    }
  | {
      type: typeof CommandType.ISR_CHANGE;
      topic: string;
      partition: number;
      leader: number;
      leaderEpoch: number;
      isr: number[];
    }
  | {
      type: typeof CommandType.PARTITION_REASSIGNMENT;
      topic: string;
      partition: number;
      prevEpoch: number;
      replicas: number[];
      isr: number[];
      leader: number;
      reassignment: { original: number[]; target: number[] } | null;
    }
  | { type: typeof CommandType.SET_CLUSTER_ID; id: string };

const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(cmd: MetadataCommand): Uint8Array {
  return enc.encode(JSON.stringify({ v: VERSION, ...cmd }));
}

export function decodeCommand(data: Uint8Array): MetadataCommand {
  let parsed: unknown;
  try {
    parsed = JSON.parse(dec.decode(data));
  } catch {
    throw new EddyError(
      ErrorCode.CORRUPT_RECORD,
      "metadata command is not JSON: the metadata log is damaged",
    );
  }
  const p = parsed as { v?: unknown; type?: unknown };
  if (typeof p !== "object" || p === null || p.v !== VERSION || typeof p.type !== "string") {
    throw new EddyError(
      ErrorCode.UNSUPPORTED_FORMAT,
      "metadata command of an unknown version: upgrade this node to the cluster's release",
    );
  }
  if (!(Object.values(CommandType) as string[]).includes(p.type)) {
    throw new EddyError(
      ErrorCode.UNSUPPORTED_FORMAT,
      `unknown metadata command '${p.type}': upgrade this node to the cluster's release`,
    );
  }
  const { v: _v, ...cmd } = p;
  return cmd as MetadataCommand;
}
