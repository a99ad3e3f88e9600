/**
 * One TCP fault proxy per directed peer link of a cluster on loopback, so a
 * test can break links between nodes without touching the nodes.
 *
 * Node A reaches node B's peer listener at `url(A, B)`, which is the proxy
 * of the link A→B. Peer traffic is HTTP/2 over connections that A opens to
 * B: A's requests to B (Raft messages from A, A's replica fetches when A
 * follows a leader on B) and B's responses to them. Cutting A→B breaks
 * exactly those connections; B→A (B's requests to A) keeps working. That is
 * an asymmetric cut at the connection level:
 *
 * - cut(a, b):        A can no longer open or use connections to B;
 * - isolate(n):       every link to and from n (n alone in a minority);
 * - partition(sides): every link between two different sides;
 * - heal():           every link works again.
 *
 * Modes: "blackhole" (default) holds bytes and new connections, as a router
 * dropping packets would; heal() delivers what was held, like TCP
 * retransmission after the route comes back. "reset" aborts connections (RST)
 * and refuses new ones until heal().
 */
import { type FaultProxy, startFaultProxy } from "./fault-proxy.ts";

export const CutMode = { BLACKHOLE: "blackhole", RESET: "reset" } as const;
export type CutMode = (typeof CutMode)[keyof typeof CutMode];

export interface PeerLinks {
  /** The base URL node `from` uses for node `to`'s peer listener. */
  url(from: number, to: number): string;
  cut(from: number, to: number, mode?: CutMode): void;
  isolate(node: number, mode?: CutMode): void;
  partition(sides: ReadonlyArray<readonly number[]>, mode?: CutMode): void;
  /** Heal every cut link. */
  heal(): void;
  /** The directed links cut now, as "a->b". */
  cuts(): string[];
  close(): Promise<void>;
}

export interface PeerLinksOptions {
  ids: readonly number[];
  /** The real peer listener port of each node. */
  peerPort: (id: number) => number;
}

interface Link {
  proxy: FaultProxy;
  cut: CutMode | null;
}

export async function startPeerLinks(o: PeerLinksOptions): Promise<PeerLinks> {
  const links = new Map<string, Link>();
  const key = (from: number, to: number): string => `${from}->${to}`;
  for (const from of o.ids) {
    for (const to of o.ids) {
      if (from === to) continue;
      links.set(key(from, to), { proxy: await startFaultProxy({ targetPort: o.peerPort(to) }), cut: null });
    }
  }
  const link = (from: number, to: number): Link => {
    const l = links.get(key(from, to));
    if (!l) throw new Error(`no peer link ${key(from, to)}: nodes are ${o.ids.join(", ")}`);
    return l;
  };

  const peerLinks: PeerLinks = {
    url: (from, to) => `http://127.0.0.1:${link(from, to).proxy.port}`,
    cut(from, to, mode = CutMode.BLACKHOLE) {
      const l = link(from, to);
      if (l.cut !== null) return;
      l.cut = mode;
      if (mode === CutMode.BLACKHOLE) {
        l.proxy.stall();
      } else {
        l.proxy.refuse(true);
        l.proxy.reset();
      }
    },
    isolate(node, mode) {
      peerLinks.partition([[node], o.ids.filter((id) => id !== node)], mode);
    },
    partition(sides, mode) {
      sides.forEach((side, i) => {
        for (const other of sides.slice(i + 1)) {
          for (const a of side) {
            for (const b of other) {
              peerLinks.cut(a, b, mode);
              peerLinks.cut(b, a, mode);
            }
          }
        }
      });
    },
    heal() {
      for (const l of links.values()) {
        if (l.cut === CutMode.BLACKHOLE) l.proxy.resume();
        if (l.cut === CutMode.RESET) l.proxy.refuse(false);
        l.cut = null;
      }
    },
    cuts: () => [...links].filter(([, l]) => l.cut !== null).map(([k]) => k),
    async close() {
      await Promise.all([...links.values()].map((l) => l.proxy.close()));
      links.clear();
    },
  };
  return peerLinks;
}
