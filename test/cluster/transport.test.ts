/**
 * The peer transport on loopback (h2c: Bun.serve({http2:true}) server, node:http2
 * client), and Raft carried over it between 3 in-process nodes with file storage.
 */
import { afterEach, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RaftDriver, type RaftStateMachine } from "../../src/cluster/raft/driver.ts";
import { FileRaftStorage } from "../../src/cluster/raft/file-storage.ts";
import { decodeMessage, encodeMessage } from "../../src/cluster/raft/message-codec.ts";
import { EntryKind, type LogEntry, Role, type Snapshot } from "../../src/cluster/raft/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { PeerClient } from "../../src/replication/transport/client.ts";
import { PeerServer } from "../../src/replication/transport/server.ts";
import { systemClock } from "../../src/util/clock.ts";

const SECRET = "s3cret-for-tests";
const enc = new TextEncoder();
const dec = new TextDecoder();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const until = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

function server(port = 0, secret = SECRET): PeerServer {
  const s = new PeerServer({ hostname: "127.0.0.1", port, secret, logger: silentLogger });
  s.start();
  cleanups.push(() => s.stop());
  return s;
}

function client(nodeId: number, peers: Map<number, string>, secret = SECRET): PeerClient {
  const c = new PeerClient({ nodeId, peers, secret, logger: silentLogger });
  cleanups.push(() => c.close());
  return c;
}

