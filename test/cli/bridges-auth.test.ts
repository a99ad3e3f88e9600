/** `eddy mqtt` and `eddy mirror status` against a broker with [auth]: they pass --token / --user / EDDY_… credentials. */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { run } from "./run-cli.ts";
import { startServer, type TestServer, testCredentials } from "./server.ts";

const TOKEN = "eddy_bridge-cli-token";
let server: TestServer;
let url: string;
const disconnected: string[] = [];

beforeAll(async () => {
  server = await startServer({
    credentials: await testCredentials(TOKEN),
    mqtt: {
      clients: () => [
        {
          clientId: "dev-1",
          user: "ops",
          protocolVersion: 5,
          remoteAddress: "10.0.0.7",
          keepAlive: 60,
          subscriptions: 1,
          inflight: 0,
          queuedBytes: 0,
        },
      ],
      sessions: () => [],
      disconnect: (id) => {
        disconnected.push(id);
        return true;
      },
      explain: async (topic) => ({
        topic,
        stored: { streamTopic: "mqtt", key: topic, partition: 0 },
        subscribers: [],
        sharedGroups: [],
      }),
    },
    mirror: { links: () => [] },
  });
  url = server.url;
});
afterAll(async () => {
  await server.close();
});

describe("bridge commands against a broker with [auth]", () => {
  it("say which credentials to pass when none are given", async () => {
    for (const argv of [
      ["mqtt", "clients"],
      ["mqtt", "disconnect", "dev-1"],
      ["mirror", "status"],
    ]) {
      const r = await run([...argv, "--url", url], { env: {} });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("error UNAUTHORIZED: the broker requires credentials:");
      expect(r.stderr).toContain("--token TOKEN (or set EDDY_TOKEN)");
    }
    expect(disconnected).toEqual([]);
  });

  it("refuse wrong credentials", async () => {
    const r = await run(["mirror", "status", "--url", url, "--user", "ops", "--password", "nope"], {
      env: {},
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the broker refused the credentials given");
  });

  it("work with --token, --user/--password and the environment", async () => {
    const ways: Array<{ argv: string[]; env: Record<string, string> }> = [
      { argv: ["--token", TOKEN], env: {} },
      { argv: ["--user", "ops", "--password", "hunter2"], env: {} },
      { argv: [], env: { EDDY_TOKEN: TOKEN } },
      { argv: [], env: { EDDY_USER: "ops", EDDY_PASSWORD: "hunter2" } },
    ];
    for (const way of ways) {
      const clients = await run(["mqtt", "clients", "--url", url, ...way.argv], { env: way.env });
      expect({ way, code: clients.code, stderr: clients.stderr }).toEqual({ way, code: 0, stderr: "" });
      expect(clients.stdout).toMatch(/dev-1\s+5\.0\s+10\.0\.0\.7\s+ops/);
      const explained = await run(["mqtt", "explain", "a/b", "--url", url, ...way.argv], { env: way.env });
      expect(explained.stdout).toContain("stored in topic mqtt, partition 0, key a/b");
      const mirror = await run(["mirror", "status", "--url", url, ...way.argv], { env: way.env });
      expect({ way, code: mirror.code, stderr: mirror.stderr }).toEqual({ way, code: 0, stderr: "" });
      expect(mirror.stdout).toContain("No mirror links are configured");
    }
    const d = await run(["mqtt", "disconnect", "dev-1", "--url", url], { env: { EDDY_TOKEN: TOKEN } });
    expect(d.stdout).toBe("Disconnected MQTT client dev-1.\n");
    expect(disconnected).toEqual(["dev-1"]);
  });

  it("reject --token together with --user", async () => {
    const r = await run(["mqtt", "clients", "--url", url, "--token", TOKEN, "--user", "ops"], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("give either --token or --user, not both");
  });
});
