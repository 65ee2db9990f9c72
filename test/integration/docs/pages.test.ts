/*
 * THE PAGE CONVENTION: which code blocks of a page are whole, paste-runnable programs.
 *
 * A page is read as the reader sees it: VitePress includes (`<<< @/examples/file#region [title]`) are
 * expanded, a region cut as VitePress cuts it. Then, in page order:
 *
 *   ```sh [install]        opens an app: its `npm install ...` lines (`-D` lines too) are everything the
 *                          app needs besides Node. Every package its files import must be named here.
 *   ```js [server.mjs]     a WHOLE FILE of that app, to be saved at that path (any language, any path:
 *   <<< @/examples/x.mjs [server.mjs]                `[public/index.html]`, `[src/app.ts]`...).
 *                          In VitePress pages, put the files in a `::: code-group` so the reader sees
 *                          the file names (outside a group VitePress hides the title).
 *   ```sh [run]            closes the app: its first command runs it in that folder (`node server.mjs`,
 *                          `npx tsx server.ts`). The app reads `PORT` (default 3000) and prints
 *                          `http://localhost:<port>` once it listens.
 *
 * This test writes each app's files, as the page shows them, into a fresh folder next to the package
 * packed from a clean copy of the repository and the packages of the install line, runs the [run]
 * command, and checks that the app does what the page says (PAGES below: a check per app; a new app
 * without a check fails here).
 *
 * EVERY OTHER js/ts/html code block of a checked page is a FRAGMENT: the prose just before it must say
 * "fragment" and link to the whole file it comes from (a `docs/examples/...` file or a page anchor),
 * e.g. "Fragment of [redis-web-app.ts](https://github.com/.../docs/examples/redis-web-app.ts):". Plain
 * `sh` blocks without a title are commands, not checked.
 */
