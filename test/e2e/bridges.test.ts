/**
 * The bridges in the compiled binary (dist/eddy): MQTT over TCP and WebSocket
 * (MQTT.js), CoAP (libcoap's coap-client-notls), the mirror (a link to a closed
 * port), read back over HTTP, the Kafka protocol (kcat) and MQTT, and the
 * operator surfaces: /v1/mqtt/*, /v1/mirror/links, /health, /metrics and the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { api, type RunningBinary, useBinary } from "../helpers/binary.ts";

const { tmpDir, start, run } = useBinary();

let eddy: RunningBinary;
let closedPort: number;
const clients: MqttClient[] = [];

beforeAll(async () => {
  // A port nothing listens on: the mirror link's "central cluster".
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  closedPort = probe.port;
  probe.stop(true);
  const dir = tmpDir();
  const config = path.join(dir, "eddy.toml");
  fs.writeFileSync(
    config,
    `
[mqtt]
[[mqtt.rules]]
filter = "sensors/+/temp"
topic = "telemetry"
key = "{1}"
[[mqtt.reverse]]
topic = "commands"
mqtt_topic = "devices/{key}/commands"
qos = 1

[[mirror.links]]
name = "central"
bootstrap_servers = ["127.0.0.1:${closedPort}"]
topics = ["alarms"]
discovery_interval_ms = 200
request_timeout_ms = 1000
retry_backoff_ms = 100
max_backoff_ms = 500
`,
  );
  eddy = await start(path.join(dir, "data"), ["--config", config]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  eddy?.proc.kill("SIGTERM");
  await eddy?.proc.exited;
});

async function connect(url: string, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

/** The next message on `client`, as [topic, payload]. */
function nextMessage(client: MqttClient): Promise<[string, string]> {
  return new Promise((resolve) =>
    client.once("message", (topic, payload) => resolve([topic, payload.toString()])),
  );
}

async function readRecords(topic: string): Promise<Array<{ key: string | null; value: string }>> {
  const r = await api<{ records: Array<{ key: string | null; value: string }> }>(
    `${eddy.url}/v1/topics/${topic}/partitions/0/records?offset=earliest&valueEncoding=string`,
  );
  expect(r.status).toBe(200);
  return r.body.records.map((x) => ({ key: x.key, value: x.value }));
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

function withTimeout<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([
    p,
    Bun.sleep(ms).then(() => {
      throw new Error(`timed out waiting for ${what}`);
    }),
  ]);
}

