/**
 * The Peers page in headless Chromium against a single-node broker: this
 * node, the mode, the controller, the node table, and every partition's
 * leader, replicas and ISR; then a three-node cluster's answer (served by
 * the browser in place of GET /v1/cluster) with an under-replicated and an
 * offline partition. Fails on any console error, page error or failed request.
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
  expect(browser.problems.splice(0)).toEqual([]);
});

describe("peers page", () => {
  it("shows a single node as its own controller, leading every partition with a full ISR", async () => {
    await srv.broker.createTopic({ name: "telemetry", partitions: 2 });
    await page.goto(`${srv.url}/#/peers`);
    await page.locator("main h1", { hasText: "Peers" }).waitFor();
    const id = String(srv.broker.nodeId);
    expect(await page.getByTestId("cluster-node-id").textContent()).toBe(id);
    expect(await page.getByTestId("cluster-mode").textContent()).toBe("single node");
    expect(await page.getByTestId("cluster-controller").textContent()).toBe(`node ${id} (this node)`);

    const nodes = page.getByTestId("cluster-nodes").locator("tbody tr");
    expect(await nodes.count()).toBe(1);
    const node = await nodes.first().locator("td").allTextContents();
    expect(node[0]).toBe(id);
    expect(node[1]).toContain("controller");
    expect(node[1]).toContain("this node");
    expect(node[4]).toBe("alive");

    const rows = page.getByTestId("cluster-partitions").locator("tbody tr");
    expect(await rows.count()).toBe(2);
    for (let i = 0; i < 2; i++) {
      const cells = await rows.nth(i).locator("td").allTextContents();
      expect(cells).toEqual(["telemetry", String(i), id, "0", id, id, "ok"]);
    }
    expect(await page.locator("tr.row-warn, tr.row-bad").count()).toBe(0);
    expect(await page.getByTestId("cluster-healthy").textContent()).toContain("full ISR");
    expect(await page.getByTestId("cluster-offline").count()).toBe(0);
    expect(await page.getByTestId("cluster-under-replicated").count()).toBe(0);
    await page.getByRole("link", { name: "telemetry" }).first().click();
    await page.locator("main h1", { hasText: "telemetry" }).waitFor();
  });

  it("highlights under-replicated and offline partitions and down nodes of a cluster", async () => {
    const p = (partition: number, leader: number, isr: number[]) => ({
      topic: "orders",
      partition,
      leader,
      leaderEpoch: 3,
      replicas: [1, 2],
      isr,
    });
    const partitions = [p(0, 1, [1, 2]), p(1, 1, [1]), p(2, -1, [])];
    const node = (id: number, witness: boolean, alive: boolean | null) => ({
      id,
      kafkaHost: witness ? null : `10.0.0.${id}`,
      kafkaPort: witness ? null : 9092,
      url: `https://10.0.0.${id}:9093`,
      witness,
      alive,
    });
    const cluster = {
      mode: "cluster",
      nodeId: 2,
      controllerId: 1,
      nodes: [node(1, false, true), node(2, false, false), node(3, true, true)],
      partitions,
      underReplicated: [partitions[1]],
      offline: [partitions[2]],
    };
    await page.route("**/v1/cluster", (route) => route.fulfill({ json: cluster }));
    try {
      await page.goto(`${srv.url}/#/peers`);
      await page.getByTestId("cluster-partitions").waitFor();
      expect(await page.getByTestId("cluster-mode").textContent()).toBe("cluster of 3 nodes");
      expect(await page.getByTestId("cluster-controller").textContent()).toBe("node 1");
      const nodes = page.getByTestId("cluster-nodes").locator("tbody tr");
      expect(await nodes.nth(0).locator("td").allTextContents()).toEqual([
        "1",
        "datacontroller",
        "https://10.0.0.1:9093",
        "10.0.0.1:9092",
        "alive",
      ]);
      expect(await nodes.nth(1).locator("td").nth(1).textContent()).toBe("datathis node");
      expect(await nodes.nth(1).locator("td").nth(4).textContent()).toBe("down");
      expect(await nodes.nth(2).locator("td").allTextContents()).toEqual([
        "3",
        "witness",
        "https://10.0.0.3:9093",
        "–",
        "alive",
      ]);
      const rows = page.getByTestId("cluster-partitions").locator("tbody tr");
      expect(await rows.nth(0).getAttribute("class")).toBeNull();
      expect(await rows.nth(1).getAttribute("class")).toBe("row-warn");
      expect(await rows.nth(1).locator("td").allTextContents()).toEqual([
        "orders",
        "1",
        "1",
        "3",
        "1, 2",
        "1",
        "under-replicated",
      ]);
      expect(await rows.nth(2).getAttribute("class")).toBe("row-bad");
      expect(await rows.nth(2).locator("td").nth(2).textContent()).toBe("none");
      expect(await rows.nth(2).locator("td").nth(6).textContent()).toBe("offline");
      expect(await page.getByTestId("cluster-offline").textContent()).toContain("orders-2");
      expect(await page.getByTestId("cluster-under-replicated").textContent()).toContain("orders-1");
      expect(await page.getByTestId("cluster-healthy").count()).toBe(0);
    } finally {
      await page.unroute("**/v1/cluster");
    }
  });
});
