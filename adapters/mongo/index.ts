import { abortable, describeValue, readSession, type SessionData, type SessionRecord, type SessionStore } from "socket.io-session-auth";

/** A BSON document as the driver hands it over (typed here so that this entry point needs no driver types). */
type Document = Record<string, unknown>;

/**
 * The options this adapter passes to `findOne`. `signal` is honoured by the mongodb driver 6.13 and later
 * (older drivers ignore it; the adapter stops waiting on its own either way).
 */
export interface MongoFindOneOptions {
  projection: Document;
  maxTimeMS: number;
  signal: AbortSignal;
}

/**
 * What the adapter needs of a collection: `findOne`, and `deleteOne` for `destroy`. A mongodb driver
 * `Collection` (v5 and later) fits. Typed structurally, so this entry point names no driver version.
 */
export interface MongoCollectionLike {
  findOne(filter: Document, options: MongoFindOneOptions): Promise<Document | null>;
  deleteOne?(filter: Document): Promise<unknown>;
}

/** What the adapter needs of a database: `collection(name)`. A mongodb driver `Db` fits. */
export interface MongoDbLike {
  collection(name: string): MongoCollectionLike;
}

export interface MongoStoreOptions<S extends object = SessionData> {
  /** The collection connect-mongo writes to: `client.db(dbName).collection("sessions")`. Or pass `db`. */
  collection?: MongoCollectionLike;
  /** The database connect-mongo writes to (`client.db(dbName)`), with `collectionName`. Or pass `collection`. */
  db?: MongoDbLike;
  /** With `db`: connect-mongo's `collectionName` (default `"sessions"`). */
  collectionName?: string;
  /**
   * Server-side limit for each lookup, in ms (default 2000, the `sessionAuth` default `timeout`). Set it
   * to your `timeout`, so the server gives up on a lookup the handshake stopped waiting for.
   */
  maxTimeMS?: number;
  /** connect-mongo's `transformId`: maps a session id to the stored `_id`. Pass the same function. */
  transformId?: (sessionId: string) => unknown;
  /**
   * Reads the stored `session` field, as connect-mongo's `unserialize` (and, with `crypto` /
   * `cryptoAdapter`, its decryption). Default: `JSON.parse` for a string (`stringify: true`, connect-mongo's
   * default), the sub-document itself otherwise (`stringify: false`). May return a promise.
   */
  unserialize?: (stored: unknown) => S | Promise<S>;
}

const DEFAULT_COLLECTION = "sessions"; // connect-mongo's default collectionName
const DEFAULT_MAX_TIME_MS = 2000;
const MAX_TIME_LIMIT = 2_147_483_647; // maxTimeMS is a 32-bit signed integer on the server
// Only what a lookup needs comes over the wire: not _id (we asked for it), nor lastModified / timestamps.
const PROJECTION: Document = Object.freeze({ _id: 0, session: 1, expires: 1 });
const KNOWN_OPTIONS = new Set(["collection", "db", "collectionName", "maxTimeMS", "transformId", "unserialize"]);
const HINTS: Record<string, string> = {
  stringify: "the adapter reads both forms (a JSON string and a sub-document) without being told; remove it",
  client: "pass `db: client.db(dbName)` or `collection`; the adapter never opens or closes connections",
  clientPromise: "await the client and pass `db: client.db(dbName)` or `collection`",
  mongoUrl: "connect a MongoClient yourself and pass `db: client.db(dbName)`; the adapter never opens connections",
  dbName: "pass `db: client.db(dbName)` instead",
  ttl: "the adapter only reads; connect-mongo's `ttl` is already in each document's `expires`",
};

/**
 * Reads the sessions that connect-mongo (v5, v6) writes: documents `{ _id: sid, session, expires }` where
 * `session` is a JSON string (`stringify: true`, the default) or a sub-document (`stringify: false`).
 *
 * One `findOne` by `_id` per lookup. The top-level `expires` is the truth about expiry (connect-mongo's
 * touch updates only it, and the session's own `cookie.expires` goes stale), and it is reported as the
 * record's `expires` rather than filtered in the query: MongoDB's TTL monitor deletes expired documents
 * only about once a minute, and in between the handshake is refused as `SESSION_EXPIRED`, not as a missing
 * session. A document without `expires` is live.
 *
 * Each lookup carries `maxTimeMS` and the handshake's `AbortSignal`; when the signal aborts (the
 * `sessionAuth` `timeout` passed) the adapter stops waiting at once. Driver errors (server selection
 * timeout, network) reject, which the core turns into `STORE_UNAVAILABLE`; the driver reconnects by
 * itself when the server is back.
 *
 * The client is yours: the store never connects or closes it. Throws a `TypeError` naming the option
 * when the options are wrong.
 */
