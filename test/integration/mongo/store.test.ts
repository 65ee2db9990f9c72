import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import MongoStore, { createWebCryptoAdapter } from "connect-mongo";
import type { SessionData as ExpressSessionData } from "express-session";
import { MongoClient, type CommandStartedEvent, type Db, type MongoClientOptions } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionAuth, sessionRoom, type SessionAuthError, type SessionAuthOptions } from "socket.io-session-auth";
import { mongoStore, type MongoStoreOptions } from "socket.io-session-auth/mongo";
import { describeSessionStore } from "socket.io-session-auth/testing";
import {
  MONGO_TARGET_EXTERNAL,
  MONGO_TARGET_LABEL,
  outageUnsupported,
  startMongoTarget,
  type MongoTarget,
} from "../../support/mongo-server/target.js";
import { eventually } from "../../support/eventually.js";
import { ask, connect, refusal, startWhoamiServer } from "../../support/realtime.js";
import { startWebApp, type WebAppOptions, sessionIdOf } from "../../support/web-app.js";

// Real express-session + real connect-mongo write sessions through the real mongodb driver; a separate
// socket.io server reads them with mongoStore over its own MongoClient. The server is the in-process
// wire-protocol test server, or the MongoDB of MONGODB_URI (see test/support/mongo-server/target.ts).

const SECRET = "keyboard cat";
type Session = ExpressSessionData & Record<string, unknown>;

let target: MongoTarget;
let dbName: string;
let admin: MongoClient; // writes connect-mongo's sessions, and inspects documents
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  target = await startMongoTarget();
  dbName = target.newDatabase();
  admin = new MongoClient(target.uri(dbName), { serverSelectionTimeoutMS: 5000 });
}, 30_000);

afterAll(async () => {
  await admin?.close();
  await target?.close();
}, 30_000);

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function readerClient(uri = target.uri(dbName), options: MongoClientOptions = {}): MongoClient {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000, ...options });
  closers.push(() => client.close());
  return client;
}

interface Setup {
  stringify?: boolean;
  collectionName?: string;
  web?: WebAppOptions;
  connectMongo?: Partial<Parameters<typeof MongoStore.create>[0]>;
  reader?: MongoClient;
  store?: Omit<MongoStoreOptions<Session>, "db" | "collection" | "collectionName">;
  auth?: Partial<SessionAuthOptions<Session>>;
}

/** The web app (express-session + connect-mongo) and the realtime server (socket.io + mongoStore). */
async function setup(options: Setup = {}) {
  const collectionName = options.collectionName ?? `sessions_${randomBytes(4).toString("hex")}`;
  const sessions = MongoStore.create({
    client: admin,
    dbName,
    collectionName,
    stringify: options.stringify ?? true,
    // No TTL index: a real MongoDB's TTL monitor must not race the expiry tests (it runs once a minute).
    autoRemove: "disabled",
    ...options.connectMongo,
  });
  const web = await startWebApp({ store: sessions, secret: SECRET, ...options.web });
  closers.push(() => web.close());
  const reader = options.reader ?? readerClient();
  const store = mongoStore<Session>({ db: reader.db(dbName), collectionName, ...options.store });
  const realtime = await startWhoamiServer<Session>({ store, secret: SECRET, ...options.auth });
  const { auth, errors } = realtime;
  closers.push(() => realtime.close());
  const collection = admin.db(dbName).collection<{ _id: string; session?: unknown; expires?: unknown }>(collectionName);
  const cookieOf = async (user: { id: number; name?: string }) => web.login(user);
  return { web, sessions, store, auth, realtime, errors, collection, cookieOf, reader };
}

async function connected(url: string, cookie: string) {
  const socket = await connect(url, { cookie });
  closers.push(() => socket.close());
  return socket;
}

const expectRefusal = (failure: { message: string; data: unknown }, code: string, retryable = false) =>
  expect(failure).toMatchObject({ message: code, data: { code, retryable } });

