import {
  describeGiven,
  describeValue,
  driverKind,
  isPromiseLike,
  readSession,
  type SessionData,
  type SessionRecord,
  type SessionStore,
  type StoreGetOptions,
} from "socket.io-session-auth/adapter";

type Callback<T> = (err?: unknown, value?: T) => void;

// Between sessionAuth's core and this package's adapters only: a read without a revision, answered
// through a callback, with no promise on the handshake's path (issue 22).
const GET_THEN = Symbol.for("socket.io-session-auth.getThen");
// Between sessionAuth's core and this package's adapters only (see src/copy.ts): a record of JSON data
// made for this read, which the core copies without looking for symbol keys (issue 22). Handed only to
// the core's callback read (GET_THEN), where no wrapper stands between; `get` returns plain records.
class JsonRecord<S extends object> implements SessionRecord<S> {
  constructor(
    public session: S,
    public expires: Date | null,
  ) {}
}
(JsonRecord.prototype as unknown as Record<symbol, boolean>)[Symbol.for("socket.io-session-auth.jsonRecord")] = true;

/** The callback express-session's `store.get` takes. */
export type SessionCallback = (err: unknown, session?: unknown) => void;
/** The callback express-session's `store.set` and `store.destroy` take. */
export type DoneCallback = (err?: unknown) => void;

/**
 * The part of an express-session store this adapter uses. Callback-style as express-session defines it;
 * stores that also return the value (synchronous ones) or a promise work too.
 */
export interface ExpressSessionStoreLike {
  get(sid: string, callback: SessionCallback): unknown;
  set?(sid: string, session: unknown, callback: DoneCallback): unknown;
  destroy?(sid: string, callback: DoneCallback): unknown;
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

  // `answered`: the store's answer, when the caller has it already.
  const read = async (
    id: string,
    report: (cause: unknown) => void,
    withRevision = true,
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
    // Without a revision (a handshake, a periodic re-read: only update() asks for one), plain JSON data
    // (what MemoryStore and memorystore hand out, parsed per call) costs one structural copy: no
    // stringify, no second parse (issue 22).
    const copied = withRevision || typeof value === "string" ? undefined : jsonCopy(value, 0);
    if (copied !== undefined) {
      if (typeof copied !== "object" || copied === null || Array.isArray(copied)) {
        report(new TypeError(`the store's answer holds ${describeValue(copied)}, not a session object`));
        return null;
      }
      return { session: copied as S, expires: expiryOf(copied) };
    }
    const revision = snapshot(value, report);
    if (revision === undefined) return null;
    // Parsed from the snapshot, so the record never holds an object the store keeps (@fastify/session's
    // MemoryStore hands out its live Session), at the price of one JSON.parse.
    const session = await readSession<S>(revision, report, { what: "the store's answer" });
    if (session === null) return null;
    return { session, expires: expiryOf(session), revision };
  };

  // Without a revision (a handshake, a periodic re-read): one copy, the store's callback straight into
  // the record, and no promise (issue 22: the handshake's hot path). `done` is called once.
  const readCopyThen = (
    id: string,
    report: (cause: unknown) => void,
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
        if (parsedForUs(handle, id, value)) return done(undefined, new JsonRecord(value as S, expiryOf(value)));
        copied = typeof value === "string" ? undefined : jsonCopy(value, 0);
      } catch (failure) {
        return done(failure ?? new Error("reading the store's answer failed"));
      }
      if (copied === undefined)
        return void read(id, report, false, value).then(
          (record) => done(undefined, record),
          (failure: unknown) => done(failure ?? new Error("reading the store's answer failed")),
        );
      if (typeof copied !== "object" || copied === null || Array.isArray(copied)) {
        report(new TypeError(`the store's answer holds ${describeValue(copied)}, not a session object`));
        return done(undefined, null);
      }
      done(undefined, new JsonRecord(copied as S, expiryOf(copied)));
    });

  const store: SessionStore<S> = {
    name: "memory",
    get: (id, { report, revision }) =>
      revision === false
        ? new Promise((resolve, reject) =>
            readCopyThen(id, report, (error, record) =>
              error === undefined ? resolve(plain(record!)) : reject(error),
            ),
          )
        : read(id, report, true),
  };
  // The core's callback read (see GET_THEN): not enumerable, so a spread of the store does not copy it,
  // and tied to this `get`, so a wrapper that replaces `get` (to count, cache...) is always called.
  Object.defineProperty(store, GET_THEN, {
    value: {
      get: store.get,
      read: (id: string, options: StoreGetOptions, done: (error: unknown, record?: SessionRecord<S> | null) => void) =>
        readCopyThen(id, options.report, done),
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

/**
 * The session as JSON text: what the store holds for a string answer, `JSON.stringify` of an object
 * answer (how express-session's stores serialize). The record's `revision`, compared by `compareAndSet`.
 */
function snapshot(value: unknown, report: (cause: unknown) => void): string | undefined {
  if (typeof value === "string") return value;
  try {
    const text = JSON.stringify(value);
    if (typeof text === "string") return text;
  } catch {
    // A cycle or a BigInt: reported below without the error, whose message could name session fields.
  }
  report(new TypeError(`the store answered ${describeValue(value)} that JSON cannot represent`));
  return undefined;
}

/**
 * A copy of plain JSON data (plain objects, arrays, strings, finite numbers, booleans, null), equal to
 * `JSON.parse(JSON.stringify(value))`; undefined for anything else (a class instance such as
 * @fastify/session's live Session, a Date, a toJSON, undefined, a function, a depth beyond 64), which
 * then takes the JSON round trip.
 */
function jsonCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "object" || depth > 64) return undefined;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = jsonCopy(value[i], depth + 1);
      if (item === undefined) return undefined;
      out[i] = item;
    }
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = jsonCopy((value as Record<string, unknown>)[key], depth + 1);
    if (item === undefined) return undefined;
    // An own "__proto__" (JSON.parse makes them) stays an own key, as the JSON round trip keeps it.
    if (key === "__proto__")
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out;
}

