/**
 * Raft's durable state behind a narrow interface (hard state, log entries,
 * snapshot), with an in-memory twin. Both implementations pass
 * test/cluster/raft-storage.test.ts.
 *
 * `persist` applies one batch in this order and resolves only once it is
 * durable (the file implementation fsyncs):
 *   1. `snapshot`: kept if newer than the stored one. Entries up to its index
 *      are dropped; later entries are kept only if the log holds the snapshot's
 *      last entry with the same term (Raft §7), otherwise all are dropped.
 *   2. `truncateFrom`: drop entries at that index and above.
 *   3. `entries`: append; each must follow the last stored index (entries
 *      covered by the snapshot are ignored).
 *   4. `hardState`: replace.
 */
import { EddyError, ErrorCode } from "../../errors.ts";
import type { HardState, LogEntry, RaftPersistedState, Snapshot } from "./types.ts";

export interface PersistBatch {
  readonly snapshot?: Snapshot | null;
  readonly truncateFrom?: number | null;
  readonly entries?: readonly LogEntry[];
  readonly hardState?: HardState | null;
}

export interface RaftStorage {
  load(): Promise<RaftPersistedState>;
  persist(batch: PersistBatch): Promise<void>;
  close(): Promise<void>;
}

export const INITIAL_HARD_STATE: HardState = { term: 0, votedFor: null, commit: 0 };

/** The logical state both implementations keep; shared so they agree exactly. */
export class LogicalRaftState {
  hardState: HardState = INITIAL_HARD_STATE;
  snapshot: Snapshot | null = null;
  /** Index and term just before entries[0]. */
  baseIndex = 0;
  baseTerm = 0;
  entries: LogEntry[] = [];

  lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    return this.entries[index - this.baseIndex - 1]?.term;
  }

  applySnapshot(snap: Snapshot): boolean {
    const { index, term } = snap.meta;
    if (this.snapshot && index <= this.snapshot.meta.index) return false;
    this.snapshot = snap;
    if (this.termAt(index) === term) this.entries = this.entries.slice(index - this.baseIndex);
    else this.entries = [];
    this.baseIndex = index;
    this.baseTerm = term;
    return true;
  }

  truncateFrom(index: number): void {
    if (index <= this.baseIndex) this.entries = [];
    else this.entries.length = Math.min(this.entries.length, index - this.baseIndex - 1);
  }

  /** Returns the entries actually appended (those above the snapshot). */
  append(entries: readonly LogEntry[]): LogEntry[] {
    const added: LogEntry[] = [];
    for (const e of entries) {
      if (e.index <= this.baseIndex) continue;
      if (e.index !== this.lastIndex() + 1) {
        throw new EddyError(
          ErrorCode.STORAGE_ERROR,
          `raft storage: entry ${e.index} does not follow ${this.lastIndex()}`,
        );
      }
      this.entries.push(e);
      added.push(e);
    }
    return added;
  }

  view(): RaftPersistedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}

/** The in-memory twin: durable for the life of the object (tests, simulations). */
export class MemoryRaftStorage implements RaftStorage {
  private readonly state = new LogicalRaftState();

  async load(): Promise<RaftPersistedState> {
    return this.state.view();
  }

  async persist(batch: PersistBatch): Promise<void> {
    this.persistSync(batch);
  }

  /** Synchronous form for deterministic simulations. */
  persistSync(batch: PersistBatch): void {
    if (batch.snapshot) this.state.applySnapshot(batch.snapshot);
    if (batch.truncateFrom != null) this.state.truncateFrom(batch.truncateFrom);
    if (batch.entries?.length) this.state.append(batch.entries);
    if (batch.hardState) this.state.hardState = batch.hardState;
  }

  loadSync(): RaftPersistedState {
    return this.state.view();
  }

  async close(): Promise<void> {}
}