import { execFile } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { RedisStore } from "connect-redis";
import { sign } from "cookie-signature";
import { createClient } from "redis";
import { io as ioClient, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { signSessionCookie } from "socket.io-session-auth/testing";
import { chromiumAvailable, launchChromium } from "../../support/browser.js";
import {
  APP_PACKAGES,
  freshAppDir,
  isInstalled,
  OPTIONAL_PACKAGES,
  packedInstall,
  repoRoot,
  type PackedInstall,
} from "../../support/packed.js";
import {
  importedPackages,
  installedWith,
  readBlocks,
  readPage,
  type RunningApp,
  startApp,
} from "../../support/pages.js";
import { startMongoServer } from "../../support/mongo-server/index.js";
import { freePort, postgresAvailable, startPostgresServer } from "../../support/postgres-server.js";
import { eventually } from "../../support/eventually.js";
import { ask, connect, refusal } from "../../support/realtime.js";
import {
  redisServerAvailable,
  startRedisServer,
  stoppedRedisServer,
  type RedisServer,
} from "../../support/redis-server.js";

const run = promisify(execFile);

/** What one app must do, once running. */
type Check = (app: RunningApp, context: { dir: string }) => Promise<void>;
/** Services an app needs, started for its run and handed to it as environment variables. */
type Needs = () => Promise<{ env: Record<string, string>; stop(): Promise<void> }>;

interface PageSpec {
  /** One per app, in page order. */
  apps: Array<{ check: Check; needs?: Needs }>;
  /**
   * Whether every other code block must be a fragment that says so. Off for pages whose later sections
   * are other engineers' (the lead turns it on once they are marked); their apps are held all the same.
   */
  fragments: boolean;
}

const redisNeeds: Needs = async () => {
  if (!redisServerAvailable()) throw new Error("redis-server is not installed (apt-get install -y redis-server)");
  const redis = await startRedisServer();
  return { env: { REDIS_URL: redis.url }, stop: () => redis.stop() };
};
const mongoNeeds: Needs = async () => {
  const mongo = await startMongoServer();
  return { env: { MONGODB_URI: mongo.uri("app") }, stop: () => mongo.stop() };
};

/** docs/several-nodes.md's cluster-module program: a Redis, two workers, and what its check signs with. */
const CLUSTER = { redisUrl: "", secret: "cluster secret", token: "cluster-module-token-0123456789" };
const clusterNeeds: Needs = async () => {
  const redis = await redisNeeds();
  CLUSTER.redisUrl = redis.env.REDIS_URL!;
  return {
    env: { ...redis.env, WORKERS: "2", SESSION_SECRET: CLUSTER.secret, PUSH_TOKEN: CLUSTER.token },
    stop: redis.stop,
  };
};

/** Where docs/postgres.md's socket.io server listens: its web app links there (set by postgresNeeds for its check). */
let realtimeUrl = "";
const postgresNeeds: Needs = async () => {
  if (!postgresAvailable()) throw new Error("PostgreSQL is not installed (apt-get install -y postgresql)");
  const postgres = await startPostgresServer();
  // Two processes: the web app on PORT, the socket.io server on REALTIME_PORT, each told where the other is.
  const [web, realtime] = [await freePort(), await freePort()];
  realtimeUrl = `http://127.0.0.1:${realtime}`;
  return {
    env: {
      DATABASE_URL: postgres.url,
      PORT: String(web),
      REALTIME_PORT: String(realtime),
      REALTIME_URL: `http://localhost:${realtime}`,
      WEB_ORIGIN: `http://localhost:${web}`,
    },
    stop: () => postgres.destroy(),
  };
};

/** The pages this test holds to the convention, and what each of their apps must do. */
const PAGES: Record<string, PageSpec> = {
  "docs/index.md": { apps: [], fragments: true },
  "docs/writing-an-adapter.md": { apps: [], fragments: true },
  "docs/any-store.md": { apps: [{ check: checkQuickStart }], fragments: true },
  "docs/getting-started.md": { apps: [{ check: checkGettingStarted }, { check: checkTyped }], fragments: true },
  "README.md": { apps: [{ check: checkQuickStart }], fragments: true },
  "docs/redis.md": { apps: [{ check: checkQuickStart, needs: redisNeeds }], fragments: true },
  "docs/mongo.md": { apps: [{ check: checkQuickStart, needs: mongoNeeds }], fragments: true },
  "docs/postgres.md": { apps: [{ check: checkPostgres, needs: postgresNeeds }], fragments: true },
  "docs/fastify.md": { apps: [{ check: checkFastify }], fragments: true },
  "docs/nest.md": { apps: [{ check: checkNest }], fragments: true },
  "docs/migrating.md": { apps: [{ check: checkExpressSessionPort }, { check: checkPassportPort }], fragments: true },
  "docs/lifecycle.md": { apps: [{ check: checkLifecycle }], fragments: true },
  "docs/memory.md": { apps: [], fragments: true },
  "docs/cookie-sessions.md": { apps: [], fragments: true },
  "docs/security.md": { apps: [], fragments: true },
  "docs/errors.md": { apps: [], fragments: true },
  "docs/push.md": { apps: [{ check: checkPush }], fragments: true },
  "docs/several-nodes.md": { apps: [{ check: checkClusterModule, needs: clusterNeeds }], fragments: true },
  "docs/better-auth.md": { apps: [{ check: checkBetterAuth, needs: redisNeeds }], fragments: true },
  "docs/authjs.md": { apps: [{ check: checkAuthjs }], fragments: true },
  "docs/iron-session.md": { apps: [{ check: checkIronSession }], fragments: true },
  "docs/engines.md": { apps: [], fragments: true },
  "docs/observability.md": { apps: [{ check: checkObservability }], fragments: true },
};

let install: PackedInstall;
beforeAll(async () => {
  install = await packedInstall();
}, 240_000);

const running: RunningApp[] = [];
const sockets: ClientSocket[] = [];
const stopping: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const app of running.splice(0)) await app.stop();
  for (const stop of stopping.splice(0)) await stop();
});

const cookieOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
/** The next `event` on `socket`; rejects after 10 s, so a lost event fails with its name instead of hanging. */
const next = <T>(socket: ClientSocket, event: string) =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within 10 s`)), 10_000);
    socket.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
const open = (url: string, cookie: string) => {
  const socket = ioClient(url, {
    extraHeaders: { cookie },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  return socket;
};

for (const [page, spec] of Object.entries(PAGES)) {
  describe(page, () => {
    const { apps, fragments } = readPage(page);

    it(`has ${spec.apps.length} whole app(s), each with its install line and run command`, () => {
      expect(apps.map((app) => app.files.map((file) => file.path))).toHaveLength(spec.apps.length);
      for (const app of apps) {
        expect(app.files.length, `app at line ${app.line}`).toBeGreaterThan(0);
        expect(app.packages).toContain("socket.io-session-auth");
      }
    });

    it("names in each install line every package its files import, and only packages that exist", () => {
      for (const app of apps) {
        const imported = app.files.flatMap((file) => importedPackages(file.code));
        const available = installedWith(app.packages.filter((name) => name !== "socket.io-session-auth"));
        for (const name of imported.filter((name) => name !== "socket.io-session-auth")) {
          expect(
            [...available],
            `${page}:${app.line} imports ${name}, which its install line does not bring`,
          ).toContain(name);
        }
        for (const name of app.packages.filter((name) => name !== "socket.io-session-auth"))
          expect(APP_PACKAGES as readonly string[]).toContain(name);
      }
    });

    it.runIf(spec.fragments)(
      "says of every other code block that it is a fragment, and links to the whole file",
      () => {
        for (const fragment of fragments) {
          const said =
            fragment.before
              .split(/\n\s*\n/)
              .filter((paragraph) => paragraph.trim() !== "")
              .at(-1) ?? "";
          expect(
            /fragment/i.test(said) && /\]\([^)]+\)/.test(said),
            `${page}:${fragment.line} (${fragment.lang}) is neither a whole file nor a fragment that says so:\n${said}`,
          ).toBe(true);
        }
      },
    );

    apps.forEach((app, index) => {
      it(`app ${index + 1} (line ${app.line}: ${app.files.map((file) => file.path).join(", ")}) runs as pasted and does what the page says`, async (context) => {
        const missing = app.packages.filter((name) => OPTIONAL_PACKAGES.has(name) && !isInstalled(name));
        if (missing.length > 0) {
          console.warn(
            `!!! SKIPPING ${page}:${app.line}: ${missing.join(", ")} not installed in this repository (add them to devDependencies to run it)`,
          );
          context.skip();
          return;
        }
        const { check, needs } = spec.apps[index]!;
        const services = await needs?.();
        if (services) stopping.push(services.stop);
        const dir = freshAppDir(install, page.replace(/\W+/g, "-") + index);
        const started = await startApp(app, dir, services?.env);
        running.push(started);
        try {
          await check(started, { dir });
        } catch (error) {
          (error as Error).message += `\n--- the app printed:\n${started.output()}`;
          throw error;
        }
      }, 90_000);
    });
  });
}

/**
 * The pages' whole apps on Redis, started while Redis is down (issue 18, item 7): each must listen at once,
 * serve HTTP, refuse handshakes with the retryable STORE_UNAVAILABLE (not hang, not crash), and work by
 * itself once Redis comes on the port it was given, without a restart. As
 * test/integration/redis/docs-apps-redis-down.test.ts does for the docs/examples apps.
 */
const REDIS_DOWN: Record<string, (app: RunningApp, redis: RedisServer) => Promise<void>> = {
  "docs/redis.md": checkRedisPageWithRedisDown,
  "docs/better-auth.md": checkBetterAuthWithRedisDown,
};
/** How long an app may take to print its address with Redis down: a wait on Redis would take longer. */
const STARTS_WITHIN_MS = 10_000;

describe.skipIf(!redisServerAvailable())("the pages' Redis apps, started with Redis down", () => {
  for (const [page, check] of Object.entries(REDIS_DOWN)) {
    it(`${page}: listens at once, refuses STORE_UNAVAILABLE, then works once Redis comes`, async () => {
      const redis = await stoppedRedisServer();
      stopping.push(() => redis.stop());
      const [app] = readPage(page).apps;
      const dir = freshAppDir(install, `${page.replace(/\W+/g, "-")}redis-down`);
      const started = await startApp(app!, dir, { REDIS_URL: redis.url }, STARTS_WITHIN_MS);
      running.push(started);
      try {
        await check(started, redis);
      } catch (error) {
        (error as Error).message += `\n--- the app printed:\n${started.output()}`;
        throw error;
      }
    }, 90_000);
  }
});

/** Resolves what the server says in `event` right after the handshake; rejects on a refusal. */
const greeting = (url: string, cookie: string, event = "hello") =>
  new Promise<unknown>((resolve, reject) => {
    const socket = open(url, cookie);
    const timer = setTimeout(() => reject(new Error(`no "${event}" within 10 s`)), 10_000);
    socket.once(event, (value: unknown) => {
      clearTimeout(timer);
      resolve(value);
    });
    socket.once("connect_error", (error: Error) => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    });
  });

const STORE_UNAVAILABLE = { code: "STORE_UNAVAILABLE", retryable: true };

async function checkRedisPageWithRedisDown(app: RunningApp, redis: RedisServer): Promise<void> {
  expect((await fetch(`${app.url}/`, { signal: AbortSignal.timeout(2_000) })).status).toBe(200);
  // A well-signed cookie (the page's default secret): the refusal is about the store, not the cookie.
  const signed = `connect.sid=${encodeURIComponent(`s:${sign("a-session-nobody-wrote", "dev only: set SESSION_SECRET")}`)}`;
  expect((await refusal(app.url, { cookie: signed, transports: ["websocket"] })).data).toEqual(STORE_UNAVAILABLE);
  expect(app.output()).toContain("refused a handshake: STORE_UNAVAILABLE");

  await redis.start();
  const cookie = await eventually(async () => {
    const res = await fetch(`${app.url}/login`, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(2_000),
    });
    expect(res.status).toBe(303);
    return cookieOf(res);
  });
  expect(await eventually(() => greeting(app.url, cookie))).toBe("you are 42");
}

async function checkBetterAuthWithRedisDown(app: RunningApp, redis: RedisServer): Promise<void> {
  const realtime = await realtimeOf(app.output);
  // Nothing but Better Auth's handler answers there: a 404 means the web app serves.
  expect((await fetch(`${app.url}/`, { signal: AbortSignal.timeout(2_000) })).status).toBe(404);
  // A well-signed token (the page's default secret) that Redis would be asked about.
  const token = "a-token-nobody-wrote";
  const mac = createHmac("sha256", "dev-only-secret-do-not-use-in-production-0123").update(token).digest("base64");
  const signed = `better-auth.session_token=${encodeURIComponent(`${token}.${mac}`)}`;
  expect((await refusal(realtime, { cookie: signed, transports: ["websocket"] })).data).toEqual(STORE_UNAVAILABLE);
  expect(app.output()).toContain("refused a handshake: STORE_UNAVAILABLE");

  await redis.start();
  // A new address each attempt: an attempt that timed out may still have signed its user up.
  let attempt = 0;
  const [email, cookie] = await eventually(async () => {
    const email = `lin+${++attempt}@example.com`;
    const res = await fetch(`${app.url}/api/auth/sign-up/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: app.url },
      body: JSON.stringify({ email, password: "correct horse battery staple", name: "Lin" }),
      signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(200);
    return [email, cookieOf(res)] as const;
  }, 30_000);
  expect(await eventually(() => greeting(realtime, cookie))).toBe(`you are ${email}`);
}

