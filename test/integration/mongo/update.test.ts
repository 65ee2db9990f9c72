import { randomBytes } from "node:crypto";
import MongoStore, { createKrupteinAdapter, createWebCryptoAdapter } from "connect-mongo";
import type { SessionData as ExpressSessionData } from "express-session";
import { MongoClient } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SessionData, SessionRecord, SessionStore } from "socket.io-session-auth";
import { mongoStore, type MongoStoreOptions } from "socket.io-session-auth/mongo";
import { MONGO_TARGET_LABEL, startMongoTarget, type MongoTarget } from "../../support/mongo-server/target.js";
import { ask, connect, startWhoamiServer } from "../../support/realtime.js";
import { sessionIdOf, startWebApp } from "../../support/web-app.js";
import { getOptions, signal } from "../../support/store-calls.js";

// Encrypted sessions and compareAndSet, with real express-session + connect-mongo writing through the
// real driver, and connect-mongo (the web app's own store) reading what the adapter wrote. The server is
// the in-process test server or the MongoDB of MONGODB_URI (test/support/mongo-server/target.ts).

const SECRET = "keyboard cat";
type Items = { items?: number[] };

let target: MongoTarget;
let dbName: string;
let admin: MongoClient;
let reader: MongoClient;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  target = await startMongoTarget();
  dbName = target.newDatabase();
  admin = new MongoClient(target.uri(dbName), { serverSelectionTimeoutMS: 5000 });
  reader = new MongoClient(target.uri(dbName), { serverSelectionTimeoutMS: 5000 });
}, 30_000);
afterAll(async () => {
  await reader?.close();
  await admin?.close();
  await target?.close();
}, 30_000);
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

// WebCrypto with few PBKDF2 iterations (derived once per adapter); kruptein derives a key per call.
const webCrypto = createWebCryptoAdapter({ secret: "squirrel", iterations: 1000 });
const MODES = [
  { label: "stringify: true (connect-mongo's default)", web: { stringify: true }, ours: {} },
  { label: "stringify: false (object sessions)", web: { stringify: false }, ours: {} },
  {
    label: "cryptoAdapter: createWebCryptoAdapter",
    web: { cryptoAdapter: webCrypto },
    ours: { cryptoAdapter: webCrypto },
  },
  {
    label: "cryptoAdapter with stringify: false",
    web: { cryptoAdapter: webCrypto, stringify: false },
    ours: { cryptoAdapter: webCrypto },
  },
  // connect-mongo's legacy `crypto` builds createKrupteinAdapter(crypto); the reader passes that adapter.
  {
    label: "crypto: { secret } (kruptein)",
    web: { crypto: { secret: "squirrel" } },
    ours: { cryptoAdapter: createKrupteinAdapter({ secret: "squirrel" }) },
  },
] satisfies Array<{
  label: string;
  web: Partial<Parameters<typeof MongoStore.create>[0]>;
  ours: Partial<MongoStoreOptions>;
}>;

async function setup(mode: (typeof MODES)[number]) {
  const collectionName = `sessions_${randomBytes(4).toString("hex")}`;
  const sessions = MongoStore.create({ client: admin, dbName, collectionName, autoRemove: "disabled", ...mode.web });
  const web = await startWebApp({ store: sessions, secret: SECRET });
  closers.push(() => web.close());
  const store = mongoStore({ db: reader.db(dbName), collectionName, ...mode.ours });
  const collection = admin.db(dbName).collection<{ _id: string; session?: unknown; expires?: Date }>(collectionName);
  const cookie = await web.login({ id: 42 });
  const id = sessionIdOf(cookie);
  const webRead = () =>
    new Promise<ExpressSessionData | null | undefined>((resolve, reject) =>
      sessions.get(id, (err, session) => (err ? reject(err) : resolve(session))),
    );
  const webWrite = (session: object) =>
    new Promise<void>((resolve, reject) =>
      sessions.set(id, session as ExpressSessionData, (err) => (err ? reject(err) : resolve())),
    );
  return { web, sessions, store, collection, cookie, id, webRead, webWrite };
}

async function appendWithRetry(store: SessionStore, id: string, n: number, attempts = 200): Promise<number> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const record = (await store.get(id, getOptions())) as SessionRecord<SessionData & Items>;
    record.session.items = [...(record.session.items ?? []), n];
    if (await store.compareAndSet!(id, record.revision, record.session, { signal: signal() })) return attempt;
  }
  throw new Error(`no write landed in ${attempts} attempts`);
}

