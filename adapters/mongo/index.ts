import {
  abortable,
  copySession,
  describeGiven,
  describeValue,
  driverKind,
  readSession,
  rejectUnknownOptions,
  type SessionData,
  type SessionRecord,
  type SessionStore,
} from "socket.io-session-auth/adapter";

/**
 * A BSON document as the driver hands it over (typed here so that this entry point needs no driver types).
 * The public interfaces below spell it out as `Record<string, unknown>`, so the API reference shows it.
 */
type Document = Record<string, unknown>;

/**
 * The options this adapter passes to `findOne`. `signal` is honoured by the mongodb driver 6.13 and later
 * (older drivers ignore it; the adapter stops waiting on its own either way).
 */
export interface MongoFindOneOptions {
  projection: Record<string, unknown>;
  maxTimeMS: number;
  signal: AbortSignal;
}

/**
 * What the adapter needs of a collection: `findOne`, and `updateOne` for `compareAndSet`. A mongodb driver
 * `Collection` (v5 and later) fits. Typed structurally, so this entry point names no driver version.
 */
export interface MongoCollectionLike {
  findOne(filter: Record<string, unknown>, options: MongoFindOneOptions): Promise<Record<string, unknown> | null>;
  /** For `compareAndSet`: a driver `Collection`'s `updateOne`, whose result has `matchedCount`. */
  updateOne?(filter: Record<string, unknown>, update: Record<string, unknown>): Promise<{ matchedCount?: number }>;
}

/**
 * connect-mongo's crypto adapter shape (`cryptoAdapter`): `createWebCryptoAdapter({ secret })` or
 * `createKrupteinAdapter({ secret })` from connect-mongo, or one of your own. Pass the same object (or
 * one built with the same options) to connect-mongo and to the adapter.
 */
export interface MongoCryptoAdapter {
  encrypt(plaintext: string): Promise<string>;
  decrypt(ciphertext: string): Promise<string>;
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
  /**
   * connect-mongo's `cryptoAdapter`, for encrypted sessions: the same object connect-mongo was given.
   * For connect-mongo's legacy `crypto: { secret, ... }` option pass `createKrupteinAdapter({ secret, ... })`
   * (connect-mongo builds exactly that from `crypto`). The decrypted text is read as connect-mongo reads
   * it (kruptein's JSON-encoded plaintext included), then through `unserialize` when given.
   */
  cryptoAdapter?: MongoCryptoAdapter;
}