async function login(url: string, name: string) {
  const res = await fetch(`${url}/login`, { method: "POST", body: new URLSearchParams({ name }), redirect: "manual" });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/");
  return cookieOf(res);
}

async function checkGettingStarted({ url }: RunningApp): Promise<void> {
  // The page is served where login sends the browser, with the client script socket.io serves.
  const home = await fetch(`${url}/`);
  expect(home.status).toBe(200);
  expect(await home.text()).toContain('<script src="/socket.io/socket.io.js">');
  expect((await fetch(`${url}/socket.io/socket.io.js`)).status).toBe(200);
  expect(
    (await fetch(`${url}/login`, { method: "POST", body: new URLSearchParams({ name: "no spaces" }) })).status,
  ).toBe(400);
  expect((await refusal(url, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });

  // Listening from the moment each socket opens: "welcome" comes right after the handshake.
  const ada = open(url, await login(url, "ada"));
  const adaWelcome = next(ada, "welcome");
  const grace = open(url, await login(url, "grace"));
  const graceWelcome = next(grace, "welcome");
  expect(await adaWelcome).toEqual({ userId: "ada", tabs: 1 });
  await graceWelcome;
  const [heardByAda, heardByGrace] = [next(ada, "said"), next(grace, "said")];
  ada.emit("say", "hello all");
  expect(await heardByAda).toEqual({ from: "ada", text: "hello all" }); // the sender sees their own line
  expect(await heardByGrace).toEqual({ from: "ada", text: "hello all" });
  const whispered = next(grace, "whispered");
  ada.emit("whisper", "grace", "psst");
  expect(await whispered).toEqual({ from: "ada", text: "psst" });

  // Logout closes this browser's socket, and its next handshake is refused; the other user stays.
  const adaCookie = (ada.io.opts.extraHeaders as Record<string, string>).cookie!;
  const closed = next(ada, "disconnect");
  const out = await fetch(`${url}/logout`, { method: "POST", headers: { cookie: adaCookie }, redirect: "manual" });
  expect(out.status).toBe(303);
  expect(await closed).toBe("io server disconnect");
  expect(grace.connected).toBe(true);
  expect((await refusal(url, { cookie: adaCookie, transports: ["websocket"] })).data).toEqual({
    code: "SESSION_NOT_FOUND",
    retryable: false,
  });

  if (chromiumAvailable()) await checkInBrowser(url);
}

/** The page itself, in chromium: refused before login, the feed after, own lines seen, logout. */
async function checkInBrowser(url: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const feed = () => page.locator("#feed li").allTextContents();
    await page.goto(`${url}/`);
    await expect.poll(feed, { timeout: 10_000 }).toEqual(["not connected: NO_SESSION_COOKIE, log in first"]);
    await page.fill('input[name="name"]', "ada");
    await Promise.all([page.waitForURL(`${url}/`), page.click('form[action="/login"] button')]);
    await expect.poll(feed, { timeout: 10_000 }).toEqual(["signed in as ada (1 tab(s))"]);
    await page.fill('input[name="text"]', "hello from the page");
    await page.click("#say button");
    await expect.poll(feed, { timeout: 10_000 }).toEqual(["ada: hello from the page", "signed in as ada (1 tab(s))"]);
    await Promise.all([page.waitForURL(`${url}/`), page.click('form[action="/logout"] button')]);
    await expect.poll(feed, { timeout: 10_000 }).toEqual(["not connected: NO_SESSION_COOKIE, log in first"]);
  } finally {
    await browser.close();
  }
}