describe(`mongoStore against the ${MONGO_TARGET_LABEL}`, () => {
  describe.each([
    ["stringify: true (connect-mongo's default)", true],
    ["stringify: false", false],
  ] as const)("connect-mongo with %s", (_label, stringify) => {
    it("connects a logged-in user with the session, the user id and the rooms", async () => {
      const { cookieOf, realtime, collection, errors } = await setup({ stringify });
      const cookie = await cookieOf({ id: 42, name: "alice" });
      const sid = sessionIdOf(cookie);
      const document = await collection.findOne({ _id: sid });
      expect(typeof document?.session).toBe(stringify ? "string" : "object");
      expect(document?.expires).toBeInstanceOf(Date);

      const socket = await connected(realtime.url, cookie);
      const me = await ask<{ userId: string; user: unknown; rooms: string[] }>(socket, "whoami");
      expect(me.userId).toBe("42");
      expect(me.user).toEqual({ id: 42, name: "alice" });
      expect(me.rooms.sort()).toEqual(["user:42", sessionRoom(sid)].sort());
      expect(errors).toEqual([]);
    });

    it("refuses the socket after logout with SESSION_NOT_FOUND, naming the collection looked in", async () => {
      const { cookieOf, web, realtime, errors, collection } = await setup({ stringify });
      const cookie = await cookieOf({ id: 7 });
      (await connected(realtime.url, cookie)).close();
      await web.logout(cookie);
      expectRefusal(await refusal(realtime.url, { cookie }), "SESSION_NOT_FOUND");
      expect(errors.map((error) => error.code)).toEqual(["SESSION_NOT_FOUND"]);
      expect(errors[0]!.cause).toBeUndefined();
      // The diagnosis names the database, collection and cookie, never the id (issue 18 item 9).
      expect(errors[0]!.message).toContain(`in store "mongo" (collection "${dbName}.${collection.collectionName}")`);
      expect(errors[0]!.message).toContain('cookie "connect.sid"');
      expect(errors[0]!.message).not.toContain(sessionIdOf(cookie));
    });

    it("refuses an expired session with SESSION_EXPIRED, which connect-mongo itself no longer returns", async () => {
      const { cookieOf, realtime, collection, sessions, errors } = await setup({ stringify, web: { maxAge: 1000 } });
      const cookie = await cookieOf({ id: 8 });
      const sid = sessionIdOf(cookie);
      const { expires } = (await collection.findOne({ _id: sid }))! as { expires: Date };
      await eventually(async () => expect(Date.now()).toBeGreaterThan(expires.getTime()), 5000);

      // The document is still there (the TTL monitor has not run), and connect-mongo filters it out...
      expect(await collection.findOne({ _id: sid })).not.toBeNull();
      expect(await promisify(sessions.get.bind(sessions))(sid)).toBeNull();
      // ...and we say what it is: expired, not missing.
      expectRefusal(await refusal(realtime.url, { cookie }), "SESSION_EXPIRED");
      expect(errors[0]!.message).toContain(`ended at ${expires.toISOString()}`);
    });

    it("refuses a session it cannot read with SESSION_NOT_FOUND, and hands the cause to onError", async () => {
      const { cookieOf, realtime, collection, errors } = await setup({ stringify });
      const cookie = await cookieOf({ id: 9 });
      await collection.updateOne(
        { _id: sessionIdOf(cookie) },
        { $set: { session: stringify ? '{"user":{"id":9' : ["not", "a", "session"] } },
      );
      expectRefusal(await refusal(realtime.url, { cookie }), "SESSION_NOT_FOUND");
      expect(errors[0]!.message).toContain("could not be read");
      expect(errors[0]!.cause).toBeInstanceOf(stringify ? SyntaxError : TypeError);
      expect(errors[0]!.message).not.toContain(sessionIdOf(cookie));
    });
  });

  describe("expiry: the top-level `expires` is the truth", () => {
    it("reports the `expires` that connect-mongo's touch moved, not the stale cookie.expires in the session", async () => {
      const { cookieOf, web, store, collection } = await setup({ web: { rolling: true } });
      const loggedIn = Date.now();
      const cookie = await cookieOf({ id: 10 });
      const sid = sessionIdOf(cookie);
      const before = (await collection.findOne({ _id: sid }))!;
      await eventually(async () => expect(Date.now()).toBeGreaterThan(loggedIn + 5), 5000);
      // An unchanged session under `rolling`: express-session calls store.touch, not store.set.
      const res = await fetch(`${web.url}/visit`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json" },
        body: "{}",
      });
      expect(res.ok).toBe(true);
      const after = (await collection.findOne({ _id: sid }))!;
      expect(after.session).toEqual(before.session); // touch leaves the session alone...
      expect((after.expires as Date).getTime()).toBeGreaterThan((before.expires as Date).getTime()); // ...and moves expires
      const record = await store.get(sid, { signal: new AbortController().signal, report: () => {} });
      expect(record!.expires).toEqual(after.expires);
      expect(new Date(String(record!.session.cookie!.expires))).toEqual(before.expires);
    });

    it("refuses a session whose top-level `expires` passed, whatever its cookie.expires says", async () => {
      const { cookieOf, realtime, collection } = await setup();
      const cookie = await cookieOf({ id: 11 });
      await collection.updateOne({ _id: sessionIdOf(cookie) }, { $set: { expires: new Date(Date.now() - 1000) } });
      expectRefusal(await refusal(realtime.url, { cookie }), "SESSION_EXPIRED");
    });

    it("accepts a document without `expires` (live), and refuses one whose `expires` is not a date", async () => {
      // Each handshake reads the document (not the connected tab's recent read, shared by default).
      const { cookieOf, realtime, collection, errors } = await setup({ auth: { sharedReadMaxAge: false } });
      const cookie = await cookieOf({ id: 12 });
      await collection.updateOne({ _id: sessionIdOf(cookie) }, { $unset: { expires: "" } });
      const socket = await connected(realtime.url, cookie);
      expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("12");

      await collection.updateOne({ _id: sessionIdOf(cookie) }, { $set: { expires: "2999-01-01T00:00:00.000Z" } });
      expectRefusal(await refusal(realtime.url, { cookie }), "SESSION_NOT_FOUND");
      expect(String(errors[0]!.cause)).toContain("`expires` is a string, not a Date");
    });
  });

  describe("one round trip per lookup", () => {
    it("sends one find by _id, projected to session and expires, with maxTimeMS (default 2000)", async () => {
      const reader = readerClient(undefined, { monitorCommands: true });
      const commands: CommandStartedEvent[] = [];
      reader.on("commandStarted", (event) => commands.push(event));
      const { cookieOf, realtime } = await setup({ reader });
      const cookie = await cookieOf({ id: 13 });
      const socket = await connected(realtime.url, cookie);
      expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("13");
      const finds = commands.filter((event) => event.commandName !== "hello" && event.commandName !== "isMaster");
      expect(finds).toHaveLength(1);
      expect(finds[0]!.command).toMatchObject({
        find: expect.stringMatching(/^sessions_/),
        filter: { _id: sessionIdOf(cookie) },
        projection: { _id: 0, session: 1, expires: 1 },
        limit: 1,
        singleBatch: true,
        maxTimeMS: 2000,
      });
    });

    it("reads connect-mongo's default collection through `db` alone, and passes its own maxTimeMS", async () => {
      const reader = readerClient(undefined, { monitorCommands: true });
      const sent: Array<Record<string, unknown>> = [];
      reader.on("commandStarted", (event) => event.commandName === "find" && sent.push(event.command));
      const sessions = MongoStore.create({ client: admin, dbName }); // every default: "sessions", stringify, the TTL index
      const web = await startWebApp({ store: sessions, secret: SECRET });
      closers.push(() => web.close());
      const store = mongoStore({ db: reader.db(dbName), maxTimeMS: 750 });
      const cookie = await web.login({ id: 14 });
      const record = await store.get(sessionIdOf(cookie), { signal: new AbortController().signal, report: () => {} });
      expect(record!.session.user).toEqual({ id: 14 });
      expect(sent[0]).toMatchObject({ find: "sessions", maxTimeMS: 750 });
      const indexes = await admin.db(dbName).collection("sessions").indexes();
      expect(indexes).toContainEqual(expect.objectContaining({ key: { expires: 1 }, expireAfterSeconds: 0 }));
    });
  });

  describe("connect-mongo options that change the stored form", () => {
    it("transformId: the same function finds the session; without it, SESSION_NOT_FOUND", async () => {
      const transformId = (sid: string) => `app1:${sid}`;
      const withIt = await setup({ connectMongo: { transformId }, store: { transformId } });
      const cookie = await withIt.cookieOf({ id: 15 });
      expect(await withIt.collection.findOne({ _id: transformId(sessionIdOf(cookie)) })).not.toBeNull();
      expect((await ask<{ userId: string }>(await connected(withIt.realtime.url, cookie), "whoami")).userId).toBe("15");

      const without = mongoStore({ db: withIt.reader.db(dbName), collectionName: withIt.collection.collectionName });
      await expect(
        without.get(sessionIdOf(cookie), { signal: new AbortController().signal, report: () => {} }),
      ).resolves.toBeNull();
    });

    it("cryptoAdapter: `unserialize` decrypts; without it the session is unreadable (SESSION_NOT_FOUND with the cause)", async () => {
      const crypto = createWebCryptoAdapter({ secret: "squirrel", iterations: 1000 });
      const decrypting = await setup({
        connectMongo: { cryptoAdapter: crypto },
        store: { unserialize: async (stored) => JSON.parse(await crypto.decrypt(stored as string)) as Session },
      });
      const cookie = await decrypting.cookieOf({ id: 16 });
      const stored = (await decrypting.collection.findOne({ _id: sessionIdOf(cookie) }))!.session as string;
      expect(stored).not.toContain("user"); // it is encrypted
      expect(() => JSON.parse(stored)).toThrow(SyntaxError);
      expect((await ask<{ userId: string }>(await connected(decrypting.realtime.url, cookie), "whoami")).userId).toBe(
        "16",
      );

      const errors: SessionAuthError[] = [];
      const plain = sessionAuth({
        store: mongoStore({ db: decrypting.reader.db(dbName), collectionName: decrypting.collection.collectionName }),
        secret: SECRET,
        onError: (error) => errors.push(error),
      });
      await expect(plain.authenticate({ headers: { cookie } } as never)).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      expect(errors[0]!.cause).toBeInstanceOf(SyntaxError);
    });
  });

  describe("when MongoDB goes away", () => {
    const unsupported = outageUnsupported();
    if (unsupported !== undefined)
      console.warn(`\n!!! SKIPPING the Mongo outage tests against MONGODB_URI: ${unsupported}.\n`);

    it.skipIf(unsupported !== undefined)(
      "refuses with STORE_UNAVAILABLE while it is down, then recovers by itself (same server, same client)",
      async () => {
        const route = (await target.interruptible(dbName))!;
        closers.push(() => route.start()); // never leave the server down for the next test
        const timeout = 500;
        const { cookieOf, realtime, errors } = await setup({
          reader: readerClient(route.uri),
          auth: { timeout },
          store: { maxTimeMS: timeout },
        });
        const cookie = await cookieOf({ id: 17 });
        (await connected(realtime.url, cookie)).close();

        await route.stop();
        for (let attempt = 0; attempt < 2; attempt++) {
          const started = Date.now();
          const failure = await refusal(realtime.url, { cookie });
          expectRefusal(failure, "STORE_UNAVAILABLE", true);
          // At most the timeout, plus the socket.io round trip on a shared, busy machine.
          expect(Date.now() - started).toBeLessThan(timeout + 1500);
          expect(JSON.stringify(failure)).not.toContain("Mongo");
        }
        expect(errors.map((error) => error.code)).toEqual(["STORE_UNAVAILABLE", "STORE_UNAVAILABLE"]);
        // Connections are refused: the driver fails at once, and its error's name is in the server-side message.
        expect(errors.at(-1)!.message).toMatch(/failed: Mongo\w*Error|did not answer within 500 ms/);

        await route.start();
        const socket = await eventually(() => connect(realtime.url, { cookie }));
        closers.push(() => socket.close());
        expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("17");
      },
      40_000,
    );

    it.skipIf(MONGO_TARGET_EXTERNAL)(
      "refuses at the timeout when the server takes connections but never answers, then recovers (test server only: it can stall)",
      async () => {
        const server = target.server!;
        const timeout = 500;
        const { cookieOf, realtime, errors } = await setup({
          reader: readerClient(),
          auth: { timeout },
          store: { maxTimeMS: timeout },
        });
        const cookie = await cookieOf({ id: 18 });
        (await connected(realtime.url, cookie)).close();

        const release = server.stall(); // every reply withheld, handshakes of new connections included
        closers.push(release);
        const started = Date.now();
        expectRefusal(await refusal(realtime.url, { cookie }), "STORE_UNAVAILABLE", true);
        const elapsed = Date.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(timeout - 50);
        expect(elapsed).toBeLessThan(timeout + 1500);
        expect(errors[0]!.message).toContain("did not answer within 500 ms");

        release();
        const socket = await eventually(() => connect(realtime.url, { cookie }));
        closers.push(() => socket.close());
        expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("18");
      },
      40_000,
    );

    it.skipIf(MONGO_TARGET_EXTERNAL)(
      "stops waiting the moment the signal aborts, when the server took the query and went silent (test server only: it can stall)",
      async () => {
        const server = target.server!;
        const { cookieOf, store } = await setup();
        const sid = sessionIdOf(await cookieOf({ id: 19 }));
        const release = server.stall("find");
        closers.push(release);
        const controller = new AbortController();
        const reason = new Error("timeout after 200 ms");
        const pending = store.get(sid, { signal: controller.signal, report: () => {} });
        const started = Date.now();
        setTimeout(() => controller.abort(reason), 200);
        await expect(pending).rejects.toBe(reason);
        expect(Date.now() - started).toBeLessThan(1500);
        release();
        // The driver dropped that connection (it cannot reuse one with a reply in flight) and opens another.
        const record = await eventually(() =>
          store.get(sid, { signal: new AbortController().signal, report: () => {} }),
        );
        expect(record!.session.user).toEqual({ id: 19 });
        await expect(store.get(sid, { signal: AbortSignal.abort(reason), report: () => {} })).rejects.toBe(reason);
      },
    );
  });
});