const DEFAULT_COLLECTION = "sessions"; // connect-mongo's default collectionName
const DEFAULT_MAX_TIME_MS = 2000;
const MAX_TIME_LIMIT = 2_147_483_647; // maxTimeMS is a 32-bit signed integer on the server
// Only what a lookup needs comes over the wire: not _id (we asked for it), nor lastModified / timestamps.
const PROJECTION: Document = Object.freeze({ _id: 0, session: 1, expires: 1 });
const KNOWN_OPTIONS = new Set([
  "collection",
  "db",
  "collectionName",
  "maxTimeMS",
  "transformId",
  "unserialize",
  "cryptoAdapter",
]);
const HINTS: Readonly<Record<string, string>> = {
  stringify: "the adapter reads both forms (a JSON string and a sub-document) without being told; remove it",
  client: "pass `db: client.db(dbName)` or `collection`; the adapter never opens or closes connections",
  clientPromise: "await the client and pass `db: client.db(dbName)` or `collection`",
  mongoUrl: "connect a MongoClient yourself and pass `db: client.db(dbName)`; the adapter never opens connections",
  dbName: "pass `db: client.db(dbName)` instead",
  ttl: "the adapter only reads; connect-mongo's `ttl` is already in each document's `expires`",
  crypto:
    "pass `cryptoAdapter: createKrupteinAdapter({ secret })` from connect-mongo, with the same options as its `crypto` (it builds that very adapter from them)",
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
 * Each record carries the `session` field as stored as its `revision`. `compareAndSet` (without a
 * custom `unserialize`, whose matching `serialize` the adapter cannot know) is one `updateOne` filtered
 * on `_id`, on that field and on connect-mongo's liveness condition (`expires` absent or in the
 * future), which `$set`s only `session`, serialized as connect-mongo serializes it: a
 * JSON string, a sub-document (with `cookie.expires` as a date), or, with `cryptoAdapter`, the JSON
 * encrypted by the adapter. `expires` stays as it was.
 *
 * The client is yours: the store never connects or closes it. Throws a `TypeError` naming the option
 * when the options are wrong, including a driver object of the wrong kind (a `MongoClient` where a `Db`
 * or a `Collection` goes, connect-mongo's `MongoStore`, a promise).
 */
export function mongoStore<S extends object = SessionData>(options: MongoStoreOptions<S>): SessionStore<S> {
  const { collection, maxTimeMS, transformId, unserialize, cryptoAdapter } = validate(options);
  const storedId = (id: string): unknown => (transformId === undefined ? id : transformId(id));
  const parse =
    cryptoAdapter === undefined ? unserialize : (stored: unknown) => decrypted(cryptoAdapter, stored, unserialize);

  const store: SessionStore<S> = {
    name: "mongo",
    where: collectionWhere(collection),
    async get(id, { signal, report }): Promise<SessionRecord<S> | null> {
      signal.throwIfAborted();
      const query = Promise.resolve(
        collection.findOne({ _id: storedId(id) }, { projection: PROJECTION, maxTimeMS, signal }),
      );
      const document = await abortable(query, signal);
      if (document === null || document === undefined) return null;
      if (typeof document !== "object" || Array.isArray(document)) {
        // A wrong kind of collection object (not the driver's), not an outage: a TypeError is not retried.
        throw new TypeError(
          `mongoStore: the collection's findOne resolved ${describeValue(document)}, not a document or null`,
        );
      }
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
      // A sub-document is handed to the record as a copy: the revision must stay the field as read
      // (compareAndSet filters on it), whatever the record's holder does to its session.
      const stored = typeof document.session === "object" ? copySession(document.session as object) : document.session;
      const session = await readSession<S>(stored, report, { parse, what: "the `session` field" });
      if (session === null) return null;
      return { session, expires: expires ?? null, revision: document.session };
    },
  };
  const updateOne = collection.updateOne;
  if (typeof updateOne === "function" && unserialize === undefined) {
    store.compareAndSet = async (id, revision, session, { signal }) => {
      signal.throwIfAborted();
      if (typeof revision !== "string" && (typeof revision !== "object" || revision === null)) {
        throw new TypeError(
          `mongoStore.compareAndSet: the revision must be the \`session\` field a record carried; got ${describeValue(revision)}`,
        );
      }
      const json = JSON.stringify(session);
      // connect-mongo encrypts the JSON in both stringify modes; unencrypted, the stored form (a string or
      // a sub-document) says which mode the web app runs in.
      const value =
        cryptoAdapter !== undefined
          ? await cryptoAdapter.encrypt(json)
          : typeof revision === "string"
            ? json
            : asDocument(json);
      // connect-mongo's own liveness condition too: a document whose `expires` passed (the TTL monitor
      // has not removed it yet) is a session that is gone, not one to write into.
      const filter = {
        _id: storedId(id),
        session: revision,
        $or: [{ expires: { $exists: false } }, { expires: { $gt: new Date() } }],
      };
      const result = await abortable(
        Promise.resolve(updateOne.call(collection, filter, { $set: { session: value } })),
        signal,
      );
      const matched = (result as { matchedCount?: unknown } | null)?.matchedCount;
      if (typeof matched !== "number")
        throw new TypeError(`the collection answered updateOne with ${describeValue(result)} without a matchedCount`);
      return matched === 1;
    };
  }
  return store;
}

/**
 * The session as connect-mongo's `stringify: false` stores it: the session's JSON data, with
 * `cookie.expires` a date (express-session's `Cookie#toJSON` hands the driver a Date, stored as a BSON
 * date), so the web app reads back what it would have written itself.
 */
function asDocument(json: string): Document {
  const document = JSON.parse(json) as Document;
  const cookie = document.cookie as Document | undefined;
  if (typeof cookie === "object" && cookie !== null && typeof cookie.expires === "string") {
    const expires = new Date(cookie.expires);
    if (!Number.isNaN(expires.getTime())) cookie.expires = expires;
  }
  return document;
}

/**
 * What connect-mongo's `get` makes of an encrypted `session` field (its `decryptSession` and
 * `parseDecryptedPayload`): the decrypted text is JSON, once (connect-mongo's WebCrypto adapter) or twice
 * (kruptein JSON-encodes the JSON string it is given); a field that is not a string was never encrypted.
 */
async function decrypted<S>(
  adapter: MongoCryptoAdapter,
  stored: unknown,
  unserialize: ((stored: unknown) => S | Promise<S>) | undefined,
): Promise<unknown> {
  let value: unknown = stored;
  if (typeof stored === "string") {
    const plaintext = await adapter.decrypt(stored);
    if (typeof plaintext !== "string")
      throw new TypeError(`the cryptoAdapter's decrypt resolved ${describeValue(plaintext)}, not a string`);
    value = parseJson(plaintext);
    if (typeof value === "string" && unserialize === undefined) value = JSON.parse(value);
  }
  return unserialize === undefined ? value : unserialize(value);
}

/** JSON.parse, or the text itself when it is no JSON (connect-mongo's own fallback). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

interface Config<S extends object> {
  collection: MongoCollectionLike;
  maxTimeMS: number;
  transformId: ((sessionId: string) => unknown) | undefined;
  unserialize: ((stored: unknown) => S | Promise<S>) | undefined;
  cryptoAdapter: MongoCryptoAdapter | undefined;
}

function validate<S extends object>(options: MongoStoreOptions<S>): Config<S> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("mongoStore: pass an options object: { collection } or { db, collectionName }.");
  }
  rejectUnknownOptions("mongoStore", options, KNOWN_OPTIONS, { notes: HINTS });
  const {
    collection,
    db,
    collectionName = DEFAULT_COLLECTION,
    maxTimeMS = DEFAULT_MAX_TIME_MS,
    transformId,
    unserialize,
    cryptoAdapter,
  } = options;
  checkDriver("db", db);
  checkDriver("collection", collection);
  if (collection !== undefined && db !== undefined) {
    throw new TypeError("mongoStore: pass either `collection` or `db` (with `collectionName`), not both.");
  }
  if (collection !== undefined && options.collectionName !== undefined) {
    throw new TypeError("mongoStore: `collectionName` goes with `db`; a `collection` already has its name.");
  }
  if (typeof collectionName !== "string" || collectionName === "") {
    throw new TypeError(
      `mongoStore: \`collectionName\` must be a nonempty string (connect-mongo's collectionName; default "${DEFAULT_COLLECTION}").`,
    );
  }
  if (!Number.isInteger(maxTimeMS) || maxTimeMS <= 0 || maxTimeMS > MAX_TIME_LIMIT) {
    throw new TypeError(
      `mongoStore: \`maxTimeMS\` must be a positive integer of milliseconds (at most ${MAX_TIME_LIMIT}).`,
    );
  }
  if (transformId !== undefined && typeof transformId !== "function") {
    throw new TypeError(
      "mongoStore: `transformId` must be a function (sessionId) => _id, the one given to connect-mongo.",
    );
  }
  if (unserialize !== undefined && typeof unserialize !== "function") {
    throw new TypeError("mongoStore: `unserialize` must be a function (stored session field) => session.");
  }
  if (
    cryptoAdapter !== undefined &&
    (typeof cryptoAdapter !== "object" ||
      cryptoAdapter === null ||
      typeof cryptoAdapter.decrypt !== "function" ||
      typeof cryptoAdapter.encrypt !== "function")
  ) {
    throw new TypeError(
      `mongoStore: \`cryptoAdapter\` must be connect-mongo's crypto adapter, with encrypt(text) and decrypt(text) (createWebCryptoAdapter({ secret }) or createKrupteinAdapter({ secret })); got ${describeGiven(cryptoAdapter)}.`,
    );
  }
  let resolved: unknown = collection;
  if (db !== undefined) {
    if (typeof db !== "object" || db === null || typeof (db as { collection?: unknown }).collection !== "function") {
      throw new TypeError("mongoStore: `db` must be a MongoDB Db (client.db(name)), which has collection(name).");
    }
    resolved = db.collection(collectionName);
  } else if (collection === undefined) {
    throw new TypeError(
      'mongoStore: pass `collection` (client.db(name).collection("sessions")) or `db` (client.db(name)).',
    );
  }
  if (
    typeof resolved !== "object" ||
    resolved === null ||
    typeof (resolved as { findOne?: unknown }).findOne !== "function"
  ) {
    throw new TypeError(
      db !== undefined
        ? "mongoStore: `db.collection(collectionName)` returned no collection with findOne()."
        : 'mongoStore: `collection` must be a MongoDB collection (client.db(name).collection("sessions")), which has findOne().',
    );
  }
  return { collection: resolved as MongoCollectionLike, maxTimeMS, transformId, unserialize, cryptoAdapter };
}

/** Refuses, when the store is built, a driver object given for the wrong option. */
function checkDriver(option: "db" | "collection", value: unknown): void {
  if (value === undefined) return;
  const kind = driverKind(value);
  const wanted = option === "db" ? "Db" : "Collection";
  if (kind === wanted || kind === "other") return;
  let hint: string;
  switch (kind) {
    case "MongoClient":
      hint =
        option === "db"
          ? "pass `db: client.db(dbName)`"
          : 'pass `collection: client.db(dbName).collection("sessions")`';
      break;
    case "Db":
      hint =
        'pass it as `db` (with `collectionName` if not "sessions"), or pass `collection: db.collection("sessions")`';
      break;
    case "Collection":
      hint = "pass it as `collection`";
      break;
    case "express-session store":
      hint =
        "that is the web app's session store: pass the database or collection it writes to (`db: client.db(dbName)`)";
      break;
    case "promise":
      hint = "await the client first, then pass `db: client.db(dbName)`";
      break;
    default:
      hint =
        option === "db"
          ? "pass `db: client.db(dbName)`"
          : 'pass `collection: client.db(dbName).collection("sessions")`';
  }
  throw new TypeError(`mongoStore: \`${option}\` must be a MongoDB ${wanted}; got ${describeGiven(value)}: ${hint}.`);
}

/** The collection a lookup reads, as the mongodb driver names it (`db.collection`), for the diagnosis. */
function collectionWhere(collection: unknown): string | undefined {
  const { dbName, collectionName } = collection as { dbName?: unknown; collectionName?: unknown };
  if (typeof collectionName !== "string") return undefined;
  return `collection "${typeof dbName === "string" ? `${dbName}.` : ""}${collectionName}"`;
}