describe("peer transport", () => {
  it("carries an RPC over h2c, with the caller's node id", async () => {
    const s = server().route("/echo", async (req) => enc.encode(`${req.from}:${dec.decode(req.body)}`));
    const c = client(7, new Map([[1, s.url]]));
    const out = await c.request(1, "/echo", enc.encode("hi"), { timeoutMs: 5_000 });
    expect(dec.decode(out!)).toBe("7:hi");
  });

  it("refuses a wrong shared secret and unknown routes", async () => {
    const s = server().route("/echo", async (req) => req.body);
    const bad = client(1, new Map([[1, s.url]]), "wrong");
    await expect(bad.request(1, "/echo", enc.encode("x"), { timeoutMs: 5_000 })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    const good = client(1, new Map([[1, s.url]]));
    await expect(good.request(1, "/nope", enc.encode("x"), { timeoutMs: 5_000 })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("refuses cleartext off loopback and listeners without authentication", () => {
    expect(() => new PeerServer({ hostname: "0.0.0.0", port: 0, secret: "x", logger: silentLogger })).toThrow(
      /needs TLS/,
    );
    expect(() => new PeerServer({ hostname: "127.0.0.1", port: 0, logger: silentLogger })).toThrow(
      /needs authentication/,
    );
  });

  it("serves long-polls and lets the caller abort them", async () => {
    let release: (v: Uint8Array) => void = () => {};
    const s = server()
      .route("/poll", () => new Promise<Uint8Array>((r) => (release = r)))
      .route("/forever", () => new Promise<Uint8Array>(() => {}));
    const c = client(1, new Map([[1, s.url]]));
    const pending = c.request(1, "/poll", new Uint8Array(0), { timeoutMs: 10_000 });
    await Bun.sleep(50);
    release(enc.encode("news"));
    expect(dec.decode((await pending)!)).toBe("news");
    const ac = new AbortController();
    const aborted = c.request(1, "/forever", new Uint8Array(0), { timeoutMs: 10_000, signal: ac.signal });
    ac.abort(new Error("caller gave up"));
    await expect(aborted).rejects.toThrow("caller gave up");
    await expect(c.request(1, "/forever", new Uint8Array(0), { timeoutMs: 100 })).rejects.toMatchObject({
      code: "TIMEOUT",
    });
  });

  it("pulls large bodies in responses and caps request bytes in flight (no ENHANCE_YOUR_CALM)", async () => {
    const big = new Uint8Array(24 * 1024 * 1024).fill(7);
    const s = server()
      .route("/pull", async () => big)
      .route("/push", async (req) => enc.encode(String(req.body.length)));
    const c = client(1, new Map([[1, s.url]]));
    const got = await c.request(1, "/pull", new Uint8Array(0), { timeoutMs: 20_000 });
    expect(got!.length).toBe(big.length);
    const body = new Uint8Array(512 * 1024);
    const sizes = await Promise.all(
      Array.from({ length: 48 }, () => c.request(1, "/push", body, { timeoutMs: 20_000 })),
    );
    expect(sizes.map((b) => dec.decode(b!))).toEqual(Array(48).fill(String(body.length)));
  });

  it("survives a peer restart on the same port", async () => {
    const s1 = server().route("/echo", async (req) => req.body);
    const port = s1.port;
    const c = client(1, new Map([[1, `http://127.0.0.1:${port}`]]));
    expect(dec.decode((await c.request(1, "/echo", enc.encode("a"), { timeoutMs: 5_000 }))!)).toBe("a");
    await s1.stop();
    await expect(c.request(1, "/echo", enc.encode("b"), { timeoutMs: 300 })).rejects.toMatchObject({
      code: "TIMEOUT",
    });
    server(port).route("/echo", async (req) => req.body);
    expect(dec.decode((await c.request(1, "/echo", enc.encode("c"), { timeoutMs: 5_000 }))!)).toBe("c");
  });
});

// ------------------------------------------------------------------ Raft over the transport

class ListMachine implements RaftStateMachine {
  applied: string[] = [];
  apply(e: LogEntry): void {
    if (e.kind === EntryKind.COMMAND) this.applied.push(dec.decode(e.data));
  }
  restore(s: Snapshot): void {
    this.applied = JSON.parse(dec.decode(s.data)) as string[];
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.applied));
  }
}

interface Peer {
  id: number;
  dir: string;
  port: number;
  server: PeerServer;
  client: PeerClient;
  storage: FileRaftStorage;
  driver: RaftDriver;
  machine: ListMachine;
}

const config = { voters: [{ id: 1 }, { id: 2 }, { id: 3 }] };

async function startPeer(id: number, dir: string, srv: PeerServer, urls: Map<number, string>): Promise<Peer> {
  const client = new PeerClient({
    nodeId: id,
    peers: urls,
    secret: SECRET,
    logger: silentLogger,
    retries: 0,
  });
  const storage = await FileRaftStorage.open(dir);
  const machine = new ListMachine();
  const driver = await RaftDriver.open({
    id,
    config,
    storage,
    machine,
    clock: systemClock,
    logger: silentLogger,
    electionTimeoutMs: 300,
    heartbeatIntervalMs: 50,
    snapshotEvery: 5,
    send: (m) => {
      client.request(m.to, "/raft/v1/message", encodeMessage(m), { timeoutMs: 1_000 }).catch(() => {});
    },
  });
  srv.route("/raft/v1/message", async (req) => {
    driver.receive(decodeMessage(req.body));
    return null;
  });
  driver.start();
  return { id, dir, port: srv.port, server: srv, client, storage, driver, machine };
}

async function stopPeer(p: Peer): Promise<void> {
  await p.driver.stop();
  await p.server.stop();
  p.client.close();
  await p.storage.close();
}

describe("raft over the peer transport", () => {
  it("elects a leader, commits entries, and survives a peer restart", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-raft-net-"));
    const servers = [1, 2, 3].map((id) => {
      const s = new PeerServer({ hostname: "127.0.0.1", port: 0, secret: SECRET, logger: silentLogger });
      s.start();
      return [id, s] as const;
    });
    const urls = new Map(servers.map(([id, s]) => [id, s.url]));
    const peers = new Map<number, Peer>();
    for (const [id, s] of servers) peers.set(id, await startPeer(id, path.join(root, `n${id}`), s, urls));
    cleanups.push(async () => {
      for (const p of peers.values()) await stopPeer(p);
      fs.rmSync(root, { recursive: true, force: true });
    });
    const leader = (): Peer | undefined =>
      [...peers.values()].find((p) => p.driver.status().role === Role.LEADER);
    await waitFor("a leader", () => leader() !== undefined);
    for (let i = 0; i < 8; i++) await leader()!.driver.propose(enc.encode(`cmd${i}`));
    const want = Array.from({ length: 8 }, (_, i) => `cmd${i}`);
    await waitFor("all nodes applied", () =>
      [...peers.values()].every((p) => p.machine.applied.length === 8),
    );
    for (const p of peers.values()) expect(p.machine.applied).toEqual(want);
    expect(await leader()!.driver.readIndex()).toBeGreaterThanOrEqual(8);

    // Restart a follower from its data dir on the same port; the others keep committing meanwhile.
    const victim = [...peers.values()].find((p) => p !== leader())!;
    await stopPeer(victim);
    peers.delete(victim.id);
    for (let i = 8; i < 12; i++) await leader()!.driver.propose(enc.encode(`cmd${i}`));
    const srv = new PeerServer({
      hostname: "127.0.0.1",
      port: victim.port,
      secret: SECRET,
      logger: silentLogger,
    });
    srv.start();
    peers.set(victim.id, await startPeer(victim.id, victim.dir, srv, urls));
    await waitFor("restarted node caught up", () => peers.get(victim.id)!.machine.applied.length === 12);
    expect(peers.get(victim.id)!.machine.applied).toEqual(Array.from({ length: 12 }, (_, i) => `cmd${i}`));
  });
});

describe("raft message codec", () => {
  it("round-trips entries and snapshots, and rejects malformed input with INVALID_REQUEST", () => {
    const m = {
      type: "snapshot" as const,
      from: 1,
      to: 2,
      term: 3,
      round: 4,
      snapshot: { meta: { index: 9, term: 3, config }, data: enc.encode("state") },
    };
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
    const a = {
      type: "append" as const,
      from: 1,
      to: 3,
      term: 2,
      prevIndex: 4,
      prevTerm: 1,
      commit: 4,
      round: 0,
      entries: [{ index: 5, term: 2, kind: EntryKind.COMMAND, data: enc.encode("x") }],
    };
    expect(decodeMessage(encodeMessage(a))).toEqual(a);
    for (const bad of [
      "",
      "null",
      "{}",
      '{"type":"append","from":1,"to":2,"term":1}',
      '{"type":"vote","from":"x"}',
    ]) {
      expect(() => decodeMessage(enc.encode(bad))).toThrow(
        expect.objectContaining({ code: "INVALID_REQUEST" }),
      );
    }
  });
});
