import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, type Demo } from "../../../examples/demo/server.js";
import { chromiumAvailable, launchChromium, outputDir } from "../../support/browser.js";

// Checked when the file loads: a missing chromium skips (or, with CI=true, fails) before any hook runs.
const available = chromiumAvailable();

const WAIT = 10_000; // every wait of the test, at most
const PUSH_TOKEN = "browser-test-push-token-0123456789";

describe.skipIf(!available)("the demo in a real browser (Debian's chromium, headless)", () => {
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const pages = new Map<string, Page>();
  // Script errors and console errors (CSP violations are reported there) of every page: none expected.
  const problems: string[] = [];
  const shots = outputDir("demo-browser");

  beforeAll(async () => {
    demo = await startDemo({ port: 0, host: "127.0.0.1", secret: "browser test secret", pushToken: PUSH_TOKEN });
    browser = await launchChromium(); // bounded at 30 s by itself
  }, 60_000);

  afterAll(async () => {
    // Runs even when the test or beforeAll failed; each close is independent of the others.
    await Promise.allSettled(contexts.map((context) => context.close()));
    await browser?.close().catch(() => {});
    await demo?.close();
  });

  /** A browser context of its own (its own cookie jar): one user. */
  async function openAs(name: string): Promise<Page> {
    const context = await browser!.newContext({ viewport: { width: 1440, height: 960 }, colorScheme: "light" });
    context.setDefaultTimeout(WAIT);
    context.setDefaultNavigationTimeout(WAIT);
    contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`${name}: page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`${name}: console error: ${message.text()}`);
    });
    page.on("response", (response) => {
      if (response.status() >= 400)
        problems.push(`${name}: HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
    });
    pages.set(name, page);
    await page.goto(demo!.url);
    return page;
  }

  /** Waits until `selector` matches a visible element whose text contains `text`; returns its text as rendered. */
  async function textOf(page: Page, selector: string, text: string | RegExp): Promise<string> {
    const element = page.locator(selector).filter({ hasText: text }).first();
    await element.waitFor({ state: "visible", timeout: WAIT });
    return (await element.innerText({ timeout: WAIT })).replace(/\s+/g, " ").trim();
  }

  async function screenshot(page: Page, name: string): Promise<string> {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true, timeout: WAIT });
    return path;
  }

  it("logs in, connects as that user, gets pushes from another user, and is refused with SESSION_NOT_FOUND after logout", async () => {
    const saved: string[] = [];
    try {
      // Logged out: the page opens its socket anyway, and the server refuses it, saying why.
      const alice = await openAs("alice");
      await alice.locator('#state[data-state="refused"]').waitFor({ timeout: WAIT });
      expect(await textOf(alice, "#state-text", "NO_SESSION_COOKIE")).toBe("refused: NO_SESSION_COOKIE");
      saved.push(await screenshot(alice, "1-logged-out"));

      // Log in through the form: the new handshake carries the cookie, and the server names the user.
      await alice.fill("#name", "alice");
      await alice.click('#login button[type="submit"]');
      await alice.locator('#state[data-state="connected"]').waitFor({ timeout: WAIT });
      expect(await textOf(alice, "#state-text", "alice")).toBe("connected as alice");
      expect(await textOf(alice, "#socket-user", "alice")).toBe("alice"); // from the server's welcome
      expect(await textOf(alice, "#http-user", "alice")).toBe("alice");
      expect(await textOf(alice, "#tabs", "tab")).toBe("1 tab (this one)");

      // Join a room: it is saved in the session, and the socket follows.
      await alice.click('#rooms li[data-room="releases"] button');
      await alice.locator('#rooms li[data-room="releases"][data-joined="true"]').waitFor({ timeout: WAIT });
      await textOf(alice, '#rooms li[data-room="releases"] .members', "alice");
      saved.push(await screenshot(alice, "2-connected"));

      // A second user, in a browser context of their own, logs in with a quick button.
      const bob = await openAs("bob");
      await bob.locator(".quick-login button", { hasText: "bob" }).click();
      expect(await textOf(bob, "#state-text", "connected as")).toBe("connected as bob");
      expect(await textOf(bob, '#rooms li[data-room="releases"] .members', "alice")).toBe("alice");

      // Bob pushes to alice; the router delivers to her socket, which acknowledges.
      await bob.fill("#push-user", "alice");
      await bob.fill("#push-text", "Your order #7 shipped");
      await bob.click('#push-form button[type="submit"]');
      expect(await textOf(alice, '#messages li[data-kind="push"]', "Your order #7 shipped")).toMatch(
        /^bob pushed to you \d.* Your order #7 shipped$/,
      );
      expect(await textOf(bob, "#push-result", "Delivered")).toBe("Delivered to 1 socket, all acknowledged.");

      // Then to the room alice joined (bob did not): it reaches her through the room.
      await bob.click('label[for="target-room"]');
      await bob.selectOption("#push-room", "releases");
      await bob.fill("#push-text", "v2.0 is out");
      await bob.click('#push-form button[type="submit"]');
      const inRoom = await textOf(alice, '#messages li[data-kind="push"][data-target="room"]', "v2.0 is out");
      expect(inRoom).toMatch(/^bob pushed to #releases \d.* v2\.0 is out$/);
      expect(await textOf(bob, "#push-result", "Delivered")).toBe("Delivered to 1 socket, all acknowledged.");
      expect(await bob.locator('#messages li[data-kind="push"]').count()).toBe(2); // the sender sees both of his pushes, once each
      saved.push(await screenshot(bob, "3-push-sent"));

      // A back-end service pushes through the router's own endpoint, with the token only it holds.
      const res = await fetch(demo!.pushUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${PUSH_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ to: { user: "alice" }, event: "notice", data: { text: "Hello from curl" } }),
        signal: AbortSignal.timeout(WAIT),
      });
      expect(res.status).toBe(202);
      await res.arrayBuffer();
      expect(await textOf(alice, '#messages li[data-kind="push"]', "Hello from curl")).toMatch(
        /^a service pushed \d.* Hello from curl$/,
      );
      saved.push(await screenshot(alice, "3-push-received"));

      // Log out: the server drops the session's socket, and the page's new handshake is refused.
      await alice.click('#logout button[type="submit"]');
      await alice.locator('#state[data-state="refused"]').waitFor({ timeout: WAIT });
      expect(await textOf(alice, "#state-text", "SESSION_NOT_FOUND")).toBe("refused: SESSION_NOT_FOUND");
      expect(await textOf(alice, "#refusal", "SESSION_NOT_FOUND")).toMatch(/^SESSION_NOT_FOUND/);
      await alice.locator("#signed-out").waitFor({ state: "visible", timeout: WAIT });
      saved.push(await screenshot(alice, "4-refused"));

      // Bob never noticed, and sees alice leave.
      expect(await textOf(bob, "#state-text", "connected")).toBe("connected as bob");
      await bob.locator("#online li", { hasText: "alice" }).waitFor({ state: "detached", timeout: WAIT });

      expect(problems).toEqual([]);
    } catch (error) {
      for (const [name, page] of pages) {
        const path = join(shots, `failure-${name}.png`);
        await page.screenshot({ path, fullPage: true, timeout: WAIT }).then(
          () => console.log(`browser test failed; screenshot of ${name}'s page: ${path}`),
          () => {},
        );
      }
      if (problems.length > 0) console.log(`page problems:\n${problems.join("\n")}`);
      // A green run prints nothing: its screenshots are in `shots` all the same.
      if (saved.length > 0) console.log(`demo screenshots before the failure:\n${saved.join("\n")}`);
      throw error;
    }
  }, 60_000);
});
