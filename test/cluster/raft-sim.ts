/**
 * A deterministic, seeded network simulator for RaftNode: message delay, loss,
 * duplication, reordering, directed link cuts, node crash and restart from
 * (in-memory) storage, and automatic snapshots. It checks Raft's safety
 * properties after every step and throws on the first violation.
 */
import { RaftNode } from "../../src/cluster/raft/node.ts";
import { MemoryRaftStorage } from "../../src/cluster/raft/storage.ts";
import {
  type ClusterConfig,
  EntryKind,
  type LogEntry,
  type NodeId,
  type RaftMessage,
  type RaftOutput,
  Role,
} from "../../src/cluster/raft/types.ts";

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimOptions {
  seed: number;
  config: ClusterConfig;
  lossRate?: number;
  dupRate?: number;
  minDelay?: number;
  maxDelay?: number;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Snapshot when this many applied entries follow the last snapshot (0: never). */
  snapshotEvery?: number;
}

interface InFlight {
  at: number;
  seq: number;
  msg: RaftMessage;
}

interface MachineState {
  /** Applied commands, index i at position i - 1. */
  applied: string[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function render(e: LogEntry): string {
  return e.kind === EntryKind.NOOP ? `noop@${e.term}` : dec.decode(e.data);
}

export class Sim {
  readonly rng: () => number;
  now = 0;
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, RaftNode | null>();
  readonly storage = new Map<NodeId, MemoryRaftStorage>();
  readonly machines = new Map<NodeId, MachineState>();
  private queue: InFlight[] = [];
  private seq = 0;
  readonly cut = new Set<string>();
  lossRate: number;
  dupRate: number;
  private readonly leaders = new Map<number, NodeId>();
  /** index → rendered command and the highest term anyone had when it was first applied. */
  readonly committed = new Map<number, { value: string; term: number; bound: number }>();
  private proposals = 0;
  lastProposed = "";
  readonly reads: { node: NodeId; ctx: number; index: number }[] = [];

  constructor(readonly opts: SimOptions) {
    this.rng = mulberry32(opts.seed);
    this.lossRate = opts.lossRate ?? 0;
    this.dupRate = opts.dupRate ?? 0;
    this.ids = opts.config.voters.map((v) => v.id);
    for (const id of this.ids) {
      this.storage.set(id, new MemoryRaftStorage());
      this.start(id);
    }
  }

  private start(id: NodeId): void {
    const restored = this.storage.get(id)!.loadSync();
    const node = new RaftNode({
      id,
      config: this.opts.config,
      random: this.rng,
      now: this.now,
      electionTimeoutMs: this.opts.electionTimeoutMs ?? 100,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs ?? 20,
      maxEntriesPerAppend: 8,
      restored,
    });
    this.nodes.set(id, node);
    const applied = restored.snapshot ? (JSON.parse(dec.decode(restored.snapshot.data)) as string[]) : [];
    this.checkRestored(applied);
    this.machines.set(id, { applied });
  }

  crash(id: NodeId): void {
    this.nodes.set(id, null);
  }

  /** A crashed node loses all its Raft state (a wiped data directory). */
  wipe(id: NodeId): void {
    if (this.nodes.get(id) === null) this.storage.set(id, new MemoryRaftStorage());
  }

  restart(id: NodeId): void {
    if (this.nodes.get(id) === null) this.start(id);
  }

  live(): RaftNode[] {
    return [...this.nodes.values()].filter((n): n is RaftNode => n !== null);
  }

  leader(): RaftNode | undefined {
    let best: RaftNode | undefined;
    for (const n of this.live()) {
      const s = n.status();
      if (s.role === Role.LEADER && (!best || s.term > best.status().term)) best = n;
    }
    return best;
  }

  /** Cut every link between the two sides (both directions). */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cutLink(x, y);
        this.cutLink(y, x);
      }
    }
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  propose(node?: RaftNode): number | null {
    const n = node ?? this.leader();
    if (!n || n.status().role !== Role.LEADER || n.status().transferTarget !== null) return null;
    this.lastProposed = `c${++this.proposals}`;
    const { index, output } = n.propose(enc.encode(this.lastProposed));
    this.handle(n.id, output);
    return index;
  }

  handle(id: NodeId, out: RaftOutput): void {
    const node = this.nodes.get(id);
    if (!node) return;
    this.storage.get(id)!.persistSync(out);
    const sm = this.machines.get(id)!;
    if (out.snapshot && out.snapshotInstalled) {
      sm.applied = JSON.parse(dec.decode(out.snapshot.data)) as string[];
      this.checkRestored(sm.applied);
    }
    for (const m of out.messages) this.send(m);
    for (const e of out.committed) this.apply(id, sm, e);
    for (const r of out.reads) this.reads.push({ node: id, ctx: r.ctx, index: r.index });
    const every = this.opts.snapshotEvery ?? 0;
    const snapIndex = node.status().snapshotIndex;
    if (every > 0 && sm.applied.length - snapIndex >= every) {
      this.handle(id, node.compact(sm.applied.length, enc.encode(JSON.stringify(sm.applied))));
    }
  }

