import { MongoClient, type Document } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import {
  mongoStore,
  type MongoCollectionLike,
  type MongoFindOneOptions,
  type MongoStoreOptions,
} from "socket.io-session-auth/mongo";

// Options, defaults and the reading rules, without a server. The real driver's Collection and Db are used
// where no I/O happens (MongoClient connects on the first operation, never in the constructor); the rest
// uses a collection that answers from a table and records what it was asked.

const client = new MongoClient("mongodb://127.0.0.1:9/never-connected");
afterAll(() => client.close());

interface Call {
  filter: Document;
  options: MongoFindOneOptions;
}

function table(documents: Record<string, Document>): MongoCollectionLike & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async findOne(filter, options) {
      calls.push({ filter, options });
      return documents[String(filter._id)] ?? null;
    },
  };
}

async function read(
  collection: MongoCollectionLike,
  id = "sid",
  options: Omit<MongoStoreOptions, "collection" | "db"> = {},
) {
  const reports: unknown[] = [];
  const record = await mongoStore({ collection, ...options }).get(id, {
    signal: new AbortController().signal,
    report: (cause) => reports.push(cause),
  });
  return { record, reports };
}

describe("mongoStore options", () => {
  const collection = table({});
  it.each([
    [undefined, /pass an options object/],
    [{}, /pass `collection`.*or `db`/],
    [{ collection, db: client.db("app") }, /either `collection` or `db`/],
    [{ collection, collectionName: "s" }, /`collectionName` goes with `db`/],
    [{ db: client.db("app"), collectionName: "" }, /`collectionName` must be a nonempty string/],
    [{ collection, maxTimeMS: 0 }, /`maxTimeMS` must be a positive integer/],
    [{ collection, maxTimeMS: 1.5 }, /`maxTimeMS`/],
    [{ collection, maxTimeMS: 2 ** 31 }, /`maxTimeMS`/],
    [{ collection, maxTimeMS: "2000" }, /`maxTimeMS`/],
    [{ collection, transformId: "app:" }, /`transformId` must be a function/],
    [{ collection, unserialize: JSON }, /`unserialize` must be a function/],
    [{ collection: {} }, /`collection` must be a MongoDB collection/],
    [
      { collection: client },
      /`collection` must be a MongoDB Collection; got a MongoClient: pass `collection: client.db\(dbName\).collection\("sessions"\)`/,
    ],
    [{ db: client }, /`db` must be a MongoDB Db; got a MongoClient: pass `db: client.db\(dbName\)`/],
    [{ collection: client.db("app") }, /`collection` must be a MongoDB Collection; got a MongoDB Db: pass it as `db`/],
    [
      { db: client.db("app").collection("sessions") },
      /`db` must be a MongoDB Db; got a MongoDB Collection: pass it as `collection`/,
    ],
    [{ db: Promise.resolve(client) }, /`db` must be a MongoDB Db; got a promise/],
    [
      { collection, crypto: { secret: "s" } },
      /unknown option `crypto`: pass `cryptoAdapter: createKrupteinAdapter\(\{ secret \}\)`/,
    ],
    [
      { collection, cryptoAdapter: { decrypt: async (text: string) => text } },
      /`cryptoAdapter` must be connect-mongo's crypto adapter/,
    ],
    [{ db: {} }, /`db` must be a MongoDB Db/],
    [{ db: { collection: () => ({}) } }, /returned no collection with findOne/],
    [{ collection, stringify: false }, /unknown option `stringify`: the adapter reads both forms/],
    [{ client }, /unknown option `client`: pass `db: client.db\(dbName\)`/],
    [{ mongoUrl: "mongodb://x" }, /unknown option `mongoUrl`/],
    [{ collection, collecton: 1 }, /unknown option `collecton`\.$/],
  ])("%o", (options, message) => {
    expect(() => mongoStore(options as MongoStoreOptions)).toThrow(TypeError);
    expect(() => mongoStore(options as MongoStoreOptions)).toThrow(message);
  });

  it("takes the real driver's Collection and Db", () => {
    expect(mongoStore({ collection: client.db("app").collection("sessions") }).name).toBe("mongo");
    expect(
      mongoStore({
        collection: client.db("app").collection<{ _id: string; session: string; expires: Date }>("sessions"),
      }).name,
    ).toBe("mongo");
    expect(typeof mongoStore({ db: client.db("app") }).compareAndSet).toBe("function");
  });

  it('defaults: collection "sessions", maxTimeMS 2000, the projection, no set or subscribe', async () => {
    const asked: string[] = [];
    const collection = table({});
    const store = mongoStore({ db: { collection: (name) => (asked.push(name), collection) } });
    expect(asked).toEqual(["sessions"]);
    await store.get("sid", { signal: new AbortController().signal, report: () => {} });
    expect(collection.calls[0]!.filter).toEqual({ _id: "sid" });
    expect(collection.calls[0]!.options).toMatchObject({
      maxTimeMS: 2000,
      projection: { _id: 0, session: 1, expires: 1 },
    });
    expect(collection.calls[0]!.options.signal).toBeInstanceOf(AbortSignal);
    expect((store as unknown as Record<string, unknown>).set).toBeUndefined();
    expect(store.subscribe).toBeUndefined();
    expect(store.close).toBeUndefined(); // the client is the caller's
  });

  it("has no destroy(), even over a collection that can deleteOne: logout is the web app's", () => {
    const collection = { ...table({}), deleteOne: async () => ({ deletedCount: 1 }) };
    expect((mongoStore({ collection }) as unknown as Record<string, unknown>).destroy).toBeUndefined();
  });
});

