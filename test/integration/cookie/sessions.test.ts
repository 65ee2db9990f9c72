import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import express5, { type RequestHandler } from "express";
import express4 from "express4";
import createKoaSession from "koa-session";
import { serialize as serializeCookie } from "cookie";
import { sign as signCookie } from "cookie-signature";
import type { Server } from "socket.io";
import { io as ioClient } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  sessionAuth,
  sessionRoom,
  userRoom,
  type SessionAuthError,
  type SessionAuthOptions,
  type SessionStore,
} from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";
import { acceptConnectCookieSessions } from "../../../docs/examples/cookie-connect.js";
import { acceptKoaSessions } from "../../../docs/examples/cookie-koa.js";
import { acceptRevocableCookieSessions } from "../../../docs/examples/cookie-revocation.js";
import { acceptCookieSessions } from "../../../docs/examples/cookie-session.js";
import { ask, connect, refusal, startRealtime, type ConnectFailure } from "../../support/realtime.js";
import { CookieJar } from "../../support/cookies.js";

// cookie-session, keygrip and koa ship no types: only what these tests use of them.
interface Keygrip {
  sign(data: string): string;
}
interface KoaContext {
  path: string;
  query: Record<string, string | string[] | undefined>;
  session: Record<string, unknown> | null;
  body: unknown;
  cookies: { set(name: string, value: string, options: { signed: boolean; httpOnly: boolean }): void };
}
interface KoaApp {
  keys: readonly string[] | Keygrip;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => unknown): KoaApp;
  callback(): RequestListener;
}
const require = createRequire(import.meta.url);
const cookieSession = require("cookie-session") as (options: {
  name?: string;
  keys: readonly string[] | Keygrip;
  maxAge?: number;
}) => RequestHandler;
const Keygrip = require("keygrip") as new (keys: readonly string[], algorithm?: string) => Keygrip;
const Koa = require("koa") as new () => KoaApp;

type Session = Record<string, unknown>;

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

// ---------------------------------------------------------------------------------------------------
// HTTP: a tiny client; the jar (test/support/cookies.ts) forgets what the server expires, as a browser does.

interface Answer {
  status: number;
  body: unknown;
  setCookie: string[];
}

async function http(
  url: string,
  options: { method?: string; body?: unknown; cookie?: string | undefined } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  const res = await fetch(url, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === "" ? null : (JSON.parse(text) as unknown),
    setCookie: res.headers.getSetCookie(),
  };
}

