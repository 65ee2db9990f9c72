import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import fastifyCookie from "@fastify/cookie";
import fastifySession, { MemoryStore as FastifyMemoryStore } from "@fastify/session";
import express from "express";
import session from "express-session";
import Fastify from "fastify";
import createMemoryStore from "memorystore";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionData, SessionRecord, SessionStore } from "socket.io-session-auth";
import { memoryStore, type ExpressSessionStoreLike } from "socket.io-session-auth/memory";
import { getOptions, getThen, signal } from "../../support/store-calls.js";
import { isJsonRecord } from "../../../src/copy.js";

// The write side of memoryStore (compareAndSet, revisions, expiry, copies) against the real session
// libraries: each web app is a real HTTP server reading its sessions through its own store object.

const SECRET = "a secret of at least thirty-two characters";
const MemoryStore = createMemoryStore(session);
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface WebApp {
  handle: ExpressSessionStoreLike;
  /** Logs in over HTTP; returns the Cookie header and the session id. */
  login(): Promise<{ cookie: string; id: string }>;
  /** The session as the web app sees it on its next request (null: no session). */
  read(cookie: string): Promise<Record<string, unknown> | null>;
  /** Writes `data` into the session over HTTP, as the app's own request would. */
  write(cookie: string, data: Record<string, unknown>): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(url: string, idOf: (cookie: string) => string) {
  const request = async (method: string, path: string, cookie?: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(cookie ? { cookie } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}`);
    return {
      body: (await res.json()) as unknown,
      cookie: res.headers
        .getSetCookie()
        .map((line) => line.split(";")[0])
        .join("; "),
    };
  };
  return {
    login: async () => {
      const { cookie } = await request("POST", "/login", undefined, {});
      return { cookie, id: idOf(cookie) };
    },
    read: async (cookie: string) => (await request("GET", "/session", cookie)).body as Record<string, unknown> | null,
    write: async (cookie: string, data: Record<string, unknown>) =>
      void (await request("POST", "/write", cookie, data)),
  };
}

const expressId = (cookie: string) => {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1));
  return value.slice(2, value.lastIndexOf("."));
};

async function expressApp(handle: session.Store, maxAge = 3_600_000): Promise<WebApp> {
  const app = express();
  app.use(express.json());
  app.use(session({ store: handle, secret: SECRET, resave: false, saveUninitialized: false, cookie: { maxAge } }));
  app.post("/login", (req, res) => {
    Object.assign(req.session, { user: { id: 42 }, items: [] });
    res.json(true);
  });
  // The session's own keys, not the cookie: what the app would use (and no extra write from touch).
  app.get("/session", (req, res) => {
    const { cookie: _cookie, ...data } = req.session as unknown as Record<string, unknown>;
    res.json(Object.keys(data).length === 0 ? null : data);
  });
  app.post("/write", (req, res) => {
    Object.assign(req.session, req.body);
    res.json(true);
  });
  const url = await listen(createServer(app));
  return { handle, ...client(url, expressId) };
}

async function fastifyApp(handle: FastifyMemoryStore): Promise<WebApp> {
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: SECRET,
    store: handle,
    saveUninitialized: false,
    cookie: { secure: false, maxAge: 3_600_000 },
  });
  app.post("/login", async (req) => {
    req.session.set("user" as never, { id: 42 } as never);
    req.session.set("items" as never, [] as never);
    return true;
  });
  app.get("/session", async (req) => {
    const data = Object.fromEntries(Object.entries(req.session).filter(([key]) => key !== "cookie"));
    return Object.keys(data).length === 0 ? null : data;
  });
  app.post("/write", async (req) => {
    for (const [key, value] of Object.entries(req.body as object)) req.session.set(key as never, value as never);
    return true;
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  closers.push(() => app.close());
  const { port } = app.server.address() as AddressInfo;
  // @fastify/session signs without express-session's "s:".
  const idOf = (cookie: string) => {
    const value = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1));
    return value.slice(0, value.lastIndexOf("."));
  };
  return { handle: handle as unknown as ExpressSessionStoreLike, ...client(`http://127.0.0.1:${port}`, idOf) };
}

const APPS = [
  ["express-session's MemoryStore", () => expressApp(new session.MemoryStore())],
  [
    "memorystore",
    () => {
      const handle = new MemoryStore({ checkPeriod: 60_000 });
      closers.push(() => handle.stopInterval());
      return expressApp(handle);
    },
  ],
  ["@fastify/session's MemoryStore", () => fastifyApp(new FastifyMemoryStore())],
] as const;

type Items = { items: number[] };

/** Reads, appends `n` to `items`, and writes back until the write lands (at most `attempts` tries). */
async function appendWithRetry(store: SessionStore, id: string, n: number, attempts = 200): Promise<number> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const record = (await store.get(id, getOptions())) as SessionRecord<SessionData & Items>;
    record.session.items.push(n);
    if (await store.compareAndSet!(id, record.revision, record.session, { signal: signal() })) return attempt;
  }
  throw new Error(`no write landed in ${attempts} attempts`);
}