export function mongoStore<S extends object = SessionData>(options: MongoStoreOptions<S>): SessionStore<S> {
  const { collection, maxTimeMS, transformId, unserialize } = validate(options);
  const storedId = (id: string): unknown => (transformId === undefined ? id : transformId(id));

  const store: SessionStore<S> = {
    name: "mongo",
    async get(id, { signal, report }): Promise<SessionRecord<S> | null> {
      signal.throwIfAborted();
      const query = Promise.resolve(collection.findOne({ _id: storedId(id) }, { projection: PROJECTION, maxTimeMS, signal }));
      const document = await abortable(query, signal);
      if (document === null || document === undefined) return null;
      const expires: unknown = document.expires;
      // connect-mongo's own query (`$or: [{ expires: { $exists: false } }, { expires: { $gt: now } }]`)
      // never matches `expires: null`: the web app cannot see that session, so neither do we.
      if (expires === null) {
        report(new TypeError("the session document's `expires` is null, which connect-mongo never matches"));
        return null;
      }
      if (expires !== undefined && !(expires instanceof Date)) {
        // connect-mongo always writes a BSON Date; anything else was written by someone else, and its
        // query (`expires: { $gt: new Date() }`) would never match it: refuse it, and say why.
        report(new TypeError(`the session document's \`expires\` is ${describeValue(expires)}, not a Date`));
        return null;
      }
      if (document.session === undefined || document.session === null) {
        report(new TypeError("the session document has no `session` field (or it is null)"));
        return null;
      }
      const session = await readSession<S>(document.session, report, { parse: unserialize, what: "the `session` field" });
      if (session === null) return null;
      return { session, expires: expires ?? null };
    },
  };
  const deleteOne = collection.deleteOne;
  if (typeof deleteOne === "function") {
    store.destroy = async (id) => {
      await deleteOne.call(collection, { _id: storedId(id) });
    };
  }
  return store;
}

interface Config<S extends object> {
  collection: MongoCollectionLike;
  maxTimeMS: number;
  transformId: ((sessionId: string) => unknown) | undefined;
  unserialize: ((stored: unknown) => S | Promise<S>) | undefined;
}

function validate<S extends object>(options: MongoStoreOptions<S>): Config<S> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("mongoStore: pass an options object: { collection } or { db, collectionName }.");
  }
  for (const key of Object.keys(options)) {
    if (KNOWN_OPTIONS.has(key)) continue;
    const hint = HINTS[key];
    throw new TypeError(`mongoStore: unknown option \`${key}\`${hint === undefined ? "" : `: ${hint}`}.`);
  }
  const { collection, db, collectionName = DEFAULT_COLLECTION, maxTimeMS = DEFAULT_MAX_TIME_MS, transformId, unserialize } = options;
  if (collection !== undefined && db !== undefined) {
    throw new TypeError("mongoStore: pass either `collection` or `db` (with `collectionName`), not both.");
  }
  if (collection !== undefined && options.collectionName !== undefined) {
    throw new TypeError("mongoStore: `collectionName` goes with `db`; a `collection` already has its name.");
  }
  if (typeof collectionName !== "string" || collectionName === "") {
    throw new TypeError(`mongoStore: \`collectionName\` must be a nonempty string (connect-mongo's collectionName; default "${DEFAULT_COLLECTION}").`);
  }
  if (!Number.isInteger(maxTimeMS) || maxTimeMS <= 0 || maxTimeMS > MAX_TIME_LIMIT) {
    throw new TypeError(`mongoStore: \`maxTimeMS\` must be a positive integer of milliseconds (at most ${MAX_TIME_LIMIT}).`);
  }
  if (transformId !== undefined && typeof transformId !== "function") {
    throw new TypeError("mongoStore: `transformId` must be a function (sessionId) => _id, the one given to connect-mongo.");
  }
  if (unserialize !== undefined && typeof unserialize !== "function") {
    throw new TypeError("mongoStore: `unserialize` must be a function (stored session field) => session.");
  }
  let resolved: unknown = collection;
  if (db !== undefined) {
    if (typeof db !== "object" || db === null || typeof (db as { collection?: unknown }).collection !== "function") {
      throw new TypeError("mongoStore: `db` must be a MongoDB Db (client.db(name)), which has collection(name).");
    }
    resolved = db.collection(collectionName);
  } else if (collection === undefined) {
    throw new TypeError("mongoStore: pass `collection` (client.db(name).collection(\"sessions\")) or `db` (client.db(name)).");
  }
  if (typeof resolved !== "object" || resolved === null || typeof (resolved as { findOne?: unknown }).findOne !== "function") {
    throw new TypeError(
      db !== undefined
        ? "mongoStore: `db.collection(collectionName)` returned no collection with findOne()."
        : "mongoStore: `collection` must be a MongoDB collection (client.db(name).collection(\"sessions\")), which has findOne().",
    );
  }
  return { collection: resolved as MongoCollectionLike, maxTimeMS, transformId, unserialize };
}