// The conformance kit: connect-mongo writes each session exactly as an app's express-session would have it.
describe.each([true, false])(`conformance (${MONGO_TARGET_LABEL}), connect-mongo stringify: %s`, (stringify) => {
  let reader: MongoClient;
  let db: Db;
  beforeAll(() => {
    reader = new MongoClient(target.uri(dbName), { serverSelectionTimeoutMS: 5000 });
    db = reader.db(dbName);
  });
  afterAll(() => reader?.close());

  describeSessionStore<Session>(
    `mongo, stringify: ${stringify}`,
    () => {
      const collectionName = `conformance_${randomBytes(4).toString("hex")}`;
      const sessions = MongoStore.create({ client: admin, dbName, collectionName, stringify, autoRemove: "disabled" });
      const set = promisify(sessions.set.bind(sessions)) as (sid: string, session: unknown) => Promise<void>;
      const collection = admin.db(dbName).collection<{ _id: string }>(collectionName);
      return {
        store: mongoStore<Session>({ db, collectionName }),
        write: (id, session, options) =>
          set(
            id,
            options?.expires === undefined
              ? session
              : { ...session, cookie: { ...session.cookie, expires: options.expires.toISOString() } },
          ),
        writeCorrupt: async (id) => {
          await set(id, { cookie: { expires: null }, user: { id: 1 } });
          await collection.updateOne({ _id: id }, { $set: { session: stringify ? "{corrupt" : 42 } });
        },
        remove: (id) => promisify(sessions.destroy.bind(sessions))(id),
      };
    },
    { capabilities: { expiry: "record", expires: true, compareAndSet: true } },
  );
});