describe("bridges in the binary", () => {
  it("lists MQTT and CoAP in listeners.json and the banner", () => {
    expect(Object.keys(eddy.listeners).sort()).toEqual(["coap", "http", "kafka", "mqtt"]);
    expect(eddy.listeners.mqtt).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(eddy.listeners.mqtt).not.toBe("127.0.0.1:0");
    expect(eddy.stdout()).toContain(`mqtt       ${eddy.listeners.mqtt}`);
    expect(eddy.stdout()).toContain(`ws://${eddy.listeners.http}/mqtt`);
  });

  it("exits 2 naming the key path of a bad mirror link or MQTT rule", () => {
    const file = path.join(tmpDir(), "bad.toml");
    fs.writeFileSync(
      file,
      '[[mqtt.rules]]\nfilter = "a/+"\ntopic = "t"\nkey = "{2}"\n\n[[mirror.links]]\nname = "c"\nbootstrap_servers = ["nohost"]\ntopics = ["x"]\n',
    );
    const bad = run(["serve", "--config", file, "--data-dir", tmpDir()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("mirror.links.0.bootstrap_servers.0: use host:port");
    expect(bad.stderr).toContain("key placeholder {2} is unknown");
  });

  it("MQTT publish → stream topic by rule, read over HTTP and by kcat; a reverse-mapped record reaches MQTT", async () => {
    const device = await connect(`mqtt://${eddy.listeners.mqtt}`, "dev-1");
    await device.publishAsync("sensors/dev-1/temp", "21.5", { qos: 1 });
    expect(await readRecords("telemetry")).toEqual([{ key: "dev-1", value: "21.5" }]);

    const kcat = Bun.spawnSync(
      [
        "kcat",
        "-b",
        eddy.listeners.kafka!,
        "-C",
        "-t",
        "telemetry",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%k=%s\\n",
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 20_000 },
    );
    expect(kcat.stdout.toString()).toBe("dev-1=21.5\n");

    await device.subscribeAsync("devices/+/commands", { qos: 1 });
    const received = nextMessage(device);
    const produced = await api(`${eddy.url}/v1/topics/commands/records`, {
      method: "POST",
      json: { records: [{ key: "dev-1", value: "reboot" }], valueEncoding: "string" },
    });
    expect(produced.status).toBe(200);
    expect(await withTimeout(received, "the command over MQTT")).toEqual([
      "devices/dev-1/commands",
      "reboot",
    ]);
  });

  it("MQTT over WebSocket at /mqtt shares topics with MQTT over TCP", async () => {
    const tcp = await connect(`mqtt://${eddy.listeners.mqtt}`, "tcp-sub");
    await tcp.subscribeAsync("ws/hello", { qos: 1 });
    const received = nextMessage(tcp);
    const ws = await connect(`ws://${eddy.listeners.http}/mqtt`, "ws-pub");
    await ws.publishAsync("ws/hello", "over websocket", { qos: 1 });
    expect(await withTimeout(received, "the WebSocket publish")).toEqual(["ws/hello", "over websocket"]);
    // No subprotocol "mqtt": refused.
    const refused = await fetch(`${eddy.url}/mqtt`, {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "eA==",
        "sec-websocket-version": "13",
      },
    });
    expect(refused.status).toBe(400);
  });

  it("CoAP publish is readable over HTTP and, on the MQTT topic, by an MQTT subscriber", async () => {
    const sub = await connect(`mqtt://${eddy.listeners.mqtt}`, "coap-watcher");
    await sub.subscribeAsync("devices/dev-9/status", { qos: 1 });
    const received = nextMessage(sub);
    const coap = Bun.spawnSync(
      [
        "coap-client-notls",
        "-B",
        "5",
        "-m",
        "post",
        "-e",
        "online",
        `coap://${eddy.listeners.coap}/ps/data/mqtt?key=devices/dev-9/status`,
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 20_000 },
    );
    expect(coap.exitCode).toBe(0);
    expect(await withTimeout(received, "the CoAP publish over MQTT")).toEqual([
      "devices/dev-9/status",
      "online",
    ]);
    expect(await readRecords("mqtt")).toContainEqual({ key: "devices/dev-9/status", value: "online" });
    const observers = await api<{ observers: number }>(`${eddy.url}/v1/coap/observers`);
    expect(observers.body.observers).toBe(0);
    const metrics = await (await fetch(`${eddy.url}/metrics`)).text();
    expect(metrics).toMatch(/eddy_coap_responses_total\{code="2\.0\d"\} [1-9]/);
  });

  it("CoAP publish on a mapped topic goes through the MQTT rules (same stream topic, key and subscribers)", async () => {
    const sub = await connect(`mqtt://${eddy.listeners.mqtt}`, "coap-mapped");
    await sub.subscribeAsync("sensors/+/temp", { qos: 1 });
    const received = nextMessage(sub);
    const coap = Bun.spawnSync(
      [
        "coap-client-notls",
        "-B",
        "5",
        "-m",
        "put",
        "-e",
        "19.5",
        `coap://${eddy.listeners.coap}/ps/data/sensors/dev-c/temp`,
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 20_000 },
    );
    expect(coap.exitCode).toBe(0);
    expect(await withTimeout(received, "the mapped CoAP publish over MQTT")).toEqual([
      "sensors/dev-c/temp",
      "19.5",
    ]);
    expect(await readRecords("telemetry")).toContainEqual({ key: "dev-c", value: "19.5" });
  });

  it("/v1/mqtt/clients lists connected clients; explain and the CLI agree", async () => {
    await connect(`mqtt://${eddy.listeners.mqtt}`, "listed-client");
    const listed = await api<{ clients: Array<{ clientId: string; protocolVersion: number }> }>(
      `${eddy.url}/v1/mqtt/clients`,
    );
    expect(listed.body.clients).toContainEqual(
      expect.objectContaining({ clientId: "listed-client", protocolVersion: 5 }),
    );
    const cli = run(["mqtt", "clients", "--url", eddy.url]);
    expect(cli.stderr).toBe("");
    expect(cli.stdout).toContain("listed-client");

    const explained = await api<{ stored: { streamTopic: string; key: string } }>(
      `${eddy.url}/v1/mqtt/explain?topic=sensors/dev-7/temp`,
    );
    expect(explained.body.stored).toMatchObject({ streamTopic: "telemetry", key: "dev-7" });
    expect(run(["mqtt", "explain", "sensors/dev-7/temp", "--url", eddy.url]).stdout).toContain(
      "stored in topic telemetry, partition 0, key dev-7",
    );

    const gone = await api(`${eddy.url}/v1/mqtt/clients/listed-client`, { method: "DELETE" });
    expect(gone.status).toBe(200);
    await until("the client to be gone", async () => {
      const r = await api<{ clients: Array<{ clientId: string }> }>(`${eddy.url}/v1/mqtt/clients`);
      return r.body.clients.some((c) => c.clientId === "listed-client") ? undefined : true;
    });
    const metrics = await (await fetch(`${eddy.url}/metrics`)).text();
    expect(metrics).toMatch(/eddy_mqtt_connections [1-9]/);
    expect(metrics).toMatch(/eddy_mqtt_messages_in_total\{qos="1"\} [1-9]/);
  });

  it("a mirror link to a closed port is down: /v1/mirror/links, /health degraded, metrics, eddy mirror status", async () => {
    await api(`${eddy.url}/v1/topics`, { method: "POST", json: { name: "alarms", partitions: 1 } });
    await api(`${eddy.url}/v1/topics/alarms/records`, {
      method: "POST",
      json: { records: [{ value: "fire" }], valueEncoding: "string" },
    });
    const link = await until("the link to be down", async () => {
      const r = await api<{
        links: Array<{ name: string; state: string; partitions: Array<{ topic: string }> }>;
      }>(`${eddy.url}/v1/mirror/links`);
      const l = r.body.links[0];
      return l?.state === "down" ? l : undefined;
    });
    expect(link).toMatchObject({
      name: "central",
      partitions: [expect.objectContaining({ topic: "alarms" })],
    });
    const health = await api<{ status: string; checks: { mirror: { ok: boolean; detail: string } } }>(
      `${eddy.url}/health`,
    );
    expect(health.body.status).toBe("degraded");
    expect(health.body.checks.mirror.detail).toContain("link central is down");
    const metrics = await (await fetch(`${eddy.url}/metrics`)).text();
    expect(metrics).toContain('eddy_mirror_link_up{link="central"} 0');
    expect(metrics).toContain('eddy_mirror_lag_records{link="central",topic="alarms",partition="0"} 1');
    const status = run(["mirror", "status", "--url", eddy.url]);
    expect(status.stdout).toMatch(/central\s+down\s+127\.0\.0\.1:\d+\s+1/);
  }, 30_000);
});

describe("MQTT over TLS and across a restart", () => {
  it("serves mqtts on mqtt.tls_listen, keeps a persistent session across SIGTERM and restart", async () => {
    const dir = tmpDir();
    const cert = path.join(dir, "cert.pem");
    const key = path.join(dir, "key.pem");
    const gen = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
      ].concat(["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"]),
      { stdout: "ignore", stderr: "pipe" },
    );
    expect(gen.exitCode).toBe(0);
    const dataDir = path.join(dir, "data");
    const tlsFlags = [
      "--mqtt-tls-listen",
      "127.0.0.1:0",
      "--set",
      `mqtt.tls_cert_file=${cert}`,
      "--set",
      `mqtt.tls_key_file=${key}`,
    ];
    const first = await start(dataDir, tlsFlags);
    expect(first.listeners.mqtt_tls).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(first.stdout()).toContain(`mqtt_tls   ${first.listeners.mqtt_tls}  (TLS)`);
    const secure = await mqtt.connectAsync(`mqtts://${first.listeners.mqtt_tls}`, {
      clientId: "keeper",
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      rejectUnauthorized: false,
      reconnectPeriod: 0,
    });
    await secure.subscribeAsync("keep/#", { qos: 1 });
    await secure.publishAsync("keep/it", "over tls", { qos: 1 });
    expect(await readRecordsAt(first.url, "mqtt")).toContainEqual({ key: "keep/it", value: "over tls" });

    // A graceful stop with the client still connected: exit 0, the session is saved before the broker closes.
    secure.on("error", () => {});
    first.proc.kill("SIGTERM");
    expect(await first.proc.exited).toBe(0);
    await secure.endAsync(true);

    const again = await start(dataDir, tlsFlags);
    const sessions = await api<{ sessions: unknown[] }>(`${again.url}/v1/mqtt/sessions`);
    expect(sessions.body.sessions).toContainEqual({
      clientId: "keeper",
      connected: false,
      expiryInterval: 3600,
      disconnectedAt: expect.any(Number),
      subscriptions: [{ filter: "keep/#", qos: 1 }],
      inflight: 0,
      backlog: expect.any(Number),
    });
    again.proc.kill("SIGTERM");
    expect(await again.proc.exited).toBe(0);
  }, 60_000);
});

async function readRecordsAt(
  url: string,
  topic: string,
): Promise<Array<{ key: string | null; value: string }>> {
  const r = await api<{ records: Array<{ key: string | null; value: string }> }>(
    `${url}/v1/topics/${topic}/partitions/0/records?offset=earliest&valueEncoding=string`,
  );
  return r.body.records.map((x) => ({ key: x.key, value: x.value }));
}