describe.each(MODES)(`mongoStore (${MONGO_TARGET_LABEL}), connect-mongo with $label`, (mode) => {
  const encrypted = "cryptoAdapter" in mode.web || "crypto" in mode.web;

  it("reads the session connect-mongo wrote, and a socket connects with it", async () => {
    const { store, collection, cookie, id } = await setup(mode);
    const stored = (await collection.findOne({ _id: id }))!.session;
    if (encrypted) expect(String(stored)).not.toContain("user");
    const record = await store.get(id, getOptions());
    expect(record!.session).toMatchObject({ user: { id: 42 } });
    expect(record!.revision).toEqual(stored);

    const realtime = await startWhoamiServer({ store, secret: SECRET });
    const { errors } = realtime;
    closers.push(() => realtime.close());
    const socket = await connect(realtime.url, { cookie });
    closers.push(() => socket.close());
    expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("42");
    expect(errors).toEqual([]);
  });

  it("compareAndSet writes on the revision just read, in connect-mongo's form, and connect-mongo reads the change; expires stays", async () => {
    const { store, collection, id, webRead } = await setup(mode);
    const before = (await collection.findOne({ _id: id }))!;
    const record = await store.get(id, getOptions());
    const changed = { ...(record!.session as object), cart: ["book"] };
    expect(await store.compareAndSet!(id, record!.revision, changed, { signal: signal() })).toBe(true);
    expect(await webRead()).toMatchObject({ user: { id: 42 }, cart: ["book"] });
    const after = (await collection.findOne({ _id: id }))!;
    expect(after.expires).toEqual(before.expires);
    if (encrypted) {
      expect(typeof after.session).toBe("string");
      expect(String(after.session)).not.toContain("book");
    } else if (mode.web.stringify === false) {
      expect(after.session).toMatchObject({ cart: ["book"], cookie: { expires: expect.any(Date) } });
    } else {
      expect(after.session).toBe(JSON.stringify(changed));
    }
  });

  it("compareAndSet fails (false) after the web app wrote in between, and leaves its write", async () => {
    const { store, id, webRead, webWrite } = await setup(mode);
    const record = await store.get(id, getOptions());
    await webWrite({ ...(record!.session as object), theme: "dark" });
    expect(
      await store.compareAndSet!(
        id,
        record!.revision,
        { ...(record!.session as object), cart: ["lost"] },
        { signal: signal() },
      ),
    ).toBe(false);
    const seen = await webRead();
    expect(seen).toMatchObject({ theme: "dark" });
    expect(seen).not.toHaveProperty("cart");
  });

  // kruptein derives its key on every call (PBKDF2, 15 000 rounds of SHA-512): 20 racing loops would take
  // long on a shared machine, so the race runs on the other modes, which share its code path.
  it.skipIf("crypto" in mode.web)(
    "20 concurrent read-compareAndSet-retry loops on one session lose nothing",
    async () => {
      const { store, id, webRead } = await setup(mode);
      const attempts = await Promise.all(Array.from({ length: 20 }, (_, n) => appendWithRetry(store, id, n)));
      const items = ((await webRead()) as Items).items!;
      expect([...items].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
      expect(attempts.some((count) => count > 1)).toBe(true);
    },
  );
});

describe(`mongoStore.compareAndSet (${MONGO_TARGET_LABEL}), the edges`, () => {
  it("a session that is gone: false, and no document is created", async () => {
    const { store, id, web, cookie, collection } = await setup(MODES[0]!);
    const record = await store.get(id, getOptions());
    await web.logout(cookie);
    expect(await store.compareAndSet!(id, record!.revision, record!.session, { signal: signal() })).toBe(false);
    expect(await collection.findOne({ _id: id })).toBeNull();
  });

  it("a session whose expires passed (not yet removed by the TTL monitor): false, and nothing is written", async () => {
    const { store, id, collection } = await setup(MODES[0]!);
    const record = await store.get(id, getOptions());
    await collection.updateOne({ _id: id }, { $set: { expires: new Date(Date.now() - 1000) } });
    expect(
      await store.compareAndSet!(
        id,
        record!.revision,
        { ...(record!.session as object), late: true },
        { signal: signal() },
      ),
    ).toBe(false);
    expect((await collection.findOne({ _id: id }))!.session).toBe(record!.revision);
  });

  it("an encrypted session read with the wrong secret is unreadable (SESSION_NOT_FOUND's cause), not an outage", async () => {
    const { id, collection } = await setup(MODES[2]!);
    const reports: unknown[] = [];
    const wrong = mongoStore({
      collection: reader.db(dbName).collection(collection.collectionName),
      cryptoAdapter: createWebCryptoAdapter({ secret: "not it", iterations: 1000 }),
    });
    expect(await wrong.get(id, getOptions(reports))).toBeNull();
    expect(reports).toHaveLength(1);
  });
});