describe("mongoStore reading", () => {
  const expires = new Date("2030-01-01T00:00:00Z");

  it("parses a JSON string (stringify: true) and takes a sub-document as is (stringify: false)", async () => {
    const collection = table({
      a: { session: '{"user":{"id":1}}', expires },
      b: { session: { user: { id: 2 } }, expires },
    });
    expect((await read(collection, "a")).record).toEqual({
      session: { user: { id: 1 } },
      expires,
      revision: '{"user":{"id":1}}',
    });
    expect((await read(collection, "b")).record).toEqual({
      session: { user: { id: 2 } },
      expires,
      revision: { user: { id: 2 } },
    });
  });

  it("a sub-document session is the record's own copy: changing it leaves the revision as stored", async () => {
    const stored = { user: { id: 2 }, items: [1], cookie: { expires } };
    const { record } = await read(table({ b: { session: stored, expires } }), "b");
    (record!.session as { items: number[] }).items.push(2);
    (record!.session as { cookie: { expires: Date } }).cookie.expires.setTime(0);
    expect(record!.revision).toBe(stored);
    expect(stored).toEqual({ user: { id: 2 }, items: [1], cookie: { expires: new Date("2030-01-01T00:00:00Z") } });
  });

  it("reports a past expires as it is (the core refuses it as SESSION_EXPIRED), and no expires as null", async () => {
    const past = new Date(Date.now() - 1000);
    const collection = table({ old: { session: "{}", expires: past }, forever: { session: "{}" } });
    expect((await read(collection, "old")).record).toEqual({ session: {}, expires: past, revision: "{}" });
    expect((await read(collection, "forever")).record).toEqual({ session: {}, expires: null, revision: "{}" });
  });

  it("treats expires: null as connect-mongo's own query does: no session", async () => {
    const { record, reports } = await read(table({ nulled: { session: "{}", expires: null } }), "nulled");
    expect(record).toBeNull();
    expect(String(reports[0])).toMatch(/expires` is null/);
  });

  it.each([
    [
      "bad JSON",
      { session: '{"token":"tok_live_SECRET', expires },
      SyntaxError,
      /the `session` field is not valid JSON/,
    ],
    ["JSON that is not an object", { session: "[1,2]", expires }, TypeError, /holds an array/],
    ["a number", { session: 42, expires }, TypeError, /holds a number/],
    ["no session field", { expires }, TypeError, /no `session` field/],
    [
      "an expires that is a string",
      { session: "{}", expires: "2999-01-01" },
      TypeError,
      /`expires` is a string, not a Date/,
    ],
  ])("resolves null and reports why for %s", async (_label, document, type, message) => {
    const { record, reports } = await read(table({ sid: document }));
    expect(record).toBeNull();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toBeInstanceOf(type);
    expect(String(reports[0])).toMatch(message);
    // The diagnosis never quotes the stored session.
    expect(`${String(reports[0])} ${String((reports[0] as Error).cause)}`).not.toMatch(/tok_live|SECRET/);
  });

  it("unserialize replaces the parsing (connect-mongo's unserialize, or a decryption), and its failure is reported", async () => {
    const collection = table({ sid: { session: "dXNlcj0z", expires } });
    const decode = (stored: unknown) => ({ user: Buffer.from(String(stored), "base64").toString("utf8") });
    expect((await read(collection, "sid", { unserialize: decode })).record).toEqual({
      session: { user: "user=3" },
      expires,
      revision: "dXNlcj0z",
    });
    // Without the matching serialize, the adapter cannot write what the web app would: no compareAndSet.
    expect(
      mongoStore({ collection: { ...collection, updateOne: async () => ({ matchedCount: 1 }) }, unserialize: decode })
        .compareAndSet,
    ).toBeUndefined();
    const failing = await read(collection, "sid", { unserialize: async () => Promise.reject(new Error("bad tag")) });
    expect(failing.record).toBeNull();
    expect(String(failing.reports[0])).toContain("bad tag");
  });

  it("rejects with the signal's reason, without a query, when it is already aborted", async () => {
    const collection = table({});
    const reason = new Error("timeout after 1 ms");
    await expect(
      mongoStore({ collection }).get("sid", { signal: AbortSignal.abort(reason), report: () => {} }),
    ).rejects.toBe(reason);
    expect(collection.calls).toHaveLength(0);
  });

  it("a findOne that resolves something other than a document rejects with a TypeError (a wrong collection object, not an outage)", async () => {
    const store = mongoStore({ collection: { findOne: async () => "not a document" as never } });
    await expect(store.get("sid", { signal: new AbortController().signal, report: () => {} })).rejects.toThrow(
      /findOne resolved a string, not a document/,
    );
    await expect(store.get("sid", { signal: new AbortController().signal, report: () => {} })).rejects.toBeInstanceOf(
      TypeError,
    );
  });

  it("passes a driver failure on as a rejection (the core makes it STORE_UNAVAILABLE)", async () => {
    const failure = Object.assign(new Error("connection refused"), { name: "MongoNetworkError" });
    const store = mongoStore({ collection: { findOne: () => Promise.reject(failure) } });
    await expect(store.get("sid", { signal: new AbortController().signal, report: () => {} })).rejects.toBe(failure);
  });
});