async function checkTyped({ url }: RunningApp, { dir }: { dir: string }): Promise<void> {
  // The page answers at `/`, where login sends the browser.
  const home = await fetch(`${url}/`);
  expect(home.status).toBe(200);
  expect(await home.text()).toContain('<script src="/socket.io/socket.io.js">');
  const as = async (plan: string) => {
    const res = await fetch(`${url}/login?plan=${plan}`, { method: "POST", redirect: "manual" });
    expect([res.status, res.headers.get("location")]).toEqual([303, "/"]);
    return cookieOf(res);
  };
  const pro = open(url, await as("pro"));
  expect(await next(pro, "plan")).toBe("pro");
  expect(await pro.timeout(5000).emitWithAck("whoami")).toBe("42");
  expect((await refusal(url, { cookie: await as("free"), transports: ["websocket"] })).data).toEqual({
    code: "FORBIDDEN",
    retryable: false,
  });
  await expectTypechecks(dir);
}

/** A TypeScript app typechecks as pasted, strict, against the packed package's own declarations. */
async function expectTypechecks(dir: string): Promise<void> {
  cpSync(join(repoRoot, "test/integration/docs/tsconfig.app.json"), join(dir, "tsconfig.json"));
  const tsc = await run("npx", ["--no-install", "tsc", "--noEmit", "-p", "."], { cwd: dir, timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      output: `${error.stdout ?? ""}${error.stderr ?? ""}`,
    }),
  );
  expect(tsc).toEqual({ code: 0, output: "" });
}