  private send(m: RaftMessage): void {
    if (this.cut.has(`${m.from}>${m.to}`) || this.rng() < this.lossRate) return;
    const lo = this.opts.minDelay ?? 1;
    const hi = this.opts.maxDelay ?? 10;
    const copies = this.rng() < this.dupRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.queue.push({
        at: this.now + lo + Math.floor(this.rng() * (hi - lo + 1)),
        seq: this.seq++,
        msg: m,
      });
    }
  }

  private apply(id: NodeId, sm: MachineState, e: LogEntry): void {
    if (e.index !== sm.applied.length + 1) {
      throw new Error(`node ${id} applied ${e.index} after ${sm.applied.length}`);
    }
    const value = render(e);
    sm.applied.push(value);
    const known = this.committed.get(e.index);
    if (known === undefined) {
      let bound = 0;
      for (const n of this.live()) bound = Math.max(bound, n.status().term);
      for (const s of this.storage.values()) bound = Math.max(bound, s.loadSync().hardState.term);
      this.committed.set(e.index, { value, term: e.term, bound });
    } else if (known.value !== value) {
      throw new Error(
        `state machine safety: index ${e.index} is ${known.value} elsewhere, ${value} on ${id}`,
      );
    }
  }

  private checkRestored(applied: string[]): void {
    applied.forEach((v, i) => {
      const known = this.committed.get(i + 1);
      if (known && known.value !== v)
        throw new Error(`snapshot disagrees at ${i + 1}: ${v} vs ${known.value}`);
    });
  }

  /** Advance time by `ms`: deliver due messages in time order, then tick every live node. */
  step(ms = 5): void {
    const until = this.now + ms;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (!next || next.at > until) break;
      this.queue.shift();
      this.now = Math.max(this.now, next.at);
      const node = this.nodes.get(next.msg.to);
      if (node) this.handle(node.id, node.receive(next.msg, this.now));
      this.checkSafety();
    }
    this.now = until;
    for (const n of this.live()) this.handle(n.id, n.tick(this.now));
    this.checkSafety();
  }

  checkSafety(): void {
    const live = this.live();
    for (const n of live) {
      const s = n.status();
      if (s.role !== Role.LEADER) continue;
      const prev = this.leaders.get(s.term);
      if (prev !== undefined && prev !== n.id) {
        throw new Error(`election safety: ${prev} and ${n.id} both lead term ${s.term}`);
      }
      if (prev !== undefined) continue;
      this.leaders.set(s.term, n.id);
      // Leader completeness: every entry committed before this term began is in its log.
      for (const [index, c] of this.committed) {
        if (c.bound >= s.term || index <= s.snapshotIndex) continue;
        const e = n.entries(index, index)[0];
        if (!e || e.term !== c.term || render(e) !== c.value) {
          throw new Error(`leader completeness: leader ${n.id} (term ${s.term}) lacks committed ${index}`);
        }
      }
    }
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) checkLogMatching(live[i]!, live[j]!);
    }
  }

  /** Heal the network and restart crashed nodes; then wait for a leader and a commit on every node. */
  converge(maxMs: number): { ms: number } {
    this.heal();
    this.lossRate = 0;
    this.dupRate = 0;
    for (const id of this.ids) this.restart(id);
    const start = this.now;
    let target: number | null = null;
    while (this.now - start < maxMs) {
      this.step();
      if (target === null) target = this.propose();
      if (target !== null && this.live().every((n) => this.machines.get(n.id)!.applied.length >= target!)) {
        return { ms: this.now - start };
      }
      if (target !== null && !this.leader()) target = null;
    }
    throw new Error(`liveness: no commit on every node within ${maxMs} ms after healing`);
  }
}

function checkLogMatching(a: RaftNode, b: RaftNode): void {
  const ea = a.entries();
  const eb = b.entries();
  if (ea.length === 0 || eb.length === 0) return;
  const lo = Math.max(ea[0]!.index, eb[0]!.index);
  const hi = Math.min(ea[ea.length - 1]!.index, eb[eb.length - 1]!.index);
  let matched = false;
  for (let i = hi; i >= lo; i--) {
    const x = ea[i - ea[0]!.index]!;
    const y = eb[i - eb[0]!.index]!;
    if (x.term === y.term) matched = true;
    if (matched && (x.term !== y.term || render(x) !== render(y))) {
      throw new Error(`log matching: nodes ${a.id} and ${b.id} differ at ${i} below a matching entry`);
    }
  }
}
