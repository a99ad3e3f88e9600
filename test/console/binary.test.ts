/**
 * The web console served by the compiled single executable: build `eddy`
 * with scripts/build.ts into a temp dir (a few seconds), run
 * `eddy serve` on port 0, and drive the console in headless Chromium. Proves
 * the assets are embedded (nothing is read from src/ at run time) and that
 * the console works with no internet.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { EPHEMERAL_LISTENERS } from "../helpers/binary.ts";
import { launchBrowser, type TestBrowser } from "./browser.ts";

const ROOT = path.join(import.meta.dir, "../..");
let tmp: string;
let proc: ReturnType<typeof Bun.spawn> | undefined;
let url: string;
let browser: TestBrowser;
let page: Page;

async function waitForFile(file: string, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      if (performance.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
      await Bun.sleep(25);
    }
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "eddy-console-bin-"));
  const binary = path.join(tmp, "eddy");
  // The real build (Bun.build with the mirror's wasm plugin), into the temp dir.
  const build = Bun.spawnSync(
    [process.execPath, "scripts/build.ts", "--target", "x64", "--outfile", binary],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  if (build.exitCode !== 0) throw new Error(`scripts/build.ts failed: ${build.stderr.toString()}`);
  const dataDir = path.join(tmp, "data");
  // Run from an empty directory: the binary must not find src/ or node_modules.
  const cwd = path.join(tmp, "run");
  fs.mkdirSync(cwd);
  proc = Bun.spawn([binary, "serve", "--data-dir", dataDir, ...EPHEMERAL_LISTENERS], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", EDDY_LOG_LEVEL: "warn" },
    stdout: "ignore",
    stderr: "inherit",
  });
  const listeners = JSON.parse(await waitForFile(path.join(dataDir, "listeners.json"), 10_000)) as {
    http: string;
  };
  url = `http://${listeners.http}`;
  browser = await launchBrowser();
  page = browser.page;
  page.setDefaultTimeout(5000);
}, 30_000);

afterAll(async () => {
  await browser?.close();
  if (proc) {
    proc.kill("SIGTERM");
    await proc.exited;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

describe("web console in the compiled binary", () => {
  it("loads every page", async () => {
    for (const [hash, title] of [
      ["#/overview", "Overview"],
      ["#/topics", "Topics"],
      ["#/records", "Record browser"],
      ["#/groups", "Consumer groups"],
      ["#/mqtt", "MQTT clients"],
      ["#/coap", "CoAP observers"],
      ["#/mirror", "Mirror links"],
      ["#/peers", "Peers"],
    ] as const) {
      await page.goto(`${url}/${hash}`);
      await page.locator("main h1", { hasText: title }).waitFor();
    }
    // The bridge pages read the running MQTT and CoAP listeners (no "not enabled" notice).
    await page.goto(`${url}/#/mqtt`);
    await page.getByTestId("mqtt-clients").getByText("No MQTT client is connected.").waitFor();
    await page.getByTestId("explain").locator("input[name=topic]").fill("a/b");
    await page.getByTestId("explain-result").getByText("Stored in topic mqtt").waitFor();
    await page.goto(`${url}/#/coap`);
    expect(await page.getByTestId("coap-observers").textContent()).toBe("0");
    await page.goto(`${url}/#/mirror`);
    await page.getByTestId("mirror-links").getByText("No mirror links are configured.").waitFor();
    await page.goto(`${url}/#/overview`);
    await page.getByTestId("storage").getByText("Topics").waitFor();
  });

  it("creates a topic, produces a test record and browses it", async () => {
    await page.goto(`${url}/#/topics`);
    const form = page.getByTestId("create-topic");
    await form.locator("input[name=name]").fill("bin-topic");
    await form.getByRole("button", { name: "Create topic" }).click();
    await page.locator("main h1", { hasText: "bin-topic" }).waitFor();

    const produce = page.getByTestId("produce");
    await produce.locator("input[name=key]").fill("k1");
    await produce.locator("textarea[name=value]").fill("hello from the binary");
    await produce.getByRole("button", { name: "Produce" }).click();
    await page.getByTestId("produce-result").getByText("Stored at partition 0, offset 0").waitFor();

    await page.getByRole("link", { name: "Browse it" }).click();
    const row = page.getByTestId("records-table").locator("tbody tr").first();
    await row.waitFor();
    expect(await row.locator("td").nth(2).textContent()).toBe("k1");
    expect(await row.locator("pre").textContent()).toBe("hello from the binary");

    // The broker itself has it: read it back over the API.
    const res = await fetch(`${url}/v1/topics/bin-topic/partitions/0/records?valueEncoding=string`);
    const body = (await res.json()) as { records: Array<{ key: string; value: string }> };
    expect(body.records.map((r) => [r.key, r.value])).toEqual([["k1", "hello from the binary"]]);
  });
});
