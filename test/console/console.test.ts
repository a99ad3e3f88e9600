/**
 * The web console end to end in headless Chromium, against the real HTTP app
 * and broker in-process on port 0 (the bridge pages: bridges.test.ts; the
 * compiled binary: binary.test.ts).
 * Every test fails on any console error, page error or failed request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "./browser.ts";
import { type ConsoleServer, startConsoleServer } from "./server.ts";

let srv: ConsoleServer;
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  srv = await startConsoleServer();
  browser = await launchBrowser();
  page = browser.page;
  page.setDefaultTimeout(5000);
});
afterAll(async () => {
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

const utf8 = new TextEncoder();

/** Poll until `check` holds (string predicates cannot run in the page: its CSP forbids eval). */
async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${check}`);
    await Bun.sleep(25);
  }
}

describe("web console", () => {
  it("loads every page", async () => {
    const pages: Array<[string, string]> = [
      ["#/overview", "Overview"],
      ["#/topics", "Topics"],
      ["#/records", "Record browser"],
      ["#/groups", "Consumer groups"],
      ["#/mqtt", "MQTT clients"],
      ["#/coap", "CoAP observers"],
      ["#/mirror", "Mirror links"],
      ["#/peers", "Peers"],
    ];
    for (const [hash, title] of pages) {
      await open(hash);
      await page.locator("main h1", { hasText: title }).waitFor();
      expect(await page.locator(".sidebar a.active").textContent()).toBe(title);
      if (hash === "#/peers") {
        expect(await page.getByTestId("cluster-mode").textContent()).toBe("single node");
      }
      if (hash === "#/mqtt" || hash === "#/coap") {
        // This server runs neither bridge: the page says how to turn it on (bridges.test.ts has them on).
        expect(await page.getByTestId("bridge-off").textContent()).toContain("is not enabled on this broker");
      }
      if (hash === "#/mirror") {
        await page.getByTestId("mirror-links").getByText("No mirror links are configured.").waitFor();
      }
    }
    // The bridge-off pages' 404s, logged by Chromium as failed resource loads; nothing else.
    const notFound = browser.problems.splice(0);
    expect(notFound.length).toBeGreaterThan(0);
    expect(notFound.every((p) => p.includes("404"))).toBe(true);
    expect(await page.locator("#health-badge").textContent()).toBe("healthy");
    await open("#/nowhere");
    expect(await page.locator("main [role=alert]").textContent()).toContain('no console page "nowhere"');
  });

  it("overview shows health, storage, disk and a throughput chart", async () => {
    await srv.broker.createTopic({ name: "ov", partitions: 3 });
    await open("#/overview");
    await page.getByTestId("storage").getByText("Partitions").waitFor();
    const storage = await page.getByTestId("storage").textContent();
    expect(storage).toContain("Topics1");
    expect(storage).toContain("Partitions3");
    expect(await page.getByTestId("disk").textContent()).toContain(srv.dataDir);
    expect(await page.getByTestId("health").textContent()).toContain("Versiontest");
    await srv.broker.produce({
      topic: "ov",
      partition: 0,
      records: [{ key: null, value: utf8.encode("x".repeat(1000)), headers: [] }],
    });
    // The broker samples throughput every second (/v1/stats/history); the chart draws its samples.
    await page.locator("svg.chart polyline").first().waitFor({ state: "attached", timeout: 8000 });
    expect(await page.getByTestId("rates").textContent()).toMatch(/records\/s/);
    // The history lives in the broker: after a reload the chart is there at the first draw.
    await until(
      async () => (await page.getByTestId("rates").textContent())?.includes("1 records appended") ?? false,
    );
    await page.reload();
    await page.getByTestId("storage").getByText("Partitions").waitFor();
    expect(await page.locator("svg.chart polyline").count()).toBe(2);
    expect(await page.getByTestId("rates").textContent()).toContain("since start: 1 records appended");
    await srv.broker.deleteTopic("ov");
  });

  it("creates a topic, produces a test record and browses it as JSON, text and hex", async () => {
    await open("#/topics");
    const form = page.getByTestId("create-topic");
    await form.locator("input[name=name]").fill("sensors");
    await form.locator("input[name=partitions]").fill("2");
    await form.locator("select[name=cleanup]").selectOption("compact");
    await form.getByRole("button", { name: "Create topic" }).click();
    await page.locator("main h1", { hasText: "sensors" }).waitFor();
    expect(await page.getByTestId("partitions-table").locator("tbody tr").count()).toBe(2);
    expect(await page.getByTestId("topic-retention").textContent()).toContain("cleanup.policy=compact");
    const described = await srv.broker.describeTopic("sensors");
    expect(described.partitions.length).toBe(2);
    expect(described.configs["cleanup.policy"]).toBe("compact");

    const produce = page.getByTestId("produce");
    await produce.locator("select[name=partition]").selectOption("1");
    await produce.locator("input[name=key]").fill("device-7");
    await produce.locator("textarea[name=value]").fill('{"temp":21.5,"unit":"C"}');
    await produce.locator("textarea[name=headers]").fill("source=console\ntrace=abc");
    await produce.locator("select[name=valueEncoding]").selectOption("json");
    await produce.getByRole("button", { name: "Produce" }).click();
    await page.getByTestId("produce-result").getByText("Stored at partition 1, offset 0").waitFor();
    const stored = await srv.broker.readRecords({ topic: "sensors", partition: 1, offset: 0 });
    expect(stored.records.length).toBe(1);
    expect(new TextDecoder().decode(stored.records[0]!.key!)).toBe("device-7");
    expect(JSON.parse(new TextDecoder().decode(stored.records[0]!.value!))).toEqual({
      temp: 21.5,
      unit: "C",
    });

    await page.getByRole("link", { name: "Browse it" }).click();
    await page.locator("main h1", { hasText: "Record browser" }).waitFor();
    const rows = page.getByTestId("records-table").locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    const row = await rows.first().textContent();
    expect(row).toContain("device-7");
    expect(row).toContain('"temp": 21.5');
    expect(row).toContain("source: console");
    expect(row).toContain("trace: abc");

    await page.getByTestId("browse").locator("select[name=view]").selectOption("hex");
    await page.getByTestId("browse").getByRole("button", { name: "Read" }).click();
    await page.locator("pre.record-value.hex").waitFor();
    expect(await page.locator("pre.record-value").textContent()).toContain("7b 22 74 65 6d 70 22 3a");

    await page.getByTestId("browse").locator("select[name=view]").selectOption("text");
    await page.getByTestId("browse").getByRole("button", { name: "Read" }).click();
    await page.locator("pre.record-value.text").waitFor();
    expect(await page.locator("pre.record-value").textContent()).toBe('{"temp":21.5,"unit":"C"}');
  });

  it("browses by offset and by time, and shows binary values as hex", async () => {
    await srv.broker.createTopic({ name: "timed", partitions: 1 });
    const base = Date.UTC(2026, 0, 2, 3, 4, 5);
    await srv.broker.produce({
      topic: "timed",
      partition: 0,
      records: [0, 1, 2, 3].map((i) => ({
        key: null,
        value: i === 3 ? new Uint8Array([0xff, 0x00, 0x80]) : utf8.encode(`plain ${i}`),
        headers: [],
        timestamp: base + i * 60_000,
      })),
    });
    await open("#/records?topic=timed&partition=0&offset=2");
    const rows = page.getByTestId("records-table").locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    expect(await rows.first().locator("td").first().textContent()).toBe("2");
    expect(await rows.nth(1).locator("pre").textContent()).toContain("ff 00 80");

    // 2026-01-02 03:05:30 UTC falls between offsets 1 and 2: reading starts at offset 2.
    const form = page.getByTestId("browse");
    await form.locator("select[name=from]").selectOption("time");
    await form.locator("input[name=time]").fill("2026-01-02T03:05:30");
    await form.getByRole("button", { name: "Read" }).click();
    await until(async () => page.url().includes("time="));
    await rows.first().waitFor();
    expect(await rows.first().locator("td").first().textContent()).toBe("2");
    expect(await rows.count()).toBe(2);

    await form.locator("input[name=time]").fill("2027-01-01T00:00:00");
    await form.getByRole("button", { name: "Read" }).click();
    await page.getByTestId("records").getByText("No record in timed/0 at or after").waitFor();
  });

  it("pages through records with the Next link", async () => {
    await srv.broker.createTopic({ name: "many", partitions: 1 });
    await srv.broker.produce({
      topic: "many",
      partition: 0,
      records: Array.from({ length: 60 }, (_, i) => ({
        key: null,
        value: utf8.encode(`r${i}`),
        headers: [],
      })),
    });
    await open("#/records?topic=many&partition=0&from=earliest&view=text");
    const rows = page.getByTestId("records-table").locator("tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(50);
    await page.getByRole("link", { name: "Next 50 →" }).click();
    await until(async () => (await rows.count()) === 10);
    expect(await rows.first().locator("td").first().textContent()).toBe("50");
    expect(await rows.last().locator("pre").textContent()).toBe("r59");
    // The last page has no Next link, and nothing but the summary and the table.
    expect(await page.getByRole("link", { name: "Next 50 →" }).count()).toBe(0);
    expect(await page.getByTestId("records").evaluate((el) => el.childNodes.length)).toBe(2);
  });

  it("shows consumer-group lag and resets offsets", async () => {
    await srv.broker.createTopic({ name: "orders", partitions: 2 });
    for (const partition of [0, 1]) {
      await srv.broker.produce({
        topic: "orders",
        partition,
        records: Array.from({ length: 5 }, (_, i) => ({
          key: null,
          value: utf8.encode(`o${i}`),
          headers: [],
        })),
      });
    }
    await srv.broker.commitOffsets("billing", [
      { topic: "orders", partition: 0, offset: 5 },
      { topic: "orders", partition: 1, offset: 2 },
    ]);
    await open("#/groups");
    const list = page.getByTestId("groups-table");
    await list.getByRole("link", { name: "billing" }).waitFor();
    expect(await list.locator("tbody tr").first().textContent()).toContain("orders");

    await list.getByRole("link", { name: "billing" }).click();
    await page.locator("main h1", { hasText: "billing" }).waitFor();
    const lag = page.getByTestId("lag-table").locator("tbody tr");
    expect(await lag.count()).toBe(2);
    expect(await lag.nth(0).locator("td").nth(4).textContent()).toBe("0");
    expect(await lag.nth(1).locator("td").nth(4).textContent()).toBe("3");

    const reset = page.getByTestId("reset");
    await reset.locator("select[name=to]").selectOption("earliest");
    await reset.getByRole("button", { name: "Reset offsets" }).click();
    await page.getByTestId("reset-result").getByText("Dry run: nothing was committed.").waitFor();
    expect((await srv.broker.fetchOffsets("billing", "orders")).map((o) => o.offset).sort()).toEqual([2, 5]);

    await reset.locator("input[name=dryRun]").uncheck();
    await reset.getByRole("button", { name: "Reset offsets" }).click();
    await page.getByTestId("reset-result").getByText("Committed the new offsets.").waitFor();
    expect((await srv.broker.fetchOffsets("billing", "orders")).map((o) => o.offset)).toEqual([0, 0]);
    await page.getByRole("link", { name: "Refresh lag" }).click();
    await until(async () => (await lag.locator("td:nth-child(5)").allTextContents()).join() === "5,5");
  });

  it("shows API errors in the page (not as exceptions)", async () => {
    await open("#/topics/no-such-topic");
    expect(await page.locator("main [role=alert]").textContent()).toContain("TOPIC_NOT_FOUND");
    // The 404 is logged by Chromium as a failed resource load; that one is expected here.
    const expected = browser.problems.splice(0);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.every((p) => p.includes("404"))).toBe(true);
  });
});
