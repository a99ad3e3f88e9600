/**
 * Console sign-in in headless Chromium against the real HTTP app with [auth]
 * users and a token: the login form appears on 401, wrong credentials are
 * refused, a user or a token signs in, sign-out forgets the credentials.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "bun:test";
import type { Page } from "playwright-core";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { createMemoryLogStore } from "../../src/log/memory-log.ts";
import { openMetadataStore } from "../../src/metadata/index.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { systemClock } from "../../src/util/clock.ts";
import { CredentialStore, hashPassword, hashToken } from "../../src/util/credentials.ts";
import { launchBrowser, type TestBrowser } from "./browser.ts";

const TOKEN = "eddy_console-test-token";
let broker: Broker;
let server: ReturnType<typeof Bun.serve>;
let url: string;
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  broker = await createBroker({
    logStore: createMemoryLogStore({ clock: systemClock }),
    metadata: openMetadataStore({ path: ":memory:" }),
    logger: silentLogger,
    clock: systemClock,
    housekeepingIntervalMs: 0,
    defaults: { autoCreateTopics: false },
  });
  await broker.createTopic({ name: "secret-topic", partitions: 1 });
  const credentials = new CredentialStore({
    users: { admin: { password_hash: await hashPassword("pässword", { memoryCost: 1024, timeCost: 1 }) } },
    tokens: { console: hashToken(TOKEN) },
  });
  const app = createHttpApp({ broker, logger: silentLogger, credentials, version: "test" });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  url = `http://127.0.0.1:${server.port}`;
  browser = await launchBrowser();
  page = browser.page;
  page.setDefaultTimeout(5000);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop(true);
  await broker?.close();
});
afterEach(() => {
  // The browser reports each refused API call ("status of 401"): expected here. Anything else fails.
  const problems = browser.problems.splice(0).filter((p) => !/status of 401/.test(p));
  expect(problems).toEqual([]);
});

async function signIn(fields: { user?: string; password?: string; token?: string }): Promise<void> {
  const form = page.getByTestId("login-form");
  await form.locator("input[name=user]").fill(fields.user ?? "");
  await form.locator("input[name=password]").fill(fields.password ?? "");
  await form.locator("input[name=token]").fill(fields.token ?? "");
  await form.getByRole("button", { name: "Sign in" }).click();
}

describe("console sign-in", () => {
  it("asks for credentials, refuses wrong ones, signs in with a user, and signs out", async () => {
    await page.goto(`${url}/#/topics`);
    await page.getByTestId("login-form").waitFor();
    expect(await page.locator("main h1").textContent()).toBe("Sign in");
    expect(await page.locator("#logout").isVisible()).toBe(false);
    expect(await page.locator("#health-badge").textContent()).not.toBe("unreachable");

    await signIn({ user: "admin", password: "wrong" });
    await page.getByText("Sign-in failed: wrong user name, password or token.").waitFor();

    await signIn({ user: "admin", password: "pässword" });
    await page.locator("main h1", { hasText: "Topics" }).waitFor();
    await page.getByTestId("topics-table").getByText("secret-topic").waitFor();
    expect(await page.locator("#logout").isVisible()).toBe(true);

    // A reload keeps the session (sessionStorage), other pages work.
    await page.goto(`${url}/#/overview`);
    await page.locator("main h1", { hasText: "Overview" }).waitFor();
    await page.reload();
    await page.locator("main h1", { hasText: "Overview" }).waitFor();

    await page.locator("#logout").click();
    await page.getByTestId("login-form").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await page.locator("#logout").isVisible()).toBe(false);
  });

  it("signs in with an API token and goes back to the login form when the API says 401", async () => {
    await page.goto(`${url}/#/groups`);
    await signIn({ token: TOKEN });
    await page.locator("main h1", { hasText: "Consumer groups" }).waitFor();
    // Credentials that stop working (say, the token was removed) lead back to the login form.
    await page.evaluate(() => sessionStorage.setItem("eddy.authorization", "Bearer revoked"));
    await page.goto(`${url}/#/topics`);
    await page.getByTestId("login-form").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("eddy.authorization"))).toBeNull();
  });
});
