import { existsSync, readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, type Demo } from "../../../examples/demo/server.js";
import { chromiumAvailable, launchChromium } from "../../support/browser.js";

// What a first visit shows (issue 13): the sender sees their own push in the feed, once; on a phone the
// live feed comes right after the account card; the demo and the docs site have a favicon.

const available = chromiumAvailable();
const WAIT = 10_000;

describe.skipIf(!available)("first impressions of the demo, in chromium", () => {
  let demo: Demo | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    demo = await startDemo({
      port: 0,
      host: "127.0.0.1",
      secret: "first impressions secret",
      pushToken: "first-impressions-token-0123456789",
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await demo?.close();
  });

  async function loggedIn(name: string, viewport: { width: number; height: number }): Promise<Page> {
    const context = await browser!.newContext({ viewport, colorScheme: "light" });
    context.setDefaultTimeout(WAIT);
    const page = await context.newPage();
    await page.goto(demo!.url);
    await page.fill("#name", name);
    await page.click('#login button[type="submit"]');
    await page.locator('#state[data-state="connected"]').waitFor();
    return page;
  }

  const pushes = (page: Page, text: string) => page.locator('#messages li[data-kind="push"]', { hasText: text });

  it("shows the sender their own push once, whether or not they were a recipient", async () => {
    const ann = await loggedIn("ann", { width: 1440, height: 960 });
    await ann.fill("#push-user", "nobody-online");
    await ann.fill("#push-text", "to someone offline");
    await ann.click('#push-form button[type="submit"]');
    await ann.locator("#push-result", { hasText: "Delivered to 0 sockets" }).waitFor();
    await pushes(ann, "to someone offline").waitFor();
    expect((await pushes(ann, "to someone offline").innerText()).replace(/\s+/g, " ")).toMatch(
      /^ann pushed to nobody-online \d.* to someone offline$/,
    );

    // To everyone: ann's socket is a recipient, and the reply comes after her acknowledgement.
    await ann.click('label[for="target-all"]');
    await ann.fill("#push-text", "to everyone");
    await ann.click('#push-form button[type="submit"]');
    await ann.locator("#push-result", { hasText: "Delivered to 1 socket" }).waitFor();
    await pushes(ann, "to everyone").waitFor();
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would come now
    expect(await pushes(ann, "to everyone").count()).toBe(1);
    expect(await pushes(ann, "to someone offline").count()).toBe(1);
    await ann.context().close();
  });

  it("puts the live feed right after the account card on a phone", async () => {
    const page = await loggedIn("pat", { width: 390, height: 844 });
    const top = async (selector: string) => (await page.locator(selector).boundingBox())!.y;
    const account = await top('section[aria-labelledby="account-title"]');
    const feed = await top("#feed");
    const others = await Promise.all(
      [
        'section[aria-labelledby="socket-title"]',
        'section[aria-labelledby="rooms-title"]',
        'section[aria-labelledby="push-title"]',
      ].map(top),
    );
    expect(account).toBeLessThan(feed);
    for (const other of others) expect(feed).toBeLessThan(other);
    expect(feed).toBeLessThan(844 * 2); // within two screens of the top, not under four cards
    await page.context().close();
  });

  it("serves a favicon, and the page links it", async () => {
    const res = await fetch(`${demo!.url}/favicon.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await (await fetch(demo!.url)).text()).toContain('<link rel="icon" href="/favicon.svg"');
  });
});

describe("the docs site's first impressions", () => {
  const docs = new URL("../../../docs/", import.meta.url);

  it("has a favicon, linked from every page's head", () => {
    expect(existsSync(new URL("public/favicon.svg", docs))).toBe(true);
    expect(readFileSync(new URL(".vitepress/config.mts", docs), "utf8")).toContain('href: "/favicon.svg"');
  });

  it("shows the install line and the lines that wire it on the home page", () => {
    const home = readFileSync(new URL("index.md", docs), "utf8");
    expect(home).toContain("npm install socket.io-session-auth");
    expect(home).toMatch(/<<< @\/examples\/home\.ts#wire/);
    expect(readFileSync(new URL("examples/home.ts", docs), "utf8")).toContain(
      "const auth = sessionAuth({ store: memoryStore(store), secret });",
    );
  });
});
