/** `eddy mqtt` and `eddy mirror` against the real HTTP app with fake bridge providers. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createBroker } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import type { MirrorLinkView } from "../../src/http/routes/mirror.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { systemClock } from "../../src/util/clock.ts";
import { run } from "./run-cli.ts";

let url: string;
let close: () => Promise<void>;
const disconnected: string[] = [];

const link: MirrorLinkView = {
  name: "central",
  bootstrapServers: ["kafka:9092"],
  state: "forwarding",
  lagRecords: 12,
  skippedRecords: 0,
  lastError: null,
  partitions: [
    {
      topic: "alarms",
      partition: 0,
      remoteTopic: "edge.alarms",
      remotePartition: 0,
      priority: 0,
      state: "forwarding",
      mirroredOffset: 30,
      highWatermark: 42,
      lagRecords: 12,
      lagBytes: 2048,
      lagAgeMs: 4000,
      sentRecords: 30,
      sentBytes: 3000,
      skippedRecords: 0,
      skipped: [],
      lastError: null,
      lastSentAt: 1,
      failedAttempts: 0,
    },
  ],
};

beforeAll(async () => {
  const broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    clock: systemClock,
    metadata: openMetadataStore({ path: ":memory:" }),
    housekeepingIntervalMs: 0,
  });
  const app = createHttpApp({
    broker,
    mqtt: {
      clients: () => [
        {
          clientId: "dev-1",
          user: null,
          protocolVersion: 4,
          remoteAddress: "10.0.0.7",
          keepAlive: 60,
          subscriptions: 2,
          inflight: 0,
          queuedBytes: 0,
        },
      ],
      sessions: () => [
        {
          clientId: "dev-1",
          connected: true,
          expiryInterval: 0xffffffff,
          disconnectedAt: null,
          subscriptions: [{ filter: "cmd/#", qos: 1 }],
          inflight: 0,
          backlog: 3,
        },
      ],
      disconnect: (id) => {
        disconnected.push(id);
        return id === "dev-1";
      },
      explain: async (topic) => ({
        topic,
        stored: null,
        subscribers: [{ clientId: "dev-1", filter: "cmd/#", qos: 1, connected: true }],
        sharedGroups: [],
      }),
    },
    mirror: { links: () => [link] },
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  url = `http://127.0.0.1:${server.port}`;
  close = async () => {
    await server.stop(true);
    await broker.close();
  };
});

afterAll(async () => {
  await close();
});

describe("eddy mqtt", () => {
  it("lists clients and sessions as tables, or JSON", async () => {
    const clients = await run(["mqtt", "clients", "--url", url]);
    expect(clients.code).toBe(0);
    expect(clients.stdout).toMatch(/^CLIENT-ID\s+MQTT\s+ADDRESS/);
    expect(clients.stdout).toMatch(/dev-1\s+3\.1\.1\s+10\.0\.0\.7/);
    const sessions = await run(["mqtt", "sessions", "--url", url]);
    expect(sessions.stdout).toMatch(/dev-1\s+yes\s+never\s+cmd\/#@1\s+0\s+3/);
    const json = await run(["mqtt", "clients", "--json", "--url", url]);
    expect(JSON.parse(json.stdout).clients[0].clientId).toBe("dev-1");
  });

  it("explains a refused topic and disconnects clients", async () => {
    const e = await run(["mqtt", "explain", "cmd/x", "--url", url]);
    expect(e.stdout).toContain("refused: no mapping rule takes this topic");
    expect(e.stdout).toContain("delivered to dev-1 (filter cmd/#, QoS 1)");
    expect((await run(["mqtt", "disconnect", "dev-1", "--url", url])).stdout).toBe(
      "Disconnected MQTT client dev-1.\n",
    );
    const ghost = await run(["mqtt", "disconnect", "ghost", "--url", url]);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toContain("error NOT_FOUND: no MQTT client 'ghost' is connected");
    expect(disconnected).toEqual(["dev-1", "ghost"]);
  });

  it("usage errors exit 2", async () => {
    for (const argv of [["mqtt"], ["mqtt", "explain"], ["mqtt", "clients", "extra"], ["mqtt", "nope"]]) {
      const r = await run([...argv, "--url", url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("eddy mqtt --help");
    }
  });
});

describe("eddy mirror status", () => {
  it("prints links and partitions with their lag", async () => {
    const r = await run(["mirror", "status", "--url", url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/central\s+forwarding\s+kafka:9092\s+12\s+0\s+-/);
    expect(r.stdout).toMatch(
      /central\s+alarms\s+0\s+edge\.alarms\s+forwarding\s+30\s+42\s+12\s+2\.00 KiB\s+4s/,
    );
    expect((await run(["mirror", "--url", url])).code).toBe(2);
  });
});