/** The lifecycle page's app: update() from the socket, seen over HTTP; logout ends the socket with the event first. */
async function checkLifecycle({ url }: RunningApp, { dir }: { dir: string }): Promise<void> {
  const login = await fetch(`${url}/login`, {
    method: "POST",
    body: new URLSearchParams({ name: "ada" }),
    redirect: "manual",
  });
  expect(login.status).toBe(303);
  const cookie = cookieOf(login);
  const socket = open(url, cookie);
  const ended = next(socket, "session:ended");
  const closed = next(socket, "disconnect");
  expect(await socket.timeout(5000).emitWithAck("cart:add", "apple")).toEqual({ ok: true, cart: ["apple"] });
  expect(await socket.timeout(5000).emitWithAck("cart:add", "pear")).toEqual({ ok: true, cart: ["apple", "pear"] });
  expect(await (await fetch(`${url}/`, { headers: { cookie } })).text()).toContain(
    'Cart: <span id="cart">apple, pear</span>',
  );
  expect((await fetch(`${url}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" })).status).toBe(303);
  expect(await ended).toEqual({ code: "SESSION_NOT_FOUND" });
  expect(await closed).toBe("io server disconnect");
  await expectTypechecks(dir);
}

/**
 * docs/postgres.md: log in on the web app, open a socket to the socket.io server (another process), add to
 * the cart over the socket and see it on the web app's next request, log out and see the socket ended by
 * the trigger's NOTIFY.
 */
async function checkPostgres({ url }: RunningApp): Promise<void> {
  const home = await (await fetch(`${url}/`)).text();
  expect(home).toContain("/socket.io/socket.io.js");
  const login = await fetch(`${url}/login`, { method: "POST", redirect: "manual" });
  expect(login.status).toBe(303);
  const cookie = cookieOf(login);
  const socket = await eventually(async () => {
    const opened = open(realtimeUrl, cookie);
    expect(await next(opened, "hello")).toBe("you are 42");
    return opened;
  }, 15_000);
  const ended = next(socket, "session:ended");
  const closed = next(socket, "disconnect");
  expect(await socket.timeout(5000).emitWithAck("cart:add", "apple")).toEqual({ ok: true, cart: ["apple"] });
  expect(await (await fetch(`${url}/`, { headers: { cookie } })).text()).toContain(
    'Cart: <span id="cart">apple</span>',
  );
  expect((await fetch(`${url}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" })).status).toBe(303);
  expect(await ended).toEqual({ code: "SESSION_NOT_FOUND" });
  expect(await closed).toBe("io server disconnect");
}

/**
 * docs/observability.md: a refused and an accepted handshake print their spans (and the store call's),
 * then the metrics; the printed telemetry never holds the session id.
 */
async function checkObservability({ url, output }: RunningApp): Promise<void> {
  expect((await refusal(url, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
  const res = await fetch(`${url}/login`, { method: "POST", redirect: "manual" });
  expect(res.status).toBe(303);
  const cookie = cookieOf(res);
  const socket = open(url, cookie);
  expect(await next(socket, "hello")).toBe("you are 42");
  await eventually(async () => {
    const printed = output();
    expect(printed).toContain("name: 'socket.io-session-auth.handshake'");
    expect(printed).toContain("'error.type': 'NO_SESSION_COOKIE'");
    expect(printed).toContain("'session_auth.outcome': 'OK'");
    expect(printed).toContain("name: 'socket.io-session-auth.store.get'");
  }, 10_000);
  // The console metric exporter runs every 5 s.
  await eventually(async () => expect(output()).toContain("session_auth.handshake.duration"), 15_000);
  const sessionId = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1))
    .slice(2)
    .split(".")[0]!;
  expect(sessionId.length).toBeGreaterThan(20);
  expect(output()).not.toContain(sessionId);
}

async function checkQuickStart({ url }: RunningApp): Promise<void> {
  const home = await (await fetch(`${url}/`)).text();
  expect(home).toContain("/socket.io/socket.io.js");
  const res = await fetch(`${url}/login`, { method: "POST", redirect: "manual" });
  expect(res.status).toBe(303);
  const socket = open(url, cookieOf(res));
  expect(await next(socket, "hello")).toBe("you are 42");
  expect((await refusal(url, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
  if (chromiumAvailable()) await checkQuickStartInBrowser(url);
}

/**
 * docs/several-nodes.md's cluster-module program: a session connect-redis wrote is accepted over polling
 * (every request to the same worker) on the port the primary holds, and a handshake with no cookie is
 * refused; the push router answers on that port once both workers know each other.
 */
async function checkClusterModule({ url }: RunningApp): Promise<void> {
  const client = createClient({ url: CLUSTER.redisUrl });
  client.on("error", () => {});
  await client.connect();
  const sid = randomUUID();
  const expires = new Date(Date.now() + 60_000);
  try {
    await new RedisStore({ client }).set(sid, { cookie: { originalMaxAge: 60_000, expires }, userId: "42" } as never);
  } finally {
    client.destroy();
  }
  await eventually(async () => {
    const res = await fetch(`${url}/push/health`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`health ${res.status}`);
  }, 20_000);
  const cookie = signSessionCookie({ value: sid, secret: CLUSTER.secret });
  const socket = await connect(url, { cookie, transports: ["polling"] });
  sockets.push(socket);
  expect(await ask<{ userId: string; worker: number }>(socket, "whoami")).toEqual({
    userId: "42",
    worker: expect.any(Number),
  });
  expect((await refusal(url, { transports: ["polling"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
}

/**
 * The push page's app: a logged-in page's socket gets what the page's curl line pushes, run as the page
 * shows it with the PUSH_URL and PUSH_TOKEN the app printed; the page shows it in chromium.
 */
async function checkPush(app: RunningApp): Promise<void> {
  const home = await fetch(`${app.url}/`);
  expect(await home.text()).toContain('<script src="/socket.io/socket.io.js">');
  const printed = /export PUSH_URL=(\S+) PUSH_TOKEN=(\w+)/.exec(app.output());
  expect(printed, "the app prints the variables to push with").not.toBeNull();
  const env = { ...process.env, PUSH_URL: printed![1]!.replace("localhost", "127.0.0.1"), PUSH_TOKEN: printed![2]! };
  const curl = readBlocks("docs/push.md").find((block) => block.lang === "sh" && block.code.includes('"user":"ada"'))!;
  const pushFromPage = () =>
    run("bash", ["-c", `curl() { command curl -w '\\n%{http_code}' "$@"; }\n${curl.code}`], { env });

  const socket = open(app.url, await login(app.url, "ada"));
  await next(socket, "connect");
  const notice = next(socket, "notice");
  const { stdout } = await pushFromPage();
  expect(stdout.trimEnd().split("\n").pop()).toBe("202");
  expect(await notice).toBe("hello from curl");

  if (!chromiumAvailable()) return;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${app.url}/`);
    await expect
      .poll(() => page.locator("#status").textContent(), { timeout: 10_000 })
      .toBe("not connected: NO_SESSION_COOKIE");
    await page.fill('input[name="name"]', "ada");
    await Promise.all([page.waitForURL(`${app.url}/`), page.click('form[action="/login"] button')]);
    await expect
      .poll(() => page.locator("#status").textContent(), { timeout: 10_000 })
      .toBe("connected: pushes to you appear below");
    await pushFromPage();
    await expect
      .poll(() => page.locator("#pushes li").allTextContents(), { timeout: 10_000 })
      .toEqual(['notice: "hello from curl"']);
  } finally {
    await browser.close();
  }
}

/** The Fastify page's app: the quick start's checks, and logout ends the open socket through auth.endSession. */
async function checkFastify(app: RunningApp): Promise<void> {
  await checkQuickStart(app);
  const cookie = cookieOf(await fetch(`${app.url}/login`, { method: "POST", redirect: "manual" }));
  const socket = open(app.url, cookie);
  await next(socket, "hello");
  const [ended, closed] = [next(socket, "session:ended"), next(socket, "disconnect")];
  const out = await fetch(`${app.url}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });
  expect(out.status).toBe(303);
  expect(await ended).toEqual({ code: "SESSION_NOT_FOUND" });
  expect(await closed).toBe("io server disconnect");
  expect((await refusal(app.url, { cookie, transports: ["websocket"] })).data).toEqual({
    code: "SESSION_NOT_FOUND",
    retryable: false,
  });
}

async function checkNest(app: RunningApp): Promise<void> {
  await checkQuickStart(app);
  // The gateway's message handler sees the same typed socket.data; a namespace gateway would too.
  const res = await fetch(`${app.url}/login`, { method: "POST", redirect: "manual" });
  const socket = open(app.url, cookieOf(res));
  await next(socket, "hello");
  expect(await socket.timeout(5000).emitWithAck("whoami")).toBe("42");
  // The namespace gateway: refused without a session, authenticated with one.
  expect((await refusal(app.url, { namespace: "/chat", transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
  const chat = ioClient(`${app.url}/chat`, {
    extraHeaders: { cookie: cookieOf(res) },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(chat);
  expect(await next(chat, "hello")).toBe("42 joined the chat");
}

async function checkExpressSessionPort({ url }: RunningApp): Promise<void> {
  expect((await refusal(url, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
  const home = await fetch(`${url}/`);
  expect(await home.text()).toContain("Increment with emit()");
  const cookie = cookieOf(home); // the visitor's session (saveUninitialized: true)
  const socket = open(url, cookie);
  const counts: number[] = [];
  socket.on("current count", (count: number) => counts.push(count));
  await next(socket, "connect");
  const incr = () => fetch(`${url}/incr`, { method: "POST", headers: { cookie } }).then((res) => res.text());
  expect(await incr()).toBe("1");
  await expect.poll(() => counts).toEqual([1]); // the session's room reached the socket
  expect(await socket.timeout(5000).emitWithAck("incr")).toBe(2); // written through the store...
  expect(await incr()).toBe("3"); // ...where the next HTTP request reads it
  const closed = next(socket, "disconnect");
  expect((await fetch(`${url}/logout`, { method: "POST", headers: { cookie } })).status).toBe(204);
  expect(await closed).toBe("io server disconnect");
  expect((await refusal(url, { cookie, transports: ["websocket"] })).data).toEqual({
    code: "SESSION_NOT_FOUND",
    retryable: false,
  });
}

async function checkPassportPort({ url }: RunningApp): Promise<void> {
  expect((await fetch(`${url}/`, { redirect: "manual" })).headers.get("location")).toBe("/login");
  const login = (password: string) =>
    fetch(`${url}/login`, {
      method: "POST",
      body: new URLSearchParams({ username: "john", password }),
      redirect: "manual",
    });
  const wrong = await login("wrong");
  expect((await refusal(url, { cookie: cookieOf(wrong), transports: ["websocket"] })).data).toEqual({
    code: "UNAUTHENTICATED",
    retryable: false,
  });
  const right = await login("changeit");
  expect(right.headers.get("location")).toBe("/");
  const cookie = cookieOf(right);
  expect(await (await fetch(`${url}/`, { headers: { cookie } })).text()).toContain("Authenticated!");
  const socket = open(url, cookie);
  await next(socket, "connect");
  expect(await socket.timeout(5000).emitWithAck("whoami")).toBe("john");
  const closed = next(socket, "disconnect");
  const out = await fetch(`${url}/logout`, { method: "POST", headers: { cookie } });
  expect(out.status).toBe(204);
  expect(await closed).toBe("io server disconnect");
  // Passport's req.logout() regenerated the session: the old cookie's session is gone, the new one is anonymous.
  const anonymous = cookieOf(out);
  expect(anonymous).toMatch(/^connect\.sid=/);
  expect(anonymous).not.toBe(cookie);
  for (const [sent, code] of [
    [cookie, "SESSION_NOT_FOUND"],
    [anonymous, "UNAUTHENTICATED"],
  ]) {
    expect((await refusal(url, { cookie: sent, transports: ["websocket"] })).data).toEqual({ code, retryable: false });
  }
}

/** The quick start's page in chromium: refused before login, told who it is after. */
async function checkQuickStartInBrowser(url: string): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const status = () => page.locator("#status").textContent();
    await page.goto(`${url}/`);
    await expect.poll(status, { timeout: 10_000 }).toBe("not connected: NO_SESSION_COOKIE");
    await Promise.all([page.waitForURL(`${url}/`), page.click('form[action="/login"] button')]);
    await expect.poll(status, { timeout: 10_000 }).toBe("you are 42");
  } finally {
    await browser.close();
  }
}

// Two processes: the web app (Better Auth's handler) prints its URL, then the socket.io server it forks.
async function checkBetterAuth({ url, output }: RunningApp): Promise<void> {
  await expect
    .poll(() => /socket\.io server: http:\/\/localhost:(\d+)/.exec(output()), { timeout: 20_000 })
    .toBeTruthy();
  const realtime = `http://127.0.0.1:${/socket\.io server: http:\/\/localhost:(\d+)/.exec(output())![1]}`;
  const signUp = await fetch(`${url}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url },
    body: JSON.stringify({ email: "ada@example.com", password: "correct horse battery staple", name: "Ada" }),
  });
  expect(signUp.status).toBe(200);
  const cookie = cookieOf(signUp);
  expect(cookie).toMatch(/^better-auth\.session_token=/);
  const socket = open(realtime, cookie);
  expect(await next(socket, "hello")).toBe("you are ada@example.com");
  expect((await refusal(realtime, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
  const ended = next(socket, "session:ended");
  const closed = next(socket, "disconnect");
  const signOut = await fetch(`${url}/api/auth/sign-out`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url, cookie },
    body: "{}",
  });
  expect(signOut.status).toBe(200);
  expect(await ended).toEqual({ code: "SESSION_NOT_FOUND" });
  expect(await closed).toBe("io server disconnect");
}

/** The socket.io server's address that a two-process page's web app printed once its child listens. */
async function realtimeOf(output: () => string): Promise<string> {
  const printed = /socket\.io server: http:\/\/localhost:(\d+)/;
  await expect.poll(() => printed.exec(output()), { timeout: 20_000 }).toBeTruthy();
  return `http://127.0.0.1:${printed.exec(output())![1]}`;
}

// docs/authjs.md: sign in through @auth/express's credentials callback (CSRF token first, as Auth.js's own
// sign-in page posts it); the socket.io server in the other process decrypts the JWT cookie it set.
async function checkAuthjs({ url, output }: RunningApp): Promise<void> {
  const realtime = await realtimeOf(output);
  const csrf = await fetch(`${url}/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const signIn = (password: string) =>
    fetch(`${url}/auth/callback/credentials`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookieOf(csrf) },
      body: new URLSearchParams({ csrfToken, username: "ada", password, callbackUrl: url }),
      redirect: "manual",
    });
  expect(cookieOf(await signIn("wrong"))).not.toContain("session-token");
  const signedIn = await signIn("correct horse battery staple");
  expect(signedIn.status).toBe(302);
  const cookie = cookieOf(signedIn);
  expect(cookie).toMatch(/(^|; )authjs\.session-token=/);
  expect(await (await fetch(`${url}/`, { headers: { cookie } })).text()).toContain("Signed in as Ada Lovelace");
  const socket = open(realtime, cookie);
  expect(await next(socket, "hello")).toBe("you are 1, Ada Lovelace");
  expect((await refusal(realtime, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
}

// docs/iron-session.md: log in on the node:http web app (iron-session seals the cookie); the socket.io
// server in the other process unseals it.
async function checkIronSession({ url, output }: RunningApp): Promise<void> {
  const realtime = await realtimeOf(output);
  expect(
    (await fetch(`${url}/login`, { method: "POST", body: new URLSearchParams({ name: "no spaces" }) })).status,
  ).toBe(400);
  const cookie = await login(url, "ada");
  expect(cookie).toMatch(/^app_session=Fe26\.2\*/);
  expect(await (await fetch(`${url}/`, { headers: { cookie } })).text()).toContain("Logged in as ada");
  const socket = open(realtime, cookie);
  expect(await next(socket, "hello")).toBe("you are ada");
  expect((await refusal(realtime, { transports: ["websocket"] })).data).toEqual({
    code: "NO_SESSION_COOKIE",
    retryable: false,
  });
}
