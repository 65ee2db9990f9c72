import {
  describeGiven,
  describeValue,
  driverKind,
  readSession,
  type SessionData,
  type SessionRecord,
  type SessionStore,
  type StoreGetOptions,
} from "socket.io-session-auth/adapter";
import { call, invoke, serialized, type ExpressSessionStoreLike } from "./calls.js";
import { expiryOf, forWriting, jsonCopy, parsedForUs, snapshot } from "./data.js";

export type { DoneCallback, ExpressSessionStoreLike, SessionCallback } from "./calls.js";

// Between sessionAuth's core and this package's adapters only: a read without a revision, answered
// through a callback, with no promise on the handshake's path (issue 22).
const GET_THEN = Symbol.for("socket.io-session-auth.getThen");
// Between sessionAuth's core and this package's adapters only (see src/copy.ts): a record of JSON data
// made for this read, which the core copies without looking for symbol keys (issue 22). Made only for
// the core's callback read (GET_THEN), where no wrapper stands between; `get` returns plain records.
class JsonRecord<S extends object> implements SessionRecord<S> {
  constructor(
    public session: S,
    public expires: Date | null,
  ) {}
}
(JsonRecord.prototype as unknown as Record<symbol, boolean>)[Symbol.for("socket.io-session-auth.jsonRecord")] = true;

/** A record of JSON data made for this read: marked for the core's callback read (`forCore`), plain for `get`. */
function recordOf<S extends object>(session: S, forCore: boolean): SessionRecord<S> {
  return forCore ? new JsonRecord(session, expiryOf(session)) : { session, expires: expiryOf(session) };
}

/**
 * Reads sessions from an express-session store object living in this process: express-session's
 * `MemoryStore`, `memorystore`, @fastify/session's `MemoryStore`, or any store with `get(sid, callback)`.
 * Pass the very object given to `session({ store })`; the sharing is the point.
 *
 * - **Expiry**: the store decides first (MemoryStore drops a session whose `cookie.expires` passed,
 *   memorystore its LRU entry); the record's `expires` is the session's `cookie.expires` (express-session
 *   rewrites it on every touch), so the core can re-check the socket when it passes. `null` when the
 *   cookie has none (a browser-session cookie) or it is not a time.
 * - **Copies**: every record holds a session of its own, parsed from the store's JSON; a store that
 *   hands out the object it keeps (@fastify/session's `MemoryStore` does) is never shared with sockets.
 * - **`compareAndSet`** (when the store has `set`): re-reads the session, compares its JSON with the
 *   `revision` the record carried, and writes through the store's own `set` only if they are equal.
 *   Updates through this adapter (any instance over the same store object) are serialized per session
 *   id, so none of ours can interleave; the web app's own writes go through its store directly, and one
 *   landing in the store's callback gap between our read and our write is not detected. The written
 *   session is plain JSON data whose `cookie` has a non-enumerable `maxAge` (milliseconds left until
 *   `cookie.expires`), as express-session's `Cookie` has: stores that size their entries from it
 *   (memorystore) keep the session's end where it was.
 *
 * Throws a `TypeError` when `handle` is not such a store (a function such as express-session's
 * middleware, a store class rather than an instance, a promise, a Redis or MongoDB driver object).
 */