/**
 * Whether `value` is what express-session's MemoryStore (1.x) made for this call: it keeps each session
 * as JSON text in `sessions[id]` and answers `get` with `JSON.parse` of it, a new object each time that
 * nothing else holds. Any other store (memorystore, @fastify/session's MemoryStore, which hands out the
 * object it keeps, a wrapper) is copied. A plain object from a store still keeping that id as text.
 */
function parsedForUs(handle: ExpressSessionStoreLike, id: string, value: unknown): value is object {
  const kept = (handle as { sessions?: unknown }).sessions;
  return (
    typeof kept === "object" &&
    kept !== null &&
    typeof (kept as Record<string, unknown>)[id] === "string" &&
    typeof value === "object" &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/** A record as `get` returns it: the same fields, not the core's marked class. */
function plain<S extends object>(record: SessionRecord<S> | null): SessionRecord<S> | null {
  return record instanceof JsonRecord ? { session: record.session, expires: record.expires } : record;
}

function expiryOf(session: object): Date | null {
  const expires = (session as SessionData).cookie?.expires;
  if (typeof expires !== "string" && !(expires instanceof Date)) return null;
  const date = new Date(typeof expires === "string" ? isoTime(expires) : expires);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * `Date.parse(text)` in milliseconds (NaN when unreadable), reading the form `Date#toJSON` writes
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, ECMA-262 §21.4.1.32; what a session's `cookie.expires` is once the store
 * holds it as JSON) by hand: the store has just parsed the same string into a Date to check the expiry
 * (express-session 1.18 `MemoryStore#get`), and V8's general date parser costs a few thousand
 * instructions per handshake (issue 22). Anything else (another form, a day past the 28th, a year past
 * 9999) goes to `Date.parse`.
 */
function isoTime(text: string): number {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(23) !== 90 // Z
  )
    return Date.parse(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const ms = digits(text, 20, 3);
  // A part that is not all digits is -1; the ranges Date.parse accepts past these are left to it.
  if (
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 28 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    ms < 0
  )
    return Date.parse(text);
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** The decimal number in `text` at `start`, `count` digits long; -1 when one of them is not a digit. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant, "chrono-compatible low-level date algorithms"). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/**
 * A copy of `session` as plain JSON data, with express-session's `Cookie#maxAge` (ms until
 * `cookie.expires`, or null) as a non-enumerable getter: not serialized, yet read by stores that size
 * an entry from it (memorystore's `getTTL` reads `session.cookie.maxAge`), so the entry keeps its end.
 */
function forWriting(session: object): object {
  const copy = JSON.parse(JSON.stringify(session)) as SessionData;
  const cookie = copy.cookie;
  if (typeof cookie === "object" && cookie !== null) {
    const expires = expiryOf(copy);
    Object.defineProperty(cookie, "maxAge", {
      get: () => (expires === null ? null : expires.getTime() - Date.now()),
      enumerable: false,
      configurable: true,
    });
  }
  return copy;
}

// Per store object and session id, the tail of our pending compareAndSets: each waits for the one
// before, so two updates of ours never read the same revision and both write.
const queues = new WeakMap<object, Map<string, Promise<unknown>>>();

function serialized<T>(handle: object, id: string, task: () => Promise<T>): Promise<T> {
  let pending = queues.get(handle);
  if (pending === undefined) queues.set(handle, (pending = new Map()));
  const queue = pending;
  const previous = queue.get(id) ?? Promise.resolve();
  const run = previous.then(task, task);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queue.set(id, tail);
  void tail.then(() => {
    if (queue.get(id) === tail) queue.delete(id);
  });
  return run;
}

/**
 * Calls a callback-style store method, whichever way the store answers: through the callback (at once or
 * later), by returning a promise, or by returning the value synchronously without calling back.
 */
function call<T>(handle: ExpressSessionStoreLike, method: "get" | "set" | "destroy", args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    invoke<T>(handle, method, args, (err, value) => {
      if (err !== null && err !== undefined) reject(err);
      else resolve(value as T);
    }),
  );
}

/** {@link call} with a callback, called once: `(error)` or `(undefined, value)`. */
function invoke<T>(
  handle: ExpressSessionStoreLike,
  method: "get" | "set" | "destroy",
  args: unknown[],
  done: Callback<T>,
): void {
  let settled = false;
  const callback: Callback<T> = (err, value) => {
    if (settled) return;
    settled = true;
    done(err, value);
  };
  let returned: unknown;
  try {
    returned = (handle[method] as (...a: unknown[]) => unknown).call(handle, ...args, callback);
  } catch (error) {
    callback(error);
    return;
  }
  if (isPromiseLike(returned)) {
    returned.then(
      (value) => callback(undefined, value as T),
      (error: unknown) => callback(error ?? new Error(`store.${method} rejected`)),
    );
  } else if (
    method === "get" &&
    returned !== handle &&
    (returned === null || typeof returned === "object" || typeof returned === "string")
  ) {
    // A synchronous store that returns the session (or null for none) instead of calling back.
    callback(undefined, returned as T);
  }
}