describe.each(APPS)("memoryStore over %s", (_label, start) => {
  it("compareAndSet on the revision just read writes, and the web app's next request sees it", async () => {
    const web = await start();
    const { cookie, id } = await web.login();
    const store = memoryStore(web.handle);
    const record = await store.get(id, getOptions());
    expect(record?.revision).toEqual(expect.any(String));
    const changed = { ...(record!.session as object), user: { id: 42 }, items: [], cart: ["book"] };
    await expect(store.compareAndSet!(id, record!.revision, changed, { signal: signal() })).resolves.toBe(true);
    expect(await web.read(cookie)).toEqual({ user: { id: 42 }, items: [], cart: ["book"] });
  });

  it("compareAndSet fails (false) after the web app wrote in between, and writes nothing", async () => {
    const web = await start();
    const { cookie, id } = await web.login();
    const store = memoryStore(web.handle);
    const record = await store.get(id, getOptions());
    await web.write(cookie, { theme: "dark" });
    await expect(
      store.compareAndSet!(
        id,
        record!.revision,
        { ...(record!.session as object), cart: ["lost"] },
        { signal: signal() },
      ),
    ).resolves.toBe(false);
    expect(await web.read(cookie)).toEqual({ user: { id: 42 }, items: [], theme: "dark" });
  });

  it("compareAndSet on a session that is gone is false, and creates nothing", async () => {
    const web = await start();
    const { id } = await web.login();
    const store = memoryStore(web.handle);
    const record = await store.get(id, getOptions());
    // Logged out through the store itself, as the web app does.
    await new Promise<void>((resolve, reject) => web.handle.destroy!(id, (err) => (err ? reject(err) : resolve())));
    await expect(store.compareAndSet!(id, record!.revision, record!.session, { signal: signal() })).resolves.toBe(
      false,
    );
    expect(await store.get(id, getOptions())).toBeNull();
  });

  it("20 concurrent read-compareAndSet-retry loops (two adapters over one store) lose nothing", async () => {
    const web = await start();
    const { cookie, id } = await web.login();
    const stores = [memoryStore(web.handle), memoryStore(web.handle)];
    const attempts = await Promise.all(Array.from({ length: 20 }, (_, n) => appendWithRetry(stores[n % 2]!, id, n)));
    const seen = (await web.read(cookie)) as Items;
    expect([...seen.items].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    // The loops really raced: some had to read again.
    expect(attempts.some((count) => count > 1)).toBe(true);
  });

  it("records are copies: changing one changes neither the store's session nor the next record", async () => {
    const web = await start();
    const { cookie, id } = await web.login();
    const store = memoryStore(web.handle);
    const first = (await store.get(id, getOptions())) as SessionRecord<SessionData & Items>;
    first.session.items.push(99);
    (first.session as Record<string, unknown>).user = "someone else";
    const second = (await store.get(id, getOptions())) as SessionRecord<SessionData & Items>;
    expect(second.session.items).toEqual([]);
    expect(second.session.user).toEqual({ id: 42 });
    expect(await web.read(cookie)).toEqual({ user: { id: 42 }, items: [] });
  });

  it("reports the session's cookie.expires as the record's expires, unchanged by a write", async () => {
    const web = await start();
    const before = Date.now();
    const { id } = await web.login();
    const store = memoryStore(web.handle);
    const record = await store.get(id, getOptions());
    expect(record!.expires).toBeInstanceOf(Date);
    expect(record!.expires!.getTime()).toBeGreaterThanOrEqual(before + 3_600_000 - 1000);
    expect(record!.expires!.getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await store.compareAndSet!(id, record!.revision, record!.session, { signal: signal() })).toBe(true);
    expect((await store.get(id, getOptions()))!.expires).toEqual(record!.expires);
  });
});

describe("memoryStore's records: cookie.expires as Date.parse reads it, and JSON data marked", () => {
  // The adapter reads the form Date#toJSON writes by hand (issue 22); every other string goes to
  // Date.parse. Both read paths: the handshake's (no revision) and update()'s (with one).
  const forms = [
    "2026-12-08T13:53:28.123Z",
    "2000-02-28T00:00:00.000Z",
    "2000-02-29T23:59:59.999Z", // a day past the 28th: Date.parse's
    "2100-03-01T12:00:00.000Z",
    "1970-01-01T00:00:00.000Z",
    "1969-12-31T23:59:59.999Z",
    "0000-01-01T00:00:00.000Z",
    "9999-12-28T23:59:59.999Z",
    "2026-02-31T00:00:00.000Z", // no such day
    "2026-13-01T00:00:00.000Z", // no such month
    "2026-12-08T24:00:00.000Z", // the end of the day, which Date.parse reads
    "2026-12-08T13:60:00.000Z",
    "2026-12-08T13:53:28.12xZ",
    "2026-12-08T13:53:28.123+01", // another zone
    "+012026-12-08T13:53:28.123Z", // an expanded year
    "2026-12-08", // a date alone
    "Tue, 08 Dec 2026 13:53:28 GMT", // Date#toUTCString
    "not a date",
    "",
  ];
  // And 2,000 random times over the 0000–9999 years Date#toJSON writes in this form.
  let seed = 7;
  const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  for (let i = 0; i < 2000; i++)
    forms.push(new Date(-62_167_219_200_000 + random() * 315_537_897_599_999).toISOString());

  it("marks as JSON data only what it hands the core's callback read, not what get() returns", async () => {
    const handle: ExpressSessionStoreLike = {
      get: (_sid, callback) => callback(null, { cookie: { expires: "2030-01-01T00:00:00.000Z" }, user: { id: 42 } }),
    };
    const store = memoryStore(handle);
    const record = await store.get("id", { ...getOptions(), revision: false });
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(isJsonRecord(record!)).toBe(false);
    const marked = await new Promise<SessionRecord | null | undefined>((resolve, reject) =>
      getThen(store).read("id", getOptions(), (error, answer) =>
        error === undefined ? resolve(answer) : reject(error),
      ),
    );
    expect(isJsonRecord(marked!)).toBe(true);
    expect(marked).toEqual(record);
  });

  it("every form, on both read paths", async () => {
    const handle: ExpressSessionStoreLike = {
      get: (sid, callback) => callback(null, { cookie: { expires: sid }, user: { id: 42 } }),
    };
    const store = memoryStore(handle);
    for (const form of forms) {
      const expected = Date.parse(form);
      for (const revision of [false, true]) {
        const record = await store.get(form, { ...getOptions(), revision });
        expect(record!.expires?.getTime() ?? Number.NaN, `${JSON.stringify(form)}, revision ${revision}`).toBe(
          Number.isNaN(expected) ? Number.NaN : expected,
        );
      }
    }
  });
});

describe("memoryStore writes what express-session writes", () => {
  it("MemoryStore: the stored JSON after compareAndSet is byte for byte what express-session would store", async () => {
    const handle = new session.MemoryStore();
    const web = await expressApp(handle);
    const { cookie, id } = await web.login();
    const sessions = (handle as unknown as { sessions: Record<string, string> }).sessions;
    const store = memoryStore(handle);
    const record = await store.get(id, getOptions());
    expect(record!.revision).toBe(sessions[id]);
    await store.compareAndSet!(
      id,
      record!.revision,
      { ...(record!.session as object), theme: "light" },
      { signal: signal() },
    );
    const ours = sessions[id]!;
    // The same change made by the web app itself, on a fresh session with the same cookie.
    await web.write(cookie, { theme: "light" });
    expect(JSON.parse(ours)).toEqual({ ...JSON.parse(sessions[id]!), cookie: JSON.parse(ours).cookie });
    expect(Object.keys(JSON.parse(ours).cookie)).toEqual(Object.keys(JSON.parse(sessions[id]!).cookie));
    expect(ours).not.toContain('maxAge"');
  });

  it("memorystore: the session still ends when it would have (the LRU age is not reset by a write)", async () => {
    const handle = new MemoryStore({ checkPeriod: 60_000 });
    closers.push(() => handle.stopInterval());
    const web = await expressApp(handle, 1500);
    const { id } = await web.login();
    const store = memoryStore(handle);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const record = await store.get(id, getOptions());
    expect(
      await store.compareAndSet!(
        id,
        record!.revision,
        { ...(record!.session as object), theme: "light" },
        { signal: signal() },
      ),
    ).toBe(true);
    // Not read over HTTP here: express-session's touch on that request would itself extend the session.
    expect((await store.get(id, getOptions()))!.session).toMatchObject({ theme: "light" });
    // Past the original end (1.5 s after login): gone, as it would be without our write. A write that
    // recomputed the age (memorystore's default is a day without cookie.maxAge) would keep it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await store.get(id, getOptions())).toBeNull();
  });

  it("an aborted signal writes nothing", async () => {
    const handle = new session.MemoryStore();
    const web = await expressApp(handle);
    const { cookie, id } = await web.login();
    const store = memoryStore(handle);
    const record = await store.get(id, getOptions());
    const controller = new AbortController();
    controller.abort(new Error("timeout"));
    await expect(
      store.compareAndSet!(
        id,
        record!.revision,
        { ...(record!.session as object), x: 1 },
        { signal: controller.signal },
      ),
    ).rejects.toThrow("timeout");
    expect(await web.read(cookie)).toEqual({ user: { id: 42 }, items: [] });
  });

  it("a store without set has no compareAndSet", () => {
    expect(
      memoryStore({ get: (_id: string, cb: (err: unknown, s?: unknown) => void) => cb(null, null) }).compareAndSet,
    ).toBeUndefined();
  });
});

describe("memoryStore diagnoses", () => {
  it("an unreadable stored session is reported without quoting its bytes", async () => {
    const handle = new session.MemoryStore();
    const sessions = (handle as unknown as { sessions: Record<string, string> }).sessions;
    sessions.a = '{"secretToken":"tok_live_0123456789"'; // cut short
    const reports: unknown[] = [];
    expect(await memoryStore(handle).get("a", getOptions(reports))).toBeNull();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(SyntaxError);
    expect(String((reports[0] as Error).message)).not.toMatch(/secretToken|tok_live/);
    expect((reports[0] as Error).cause).toBeUndefined();
  });

  it("a session that JSON cannot represent is reported as a TypeError, not thrown", async () => {
    const cyclic: Record<string, unknown> = { user: { id: 1 } };
    cyclic.self = cyclic;
    const reports: unknown[] = [];
    const store = memoryStore({ get: (_id: string, cb: (err: unknown, s?: unknown) => void) => cb(null, cyclic) });
    expect(await store.get("a", getOptions(reports))).toBeNull();
    expect(reports).toEqual([expect.any(TypeError)]);
  });
});

describe("memoryStore refuses a wrong handle when it is built", () => {
  const ioredis = new Redis({ lazyConnect: true });
  const mongo = new MongoClient("mongodb://127.0.0.1:1");
  afterEach(() => void 0);
  it.each([
    [
      "express-session's middleware",
      () => session({ secret: SECRET, resave: false, saveUninitialized: false }),
      /a function \(express-session's middleware\?\)/,
    ],
    ["the MemoryStore class", () => session.MemoryStore, /a class, not an instance/],
    ["a promise", () => Promise.resolve(new session.MemoryStore()), /a promise \(await it first\)/],
    ["a Map", () => new Map(), /a Map/],
    ["an ioredis client", () => ioredis, /an ioredis client.*use redisStore/],
    ["a MongoClient", () => mongo, /a MongoClient.*use mongoStore/],
    ["a Db", () => mongo.db("x"), /a MongoDB Db.*use mongoStore/],
    ["nothing", () => undefined, /`handle` is undefined;/],
    ["a plain object", () => ({}), /`handle` is an object/],
  ])("%s: a TypeError naming `handle` and what was given", (_label, given, message) => {
    const build = () => memoryStore(given() as never);
    expect(build).toThrow(TypeError);
    expect(build).toThrow(message);
    expect(build).toThrow(/pass the express-session store object|pass the store object given to session/);
  });
  it("closes the probes", () => {
    ioredis.disconnect();
    return mongo.close();
  });
});
