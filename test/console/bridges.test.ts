/**
 * The console's bridge pages in headless Chromium: MQTT (with the real MQTT
 * bridge in-process: clients, sessions, disconnect, mapping dry-run), CoAP
 * observers and mirror links (given providers), and the pages of bridges that
 * are off. Every test fails on any console error, page error or failed request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import type { Page } from "playwright-core";
import type { CoapObservationView } from "../../src/http/routes/coap.ts";
import type { MirrorLinkView } from "../../src/http/routes/mirror.ts";
import { launchBrowser, type TestBrowser } from "./browser.ts";
import { type ConsoleServer, startConsoleServer } from "./server.ts";

let srv: ConsoleServer;
let browser: TestBrowser;
let page: Page;
const coap: { observers: number; list: CoapObservationView[] } = { observers: 3, list: [] };
let links: MirrorLinkView[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  srv = await startConsoleServer({
    mqtt: true,
    mapping: {
      rules: [{ filter: "factory/+/alarm", topic: "alarms", key: "{1}" }],
      reverse: [{ topic: "commands", mqttTopic: "devices/{key}/commands", qos: 0 }],
    },
    coap: {
      observers: () => coap.observers,
      address: () => "127.0.0.1:5683",
      observations: () => coap.list,
    },
    mirror: { links: () => links },
  });
  browser = await launchBrowser();
  page = browser.page;
  page.setDefaultTimeout(6000);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  await browser?.close();
  await srv?.close();
});
afterEach(() => {
  const problems = browser.problems.splice(0);
  expect(problems).toEqual([]);
});

async function open(hash: string): Promise<void> {
  await page.goto(`${srv.url}/${hash}`);
}

async function connectMqtt(opts: mqtt.IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(srv.mqttUrl!, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  clients.push(client);
  return client;
}

function mirrorLink(lag: number, skipped: number): MirrorLinkView {
  return {
    name: "central",
    bootstrapServers: ["kafka-1:9092", "kafka-2:9092"],
    state: "forwarding",
    lagRecords: lag,
    skippedRecords: skipped,
    lastError: { message: "broker kafka-2:9092 not reachable", at: Date.UTC(2026, 0, 1) },
    partitions: [
      {
        topic: "alarms",
        partition: 0,
        remoteTopic: "edge.alarms",
        remotePartition: 0,
        priority: 0,
        state: "forwarding",
        mirroredOffset: 500 - lag,
        highWatermark: 500,
        lagRecords: lag,
        lagBytes: lag * 100,
        lagAgeMs: 90_000,
        sentRecords: 500 - lag,
        sentBytes: (500 - lag) * 100,
        skippedRecords: skipped,
        skipped: skipped ? [{ from: 10, to: 10 + skipped - 1, at: 1 }] : [],
        lastError: null,
        lastSentAt: Date.UTC(2026, 0, 1),
        failedAttempts: 0,
      },
    ],
  };
}

describe("MQTT page", () => {
  it("lists clients and sessions and disconnects a client; its persistent session stays", async () => {
    const client = await connectMqtt({
      clientId: "dev-1",
      protocolVersion: 5,
      keepalive: 30,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    await client.subscribeAsync("sensors/+/temp", { qos: 1 });
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));

    await open("#/mqtt");
    const row = page.getByTestId("mqtt-clients").locator("tbody tr", { hasText: "dev-1" });
    await row.waitFor();
    const text = await row.textContent();
    expect(text).toContain("5.0");
    expect(text).toContain("30 s");
    expect(text).toContain("sensors/+/temp QoS 1");
    const session = page.getByTestId("mqtt-sessions").locator("tbody tr", { hasText: "dev-1" });
    expect(await session.textContent()).toContain("connected");
    expect(await session.textContent()).toContain("1 h after disconnect");

    await row.getByRole("button", { name: "Disconnect" }).click();
    await page.getByTestId("mqtt-action").getByText("Disconnected dev-1.").waitFor();
    await closed;
    await page.getByTestId("mqtt-clients").getByText("No MQTT client is connected.").waitFor();
    expect(await session.textContent()).toContain("offline");
    expect(await session.textContent()).toContain("sensors/+/temp QoS 1");
  }, 20_000);

  it("runs a live mapping dry-run as the topic is typed", async () => {
    await connectMqtt({ clientId: "dev-2", protocolVersion: 4 });
    await open("#/mqtt");
    const form = page.getByTestId("explain");
    const result = page.getByTestId("explain-result");
    await form.locator("input[name=topic]").fill("sensors/dev-9/temp");
    await result.getByText("Stored in topic mqtt").waitFor();
    const partition = await srv.broker.partitionForKey(
      "mqtt",
      new TextEncoder().encode("sensors/dev-9/temp"),
    );
    expect(await result.locator(".notice").textContent()).toBe(
      `Stored in topic mqtt, partition ${partition}.`,
    );
    expect(await result.locator("dl").textContent()).toContain("Keysensors/dev-9/temp");
    // dev-1's persistent session (from the test before) would receive it, though offline.
    const receivers = result.getByTestId("explain-subscribers").locator("tbody tr");
    expect(await receivers.count()).toBe(1);
    expect(await receivers.first().textContent()).toContain("dev-1sensors/+/temp1no (queued)");

    // The active rules beside the dry-run, in order, with the default topic.
    const rules = page.getByTestId("mapping-rules").locator("tbody tr");
    expect(await rules.count()).toBe(1);
    expect(await rules.first().locator("td").allTextContents()).toEqual([
      "1",
      "factory/+/alarm",
      "alarms",
      "{1}",
    ]);
    expect(await page.getByTestId("mapping-reverse").locator("tbody td").allTextContents()).toEqual([
      "commands",
      "devices/{key}/commands",
      "0",
    ]);
    expect(await page.getByTestId("mapping-default").textContent()).toBe(
      "Unmatched topics go to mqtt, keyed by the MQTT topic.",
    );
    await form.locator("input[name=topic]").fill("factory/line-2/alarm");
    await result.getByText("Stored in topic alarms").waitFor();
    expect(await result.locator("dl").textContent()).toContain("Keyline-2");

    await form.locator("input[name=topic]").fill("lights/kitchen");
    await result.getByText("No session is subscribed to this topic.").waitFor();
    // The connected 3.1.1 client shows as such.
    const row = page.getByTestId("mqtt-clients").locator("tbody tr", { hasText: "dev-2" });
    expect(await row.textContent()).toContain("3.1.1");
  }, 20_000);
});

describe("CoAP and mirror pages", () => {
  it("shows the CoAP listener and its live observers", async () => {
    coap.observers = 3;
    await open("#/coap");
    await page.locator("main h1", { hasText: "CoAP observers" }).waitFor();
    expect(await page.getByTestId("coap").textContent()).toContain("127.0.0.1:5683");
    expect(await page.getByTestId("coap-observers").textContent()).toBe("3");
    expect(await page.getByTestId("coap-observations").textContent()).toContain(
      "No client observes a resource.",
    );
    coap.observers = 4;
    coap.list = [
      {
        source: "10.0.0.7:40001",
        path: "/ps/data/sensors",
        resource: "sensors",
        topic: "sensors",
        tokenHex: "ab01",
        seq: 12,
        notifications: 1234,
        lastNotifiedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
        conOutstanding: true,
      },
    ];
    await page.getByTestId("coap-observers").getByText("4").waitFor();
    const row = page.getByTestId("coap-observations").locator("tbody tr", { hasText: "10.0.0.7:40001" });
    await row.waitFor();
    const cells = await row.locator("td").allTextContents();
    expect(cells).toEqual([
      "10.0.0.7:40001",
      "/ps/data/sensors",
      "sensors",
      "ab01",
      "12",
      "1,234",
      "2026-01-02 03:04:05.000 UTC",
      "yes",
    ]);
    // Fewer rows than observers: the page says the list is cut.
    expect(await page.locator("main").textContent()).toContain("The first 1 are listed.");
  }, 20_000);

  it("shows link state, lag, skipped records, errors and the backlog draining", async () => {
    links = [];
    await open("#/mirror");
    await page.getByTestId("mirror-links").getByText("No mirror links are configured.").waitFor();

    links = [mirrorLink(100, 0)];
    const panel = page.getByTestId("mirror-link-central");
    await panel.waitFor();
    expect(await panel.getByTestId("link-state").textContent()).toBe("forwarding");
    expect(await panel.textContent()).toContain("broker kafka-2:9092 not reachable");
    expect(await page.getByTestId("drain-text").textContent()).toBe("Backlog: 0 % of 100 drained");
    const row = panel.getByTestId("mirror-partitions").locator("tbody tr").first();
    expect(await row.textContent()).toContain("alarms/0edge.alarms/0forwarding400500100");
    expect(await row.textContent()).toContain("1.5 min");

    links = [mirrorLink(40, 3)];
    await page
      .getByTestId("drain-text")
      .getByText(/60 % of 100 drained · \d+ records\/s · about/)
      .waitFor();
    expect(await row.textContent()).toContain("last: offsets 10–12");
    expect(await page.getByTestId("drain").locator(".bar > div").getAttribute("style")).toBe("width: 60%;");

    links = [mirrorLink(0, 3)];
    await page.getByTestId("drain-text").getByText("Backlog: caught up").waitFor();
  }, 20_000);
});

describe("bridges that are off", () => {
  let bare: ConsoleServer;
  beforeAll(async () => {
    bare = await startConsoleServer();
  });
  afterAll(async () => {
    await bare.close();
  });

  it("show the API's message on how to turn them on", async () => {
    await page.goto(`${bare.url}/#/mqtt`);
    expect(await page.getByTestId("bridge-off").textContent()).toContain("--mqtt-listen");
    await page.goto(`${bare.url}/#/coap`);
    expect(await page.getByTestId("bridge-off").textContent()).toContain("--coap-listen");
    // Chromium logs each 404 as a failed resource load; those are expected here, nothing else.
    const expected = browser.problems.splice(0);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.every((p) => p.includes("404"))).toBe(true);
  });
});
