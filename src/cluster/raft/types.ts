/**
 * Raft types: log entries, persistent state, snapshots, wire messages and the
 * output a `RaftNode` step produces. Plain data only, so the same values travel
 * through the in-memory simulator, the file storage and the HTTP/2 transport.
 */

export type NodeId = number;

export const EntryKind = {
  /** An application command (a metadata state-machine command). */
  COMMAND: 0,
  /** The empty entry a new leader appends to commit entries of earlier terms. */
  NOOP: 1,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** What must be on disk before a vote or an append is acknowledged. */
export interface HardState {
  readonly term: number;
  readonly votedFor: NodeId | null;
  /** Known commit index (an optimisation for restart; may lag the truth). */
  readonly commit: number;
}

export interface Voter {
  readonly id: NodeId;
  /**
   * A witness votes and stores the (small) metadata log, but holds no
   * partition data, campaigns only after twice the election timeout, and as
   * leader hands leadership to the first caught-up data voter. See node.ts.
   */
  readonly witness?: boolean;
}

export interface ClusterConfig {
  readonly voters: readonly Voter[];
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers. */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  readonly config: ClusterConfig;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state at `meta.index`. */
  readonly data: Uint8Array;
}

export const MessageType = {
  PRE_VOTE: "pre-vote",
  PRE_VOTE_RESP: "pre-vote-resp",
  VOTE: "vote",
  VOTE_RESP: "vote-resp",
  APPEND: "append",
  APPEND_RESP: "append-resp",
  SNAPSHOT: "snapshot",
  SNAPSHOT_RESP: "snapshot-resp",
  TIMEOUT_NOW: "timeout-now",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

interface Base {
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's term; for PRE_VOTE, the term the sender would campaign in. */
  readonly term: number;
}

export interface VoteRequest extends Base {
  readonly type: typeof MessageType.PRE_VOTE | typeof MessageType.VOTE;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when a leadership transfer asked for this election: bypasses leader stickiness. */
  readonly transfer?: boolean;
}

export interface VoteResponse extends Base {
  readonly type: typeof MessageType.PRE_VOTE_RESP | typeof MessageType.VOTE_RESP;
  readonly granted: boolean;
}

export interface AppendRequest extends Base {
  readonly type: typeof MessageType.APPEND;
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly LogEntry[];
  readonly commit: number;
  /** Heartbeat round, echoed back: a majority of echoes confirms a read index. */
  readonly round: number;
}

export interface AppendResponse extends Base {
  readonly type: typeof MessageType.APPEND_RESP;
  readonly success: boolean;
  /** On success: the follower's log matches the leader's up to here. */
  readonly matchIndex: number;
  /** On failure: where the leader should retry from (fast backtracking). */
  readonly conflictIndex: number;
  /** On failure: the follower's term at prevIndex, or 0 if its log is shorter. */
  readonly conflictTerm: number;
  readonly round: number;
}

export interface SnapshotRequest extends Base {
  readonly type: typeof MessageType.SNAPSHOT;
  readonly snapshot: Snapshot;
  readonly round: number;
}

export interface SnapshotResponse extends Base {
  readonly type: typeof MessageType.SNAPSHOT_RESP;
  readonly matchIndex: number;
  readonly round: number;
}

export interface TimeoutNow extends Base {
  readonly type: typeof MessageType.TIMEOUT_NOW;
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | SnapshotRequest
  | SnapshotResponse
  | TimeoutNow;

export const Role = {
  FOLLOWER: "follower",
  PRE_CANDIDATE: "pre-candidate",
  CANDIDATE: "candidate",
  LEADER: "leader",
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** A linearizable read is safe at `index` once the state machine has applied it. */
export interface ReadState {
  readonly ctx: number;
  readonly index: number;
}

/**
 * What one step of the node asks its driver to do, in this order:
 *  1. persist `snapshot` (if any), then `truncateFrom`, then `entries`, then
 *     `hardState`, durably (fsync), as one unit;
 *  2. if `snapshot` was received from a leader, restore the state machine from it;
 *  3. send `messages` (only after step 1: votes and appends are acknowledged
 *     only once they are on disk);
 *  4. apply `committed` to the state machine, in order;
 *  5. serve `reads` once the state machine has applied up to their index.
 */
export interface RaftOutput {
  hardState: HardState | null;
  snapshot: Snapshot | null;
  /** True when `snapshot` came from the leader (restore), false when taken locally. */
  snapshotInstalled: boolean;
  truncateFrom: number | null;
  entries: LogEntry[];
  messages: RaftMessage[];
  committed: LogEntry[];
  reads: ReadState[];
  /** Reads that can never complete here (lost leadership): retry on the leader. */
  failedReads: number[];
}

export function emptyOutput(): RaftOutput {
  return {
    hardState: null,
    snapshot: null,
    snapshotInstalled: false,
    truncateFrom: null,
    entries: [],
    messages: [],
    committed: [],
    reads: [],
    failedReads: [],
  };
}

/** What the node persisted, handed back on restart. */
export interface RaftPersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly LogEntry[];
}