async function listen(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  opened.push({
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// ---------------------------------------------------------------------------------------------------
// The web apps that issue the sessions: real libraries, real HTTP.

const sessionOf = (req: unknown) => req as { session: Session | null };

/** Express 4 or 5 with real cookie-session. POST /login assigns the JSON body to the session. */
async function startCookieSessionApp(options: {
  express: 4 | 5;
  keys: readonly string[] | Keygrip;
  name?: string;
}): Promise<string> {
  const app = (options.express === 4 ? express4 : express5)() as ReturnType<typeof express5>;
  app.use(cookieSession({ name: options.name ?? "session", keys: options.keys, maxAge: 3_600_000 }));
  app.post("/login", express5.json({ limit: "64kb" }), (req, res) => {
    Object.assign(sessionOf(req).session!, req.body);
    res.json({ ok: true });
  });
  // What cookie-session itself makes of the cookie it is sent (a cross-check for our verdicts).
  app.get("/whoami", (req, res) => {
    res.json({ user: sessionOf(req).session?.user ?? null });
  });
  app.post("/logout", (req, res) => {
    sessionOf(req).session = null;
    res.json({ ok: true });
  });
  return listen(app as unknown as RequestListener);
}

/**
 * Koa with real koa-session in cookie mode. GET /login?id&name[&maxAge] logs in; GET /craft?value= writes
 * `value` as the session cookie through Koa's own cookies + keygrip (a session written earlier, say).
 */
async function startKoaApp(options: { keys: readonly string[] | Keygrip; name?: string }): Promise<string> {
  const name = options.name ?? "koa.sess";
  const app = new Koa();
  app.keys = options.keys;
  app.use(createKoaSession({ key: name, maxAge: 3_600_000 }, app));
  app.use(async (ctx) => {
    const param = (key: string) => (typeof ctx.query[key] === "string" ? ctx.query[key] : undefined);
    switch (ctx.path) {
      case "/login": {
        ctx.session!.user = { id: Number(param("id")), name: param("name") };
        const maxAge = param("maxAge");
        if (maxAge !== undefined) ctx.session!.maxAge = maxAge === "session" ? "session" : Number(maxAge);
        ctx.body = { ok: true };
        return;
      }
      case "/whoami":
        ctx.body = { user: ctx.session?.user ?? null };
        return;
      case "/logout":
        ctx.session = null;
        ctx.body = { ok: true };
        return;
      case "/craft":
        ctx.cookies.set(name, param("value") ?? "", { signed: true, httpOnly: true });
        ctx.body = { ok: true };
        return;
      default:
        ctx.body = { ok: false };
    }
  });
  return listen(app.callback());
}

const CONNECT_SECRET = "tobo!";

/**
 * What Connect 2's cookieSession wrote, from Express 4's res.cookie(name, object, { signed: true }): the same
 * "j:" + JSON, signed "s:" + cookie-signature, URL-encoded. `req.secret` is what cookieParser(secret) set.
 */
async function startConnectEraApp(secret: string): Promise<string> {
  const app = express4() as ReturnType<typeof express5>;
  app.use((req, _res, next) => {
    (req as unknown as { secret: string }).secret = secret;
    next();
  });
  app.post("/login", express5.json(), (req, res) => {
    res.cookie("connect.sess", req.body as object, { signed: true, httpOnly: true });
    res.json({ ok: true });
  });
  return listen(app as unknown as RequestListener);
}

// ---------------------------------------------------------------------------------------------------
// The socket.io side.

interface WhoAmI {
  userId: string | null;
  session: Session;
  rooms: string[];
  protoKeys: boolean;
}

async function startSockets(options: Omit<SessionAuthOptions<Session>, "onError">) {
  const errors: SessionAuthError[] = [];
  let gets = 0;
  const store: SessionStore<Session> = {
    name: options.store.name,
    get: (id, lookup) => {
      gets++;
      return options.store.get(id, lookup);
    },
  };
  const auth = sessionAuth<Session>({ ...options, store, onError: (error) => errors.push(error) });
  const realtime = await startRealtime((io) => {
    io.use(auth);
    io.on("connection", (socket) => {
      socket.on("whoami", (ack: (value: WhoAmI) => void) =>
        ack({
          userId: socket.data.userId,
          session: socket.data.session,
          rooms: [...socket.rooms].filter((room) => room !== socket.id),
          // Seen server-side: once serialized for the client an own "__proto__" key is indistinguishable.
          protoKeys: JSON.stringify(socket.data.session).includes('"__proto__"'),
        }),
      );
    });
  });
  opened.push(realtime);
  const whoami = async (cookie: string | undefined): Promise<WhoAmI> => {
    const socket = await connect(realtime.url, { cookie });
    opened.push(socket);
    return ask<WhoAmI>(socket, "whoami");
  };
  return { url: realtime.url, auth, errors, whoami, gets: () => gets };
}

function expectRefused(failure: ConnectFailure, code: string): void {
  expect(failure).toEqual({ message: code, data: { code, retryable: false }, type: undefined });
}

const base64Json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64");
const decodeValue = (value: string): Session => JSON.parse(Buffer.from(value, "base64").toString("utf8")) as Session;

/** Waits for a condition, checking every few milliseconds (never a fixed sleep). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// ---------------------------------------------------------------------------------------------------

describe.each([4, 5] as const)("cookie-session on Express %i", (express) => {
  const KEYS = ["key-new", "key-old"];
  const sockets = () => startSockets({ store: cookieStore(), signing: "keygrip", name: "session", secret: KEYS });

  it("logs in over HTTP; the socket gets the user, the session and the rooms", async () => {
    const web = await startCookieSessionApp({ express, keys: KEYS });
    const { whoami, errors } = await sockets();
    const jar = new CookieJar().take(
      (await http(`${web}/login`, { body: { user: { id: 42, name: "alice", roles: ["admin"] } } })).setCookie,
    );
    const value = jar.get("session")!;
    expect(jar.get("session.sig")).toMatch(/^[A-Za-z0-9_-]{27}$/);
    const me = await whoami(jar.header());
    expect(me.userId).toBe("42");
    expect(me.session).toEqual({ user: { id: 42, name: "alice", roles: ["admin"] } });
    expect(me.rooms.sort()).toEqual([userRoom(42), sessionRoom(value)].sort());
    expect(JSON.stringify(me)).not.toContain(value);
    expect(errors).toEqual([]);
  });

  it("key rotation: a cookie signed by a key now second in the list still verifies; cookie-session re-signs it", async () => {
    const before = await startCookieSessionApp({ express, keys: ["key-old"] });
    const after = await startCookieSessionApp({ express, keys: KEYS });
    const { whoami, auth } = await sockets();
    const jar = new CookieJar().take((await http(`${before}/login`, { body: { user: { id: 5 } } })).setCookie);
    expect((await whoami(jar.header())).userId).toBe("5");
    const old = await auth.authenticate({ headers: { cookie: jar.header() } } as IncomingMessage);
    expect(old.secretIndex).toBe(1);
    // The web app, now on the new key list, accepts the old cookie and re-issues only session.sig.
    const visit = await http(`${after}/whoami`, { cookie: jar.header() });
    expect(visit.body).toEqual({ user: { id: 5 } });
    expect(visit.setCookie.map((line) => line.split("=")[0])).toEqual(["session.sig"]);
    jar.take(visit.setCookie);
    const renewed = await auth.authenticate({ headers: { cookie: jar.header() } } as IncomingMessage);
    expect(renewed).toMatchObject({ secretIndex: 0, userId: "5" });
  });

  it("an edited payload under the old .sig is refused with BAD_SIGNATURE (and cookie-session agrees), before any decoding", async () => {
    const web = await startCookieSessionApp({ express, keys: KEYS });
    const { url, gets, errors } = await sockets();
    const jar = new CookieJar().take(
      (await http(`${web}/login`, { body: { user: { id: 7, role: "user" } } })).setCookie,
    );
    const session = decodeValue(jar.get("session")!);
    const edited = base64Json({ ...session, user: { id: 1, role: "admin" } });
    const cookie = `session=${edited}; session.sig=${jar.get("session.sig")}`;
    expectRefused(await refusal(url, { cookie }), "BAD_SIGNATURE");
    expect((await http(`${web}/whoami`, { cookie })).body).toEqual({ user: null });
    expect(gets()).toBe(0);
    expect(errors[0]!.message).not.toContain(edited);
  });

  it("a missing .sig is refused with BAD_SIGNATURE (and cookie-session ignores such a cookie too)", async () => {
    const web = await startCookieSessionApp({ express, keys: KEYS });
    const { url, gets } = await sockets();
    const jar = new CookieJar().take((await http(`${web}/login`, { body: { user: { id: 7 } } })).setCookie);
    const cookie = `session=${jar.get("session")}`;
    expectRefused(await refusal(url, { cookie }), "BAD_SIGNATURE");
    expect((await http(`${web}/whoami`, { cookie })).body).toEqual({ user: null });
    expect(gets()).toBe(0);
  });

  it("logout clears the cookie: the cleared cookie is refused; a copy kept from before still works (no revocation)", async () => {
    const web = await startCookieSessionApp({ express, keys: KEYS });
    const { url, whoami } = await sockets();
    const jar = new CookieJar().take((await http(`${web}/login`, { body: { user: { id: 8 } } })).setCookie);
    const copy = jar.header();
    const logout = await http(`${web}/logout`, { method: "POST", cookie: jar.header() });
    expect(logout.setCookie.map((line) => line.split(";")[0]!.split("=")[0])).toEqual(["session", "session.sig"]);
    jar.take(logout.setCookie);
    expect(jar.header()).toBe(""); // what a browser sends next: no cookie
    expectRefused(await refusal(url, { cookie: jar.header() }), "NO_SESSION_COOKIE");
    // A client that sends the cleared values anyway: an empty, signed value is not a session.
    const cleared = logout.setCookie.map((line) => line.split(";")[0]).join("; ");
    expectRefused(await refusal(url, { cookie: cleared }), "MALFORMED_COOKIE");
    // The limitation docs/cookie-sessions.md is about: the server kept nothing to destroy.
    expect((await whoami(copy)).userId).toBe("8");
  });

  it("reads an 8 KiB cookie-session cookie", async () => {
    const web = await startCookieSessionApp({ express, keys: KEYS });
    const { whoami } = await sockets();
    const notes = "n".repeat(6200);
    const jar = new CookieJar().take((await http(`${web}/login`, { body: { user: { id: 3 }, notes } })).setCookie);
    expect(jar.get("session")!.length).toBeGreaterThanOrEqual(8192);
    const me = await whoami(jar.header());
    expect(me.session).toEqual({ user: { id: 3 }, notes });
  });

  it.each(["sha256", "sha512"] as const)(
    "keys = new Keygrip(keys, %s) verifies with the same `algorithm`, and only with it",
    async (algorithm) => {
      const web = await startCookieSessionApp({ express, keys: new Keygrip(KEYS, algorithm) });
      const jar = new CookieJar().take((await http(`${web}/login`, { body: { user: { id: 11 } } })).setCookie);
      const matching = await startSockets({
        store: cookieStore(),
        signing: "keygrip",
        name: "session",
        secret: KEYS,
        algorithm,
      });
      expect((await matching.whoami(jar.header())).userId).toBe("11");
      const sha1 = await sockets();
      expectRefused(await refusal(sha1.url, { cookie: jar.header() }), "BAD_SIGNATURE");
    },
  );

  it("a __proto__ key the web app wrote into the session reaches no prototype", async () => {
    const web = await startCookieSessionApp({ express, keys: KEYS });
    const { whoami } = await sockets();
    // Crafted JSON so the key survives the HTTP body parser and lands in the signed cookie as is.
    const login = await fetch(`${web}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"user":{"id":4,"__proto__":{"isAdmin":true}},"prefs":{"theme":"dark"}}',
    });
    const jar = new CookieJar().take(login.headers.getSetCookie());
    expect(Buffer.from(jar.get("session")!, "base64").toString()).toContain('"__proto__":{"isAdmin":true}');
    const me = await whoami(jar.header());
    expect(me.userId).toBe("4");
    expect(me.protoKeys).toBe(false);
    expect((me.session.user as Session).isAdmin).toBeUndefined();
    expect(me.session).toEqual({ user: { id: 4 }, prefs: { theme: "dark" } });
  });
});

describe("koa-session (cookie mode) on Koa", () => {
  const KEYS = ["koa-key-new", "koa-key-old"];
  const sockets = () => startSockets({ store: cookieStore(), signing: "keygrip", name: "koa.sess", secret: KEYS });
  const login = async (web: string, query: string) =>
    new CookieJar().take((await http(`${web}/login?${query}`)).setCookie);

  it("logs in; the socket sees the session without koa-session's _expire and _maxAge", async () => {
    const web = await startKoaApp({ keys: KEYS });
    const { whoami, auth, errors } = await sockets();
    const jar = await login(web, "id=42&name=alice");
    const written = decodeValue(jar.get("koa.sess")!);
    expect(written).toMatchObject({ user: { id: 42, name: "alice" }, _maxAge: 3_600_000 });
    expect(typeof written._expire).toBe("number");
    const me = await whoami(jar.header());
    expect(me.userId).toBe("42");
    expect(me.session).toEqual({ user: { id: 42, name: "alice" } });
    expect(me.rooms.sort()).toEqual([userRoom(42), sessionRoom(jar.get("koa.sess")!)].sort());
    // The expiry the core saw is koa-session's own.
    const store = cookieStore();
    const record = await store.get(jar.get("koa.sess")!, {
      signal: new AbortController().signal,
      report: () => undefined,
    });
    expect(record!.expires!.getTime()).toBe(written._expire);
    await auth.authenticate({ headers: { cookie: jar.header() } } as IncomingMessage);
    expect(errors).toEqual([]);
  });

  it("key rotation: app.keys signed with the old key, the socket side lists both", async () => {
    const web = await startKoaApp({ keys: ["koa-key-old"] });
    const { whoami, auth } = await sockets();
    const jar = await login(web, "id=5");
    expect((await whoami(jar.header())).userId).toBe("5");
    expect((await auth.authenticate({ headers: { cookie: jar.header() } } as IncomingMessage)).secretIndex).toBe(1);
  });

  it("an edited payload under the old .sig, or no .sig, is refused with BAD_SIGNATURE (and koa-session agrees)", async () => {
    const web = await startKoaApp({ keys: KEYS });
    const { url, gets } = await sockets();
    const jar = await login(web, "id=7");
    const edited = base64Json({ ...decodeValue(jar.get("koa.sess")!), user: { id: 1 } });
    for (const cookie of [
      `koa.sess=${edited}; koa.sess.sig=${jar.get("koa.sess.sig")}`,
      `koa.sess=${jar.get("koa.sess")}`,
    ]) {
      expectRefused(await refusal(url, { cookie }), "BAD_SIGNATURE");
      expect((await http(`${web}/whoami`, { cookie })).body).toEqual({ user: null });
    }
    expect(gets()).toBe(0);
  });

  it("expiry: a session past koa-session's maxAge is refused with SESSION_EXPIRED, as koa-session itself drops it", async () => {
    const web = await startKoaApp({ keys: KEYS });
    const { url, whoami, errors } = await sockets();
    const jar = await login(web, "id=9&maxAge=3000");
    const expire = decodeValue(jar.get("koa.sess")!)._expire as number;
    expect(expire - Date.now()).toBeLessThanOrEqual(3000);
    expect((await whoami(jar.header())).userId).toBe("9");
    await until(() => Date.now() > expire);
    expectRefused(await refusal(url, { cookie: jar.header() }), "SESSION_EXPIRED");
    expect((await http(`${web}/whoami`, { cookie: jar.header() })).body).toEqual({ user: null });
    expect(errors.at(-1)!.message).toContain(new Date(expire).toISOString());
  });

  it("expiry: a payload with a past _expire, signed by Koa's own cookies + keygrip, is refused with SESSION_EXPIRED", async () => {
    const web = await startKoaApp({ keys: KEYS });
    const { url } = await sockets();
    const value = base64Json({ user: { id: 10 }, _expire: Date.now() - 60_000, _maxAge: 3_600_000 });
    const jar = new CookieJar().take((await http(`${web}/craft?value=${encodeURIComponent(value)}`)).setCookie);
    expect(jar.get("koa.sess")).toBe(value);
    expectRefused(await refusal(url, { cookie: jar.header() }), "SESSION_EXPIRED");
    expect((await http(`${web}/whoami`, { cookie: jar.header() })).body).toEqual({ user: null });
    // The same payload a minute in the future is accepted by both.
    const live = base64Json({ user: { id: 10 }, _expire: Date.now() + 60_000, _maxAge: 3_600_000 });
    const liveJar = new CookieJar().take((await http(`${web}/craft?value=${encodeURIComponent(live)}`)).setCookie);
    expect((await http(`${web}/whoami`, { cookie: liveJar.header() })).body).toEqual({ user: { id: 10 } });
    const socket = await connect(url, { cookie: liveJar.header() });
    opened.push(socket);
  });

  it('maxAge: "session" writes _session and no _expire: accepted, with the flag hidden', async () => {
    const web = await startKoaApp({ keys: KEYS });
    const { whoami } = await sockets();
    const jar = await login(web, "id=12&maxAge=session");
    const written = decodeValue(jar.get("koa.sess")!);
    expect(written._session).toBe(true);
    expect(written._expire).toBeUndefined();
    expect((await whoami(jar.header())).session).toEqual({ user: { id: 12 } });
  });

  it("logout clears both cookies: what the browser sends next is refused", async () => {
    const web = await startKoaApp({ keys: KEYS });
    const { url } = await sockets();
    const jar = await login(web, "id=13");
    const logout = await http(`${web}/logout`, { cookie: jar.header() });
    jar.take(logout.setCookie);
    expect(jar.header()).toBe("");
    expectRefused(await refusal(url, { cookie: jar.header() }), "NO_SESSION_COOKIE");
    expectRefused(
      await refusal(url, { cookie: logout.setCookie.map((line) => line.split(";")[0]).join("; ") }),
      "MALFORMED_COOKIE",
    );
  });

  it("app.keys = new Keygrip(keys, 'sha256') needs algorithm: 'sha256'", async () => {
    const web = await startKoaApp({ keys: new Keygrip(KEYS, "sha256") });
    const jar = await login(web, "id=14");
    const sha256 = await startSockets({
      store: cookieStore(),
      signing: "keygrip",
      name: "koa.sess",
      secret: KEYS,
      algorithm: "sha256",
    });
    expect((await sha256.whoami(jar.header())).userId).toBe("14");
    expectRefused(await refusal((await sockets()).url, { cookie: jar.header() }), "BAD_SIGNATURE");
  });
});

describe('the legacy Connect 2 cookieSession ("connect" format)', () => {
  const sockets = (secret: string | string[] = CONNECT_SECRET) =>
    startSockets({ store: cookieStore({ format: "connect" }), signing: "express", name: "connect.sess", secret });

  /** Connect 2.4+'s cookieSession, line for line: 'j:' + JSON, 's:' + cookie-signature, cookie.serialize. */
  const connectCookie = (session: object, secret = CONNECT_SECRET): string =>
    serializeCookie("connect.sess", `s:${signCookie(`j:${JSON.stringify(session)}`, secret)}`);

  it("reads the j:-JSON cookie that Express 4's signed res.cookie writes, byte for byte Connect's", async () => {
    const web = await startConnectEraApp(CONNECT_SECRET);
    const { whoami, errors } = await sockets();
    const session = { user: { id: 42, name: "alice" }, flash: { info: ["welcome. back"] } };
    const answer = await http(`${web}/login`, { body: session });
    const jar = new CookieJar().take(answer.setCookie);
    expect(`connect.sess=${jar.get("connect.sess")}`).toBe(connectCookie(session));
    expect(decodeURIComponent(jar.get("connect.sess")!)).toMatch(/^s:j:\{/);
    const me = await whoami(jar.header());
    expect(me.userId).toBe("42");
    expect(me.session).toEqual(session);
    expect(errors).toEqual([]);
  });

  it("secret rotation, tampering and a missing signature", async () => {
    const { url, whoami, gets } = await sockets(["new secret", CONNECT_SECRET]);
    const cookie = connectCookie({ user: { id: 5 } });
    expect((await whoami(cookie)).userId).toBe("5");
    const decoded = decodeURIComponent(cookie.slice("connect.sess=".length));
    const mac = decoded.slice(decoded.lastIndexOf("."));
    const forged = `connect.sess=${encodeURIComponent(`s:j:${JSON.stringify({ user: { id: 1 } })}${mac}`)}`;
    expectRefused(await refusal(url, { cookie: forged }), "BAD_SIGNATURE");
    const unsigned = `connect.sess=${encodeURIComponent(`j:${JSON.stringify({ user: { id: 1 } })}`)}`;
    expectRefused(await refusal(url, { cookie: unsigned }), "MALFORMED_COOKIE");
    expect(gets()).toBe(1);
  });

  it('early Connect 2 releases signed without the "s:" tag: signing "fastify" (the same mac, no prefix) reads those', async () => {
    const { whoami } = await startSockets({
      store: cookieStore({ format: "connect" }),
      signing: "fastify",
      name: "connect.sess",
      secret: CONNECT_SECRET,
    });
    const cookie = serializeCookie(
      "connect.sess",
      signCookie(`j:${JSON.stringify({ user: { id: 6 } })}`, CONNECT_SECRET),
    );
    expect((await whoami(cookie)).userId).toBe("6");
  });

  it("a signed value that is not j:-JSON resolves SESSION_NOT_FOUND, with the reason for onError", async () => {
    const { url, errors } = await sockets();
    for (const value of ["RnUR71TLHdXwSpKnNia2gRrPvT08Ktf-", "j:[1,2]", "j:{nope"]) {
      const cookie = serializeCookie("connect.sess", `s:${signCookie(value, CONNECT_SECRET)}`);
      expectRefused(await refusal(url, { cookie }), "SESSION_NOT_FOUND");
    }
    expect(errors.map((error) => (error.cause as Error).constructor.name)).toEqual([
      "SyntaxError",
      "TypeError",
      "SyntaxError",
    ]);
    expect((errors[0]!.cause as Error).message).toContain("memory, redis or mongo store");
    for (const error of errors) expect(error.message).not.toContain("RnUR71");
  });

  it("the wrong format is diagnosed, not crashed on: a Connect cookie read as cookie-session", async () => {
    const { url, errors } = await startSockets({
      store: cookieStore(),
      signing: "express",
      name: "connect.sess",
      secret: CONNECT_SECRET,
    });
    expectRefused(await refusal(url, { cookie: connectCookie({ user: { id: 1 } }) }), "SESSION_NOT_FOUND");
    expect((errors[0]!.cause as Error).message).toContain('format "connect"');
  });
});

describe("docs/examples/cookie-*.ts run as the docs show them", () => {
  const KEYS = ["docs-key"];

  /** The example greets on connection: listen before connecting, or the greeting can arrive first. */
  async function hello(url: string, cookie: string | undefined): Promise<{ userId: string }> {
    const socket = ioClient(url, {
      reconnection: false,
      forceNew: true,
      extraHeaders: cookie === undefined ? {} : { cookie },
    });
    opened.push(socket);
    return new Promise((resolve, reject) => {
      socket.once("hello", resolve);
      socket.once("connect_error", reject);
    });
  }
  async function serve(setup: (io: Server) => void): Promise<string> {
    const realtime = await startRealtime(setup);
    opened.push(realtime);
    return realtime.url;
  }

  it("cookie-session.ts", async () => {
    const web = await startCookieSessionApp({ express: 5, keys: KEYS });
    const url = await serve((io) => acceptCookieSessions(io, KEYS));
    const jar = new CookieJar().take((await http(`${web}/login`, { body: { user: { id: 42 } } })).setCookie);
    expect(await hello(url, jar.header())).toEqual({ userId: "42" });
  });

  it("cookie-koa.ts", async () => {
    const web = await startKoaApp({ keys: KEYS });
    const url = await serve((io) => acceptKoaSessions(io, KEYS));
    const jar = new CookieJar().take((await http(`${web}/login?id=43`)).setCookie);
    expect(await hello(url, jar.header())).toEqual({ userId: "43" });
  });

  it("cookie-connect.ts", async () => {
    const web = await startConnectEraApp(CONNECT_SECRET);
    const url = await serve((io) => acceptConnectCookieSessions(io, CONNECT_SECRET));
    const jar = new CookieJar().take((await http(`${web}/login`, { body: { user: { id: 44 } } })).setCookie);
    expect(await hello(url, jar.header())).toEqual({ userId: "44" });
  });

  it("cookie-revocation.ts: revoking a session refuses its cookie and closes its open sockets; old or unstamped sessions are refused", async () => {
    const web = await startCookieSessionApp({ express: 5, keys: KEYS });
    const maxAgeMs = 60_000;
    let revocation!: ReturnType<typeof acceptRevocableCookieSessions>;
    const url = await serve((io) => {
      revocation = acceptRevocableCookieSessions(io, KEYS, maxAgeMs);
    });
    const stamp = () => ({ user: { id: 45 }, sid: randomUUID(), issuedAt: Date.now() });
    const login = async (session: object) =>
      new CookieJar().take((await http(`${web}/login`, { body: session })).setCookie).header();

    const first = stamp();
    const phone = await login(first);
    const laptop = await login(stamp());
    const onPhone = await connect(url, { cookie: phone });
    const onLaptop = await connect(url, { cookie: laptop });
    opened.push(onPhone, onLaptop);
    const closed = new Promise<string>((resolve) => onPhone.once("disconnect", resolve));
    revocation.revoke(first.sid);
    expect(await closed).toBe("io server disconnect");
    expectRefused(await refusal(url, { cookie: phone }), "FORBIDDEN");
    // Another session of the same user is untouched: its socket stays, and it can connect again.
    expect(onLaptop.connected).toBe(true);
    opened.push(await connect(url, { cookie: laptop }));

    expectRefused(await refusal(url, { cookie: await login({ user: { id: 45 } }) }), "FORBIDDEN");
    const stale = { ...stamp(), issuedAt: Date.now() - maxAgeMs - 1000 };
    expectRefused(await refusal(url, { cookie: await login(stale) }), "FORBIDDEN");
  });

  it("docs/cookie-sessions.md includes each example's region, and the region exists", () => {
    const page = readFileSync(new URL("../../../docs/cookie-sessions.md", import.meta.url), "utf8");
    for (const [file, region] of [
      ["cookie-session.ts", "cookie-session"],
      ["cookie-koa.ts", "koa-session"],
      ["cookie-connect.ts", "connect"],
      ["cookie-revocation.ts", "revocation"],
      ["cookie-session-web.ts", "web"],
      ["cookie-koa-web.ts", "web"],
      ["cookie-revocation-web.ts", "web"],
    ] as const) {
      const lines = readFileSync(new URL(`../../../docs/examples/${file}`, import.meta.url), "utf8")
        .split("\n")
        .map((line) => line.trim());
      const start = lines.indexOf(`// #region ${region}`);
      expect(start, `${file} has a region "${region}"`).toBeGreaterThanOrEqual(0);
      expect(
        lines.indexOf(`// #endregion ${region}`) - start,
        `${file} closes the region "${region}", with lines in it`,
      ).toBeGreaterThan(1);
      expect(page).toContain(`<<< @/examples/${file}#${region}\n`);
    }
  });
});