export function memoryStore<S extends object = SessionData>(handle: ExpressSessionStoreLike): SessionStore<S> {
  validate(handle);

  // A record with its revision (update()'s read, and the answers the copy below cannot take). `answered`:
  // the store's answer, when the caller has it already.
  const read = async (
    id: string,
    report: (cause: unknown) => void,
    answered?: unknown,
  ): Promise<SessionRecord<S> | null> => {
    let value: unknown = answered;
    if (answered === undefined) {
      try {
        value = await call<unknown>(handle, "get", [id]);
      } catch (error) {
        return unreadable(error, report);
      }
    }
    if (value === null || value === undefined) return null;
    const revision = snapshot(value, report);
    if (revision === undefined) return null;
    // Parsed from the snapshot, so the record never holds an object the store keeps (@fastify/session's
    // MemoryStore hands out its live Session), at the price of one JSON.parse.
    const session = await readSession<S>(revision, report, { what: "the store's answer" });
    if (session === null) return null;
    return { session, expires: expiryOf(session), revision };
  };

  // Without a revision (a handshake, a periodic re-read: only update() asks for one): plain JSON data
  // (what MemoryStore and memorystore hand out, parsed per call) costs one structural copy at most, the
  // store's callback goes straight into the record, and no promise (issue 22: the handshake's hot path).
  // `forCore`: the core's callback read (GET_THEN), which gets its records marked as JSON data; `get`
  // returns plain ones. `done` is called once.
  const readCopyThen = (
    id: string,
    report: (cause: unknown) => void,
    forCore: boolean,
    done: (error: unknown, record?: SessionRecord<S> | null) => void,
  ): void =>
    invoke<unknown>(handle, "get", [id], (error, value) => {
      if (error !== undefined && error !== null) {
        let record: null;
        try {
          record = unreadable(error, report);
        } catch (failure) {
          return done(failure ?? new Error("store.get failed"));
        }
        return done(undefined, record);
      }
      if (value === null || value === undefined) return done(undefined, null);
      // express-session's MemoryStore keeps each session as JSON text and parses it in get(): what it
      // hands out is plain JSON data made for this call, ours without a copy (issue 22).
      // Guarded: a store may call back from setImmediate, where a throw (a getter, a Proxy) is uncaught.
      let copied: unknown;
      try {
        if (parsedForUs(handle, id, value)) return done(undefined, recordOf(value as S, forCore));
        copied = typeof value === "string" ? undefined : jsonCopy(value, 0);
      } catch (failure) {
        return done(failure ?? new Error("reading the store's answer failed"));
      }
      if (copied === undefined)
        return void read(id, report, value).then(
          (record) => done(undefined, record),
          (failure: unknown) => done(failure ?? new Error("reading the store's answer failed")),
        );
      if (typeof copied !== "object" || copied === null || Array.isArray(copied)) {
        report(new TypeError(`the store's answer holds ${describeValue(copied)}, not a session object`));
        return done(undefined, null);
      }
      done(undefined, recordOf(copied as S, forCore));
    });

  const store: SessionStore<S> = {
    name: "memory",
    get: (id, { report, revision }) =>
      revision === false
        ? new Promise((resolve, reject) =>
            readCopyThen(id, report, false, (error, record) =>
              error === undefined ? resolve(record!) : reject(error),
            ),
          )
        : read(id, report),
  };
  // The core's callback read (see GET_THEN): not enumerable, so a spread of the store does not copy it,
  // and tied to this `get`, so a wrapper that replaces `get` (to count, cache...) is always called.
  Object.defineProperty(store, GET_THEN, {
    value: {
      get: store.get,
      read: (id: string, options: StoreGetOptions, done: (error: unknown, record?: SessionRecord<S> | null) => void) =>
        readCopyThen(id, options.report, true, done),
    },
  });
  if (typeof handle.set === "function") {
    // Written as a copy (forWriting), so a store that keeps objects (@fastify/session's) never keeps one the caller holds.
    store.compareAndSet = (id, revision, session, { signal }) =>
      serialized(handle, id, async () => {
        signal.throwIfAborted();
        const current = await read(id, () => {});
        if (current === null || current.revision !== revision) return false;
        signal.throwIfAborted();
        await call<void>(handle, "set", [id, forWriting(session)]);
        return true;
      });
  }
  return store;
}

/**
 * A failed `get`: null for a session that is missing (ENOENT) or unreadable (reported), else the
 * failure is thrown (an outage).
 */
function unreadable(error: unknown, report: (cause: unknown) => void): null {
  // session-file-store and friends report a missing session as ENOENT rather than (null, undefined).
  if ((error as { code?: unknown } | null)?.code === "ENOENT") return null;
  // MemoryStore and memorystore parse the stored JSON inside get(): a SyntaxError is an unreadable
  // session, not an outage (which clients would be told to retry). Its message quotes the stored
  // JSON, so it is reported as a SyntaxError of our own.
  if (error instanceof SyntaxError || (error as { name?: unknown } | null)?.name === "SyntaxError") {
    report(
      new SyntaxError(
        "the session the store holds is not valid JSON (the parser's message is left out: it quotes the stored bytes)",
      ),
    );
    return null;
  }
  throw error;
}

function validate(handle: unknown): void {
  const kind = driverKind(handle);
  if (kind === "function") {
    throw new TypeError(
      "memoryStore: `handle` is a function (express-session's middleware?); pass the store object given to session({ store }), e.g. the `new session.MemoryStore()` you created.",
    );
  }
  const driver =
    kind === "ioredis client" ||
    kind === "node-redis client" ||
    kind === "node-redis legacy client" ||
    kind === "callback redis client";
  const mongo = kind === "MongoClient" || kind === "Db" || kind === "Collection";
  if (
    kind === "class" ||
    kind === "promise" ||
    kind === "Map" ||
    driver ||
    mongo ||
    typeof (handle as { get?: unknown } | null)?.get !== "function"
  ) {
    const hint = driver
      ? "; for sessions in Redis use redisStore"
      : mongo
        ? "; for sessions in MongoDB use mongoStore"
        : "";
    throw new TypeError(
      `memoryStore: \`handle\` is ${describeGiven(handle)}; pass the express-session store object itself (the one given to session({ store })), which has get(sid, callback)${hint}.`,
    );
  }
}
