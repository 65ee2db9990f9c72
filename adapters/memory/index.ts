import { readSession, type SessionData, type SessionRecord, type SessionStore } from "socket.io-session-auth";

type Callback<T> = (err?: unknown, value?: T) => void;
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
 * `MemoryStore`, `memorystore`, or any store with `get(sid, callback)`. Pass the very object given to
 * `session({ store })`; the sharing is the point.
 *
 * Expiry is the store's to decide (MemoryStore checks `cookie.expires`, memorystore its LRU age): a
 * session it hands back is live.
 */
export function memoryStore<S extends object = SessionData>(handle: ExpressSessionStoreLike): SessionStore<S> {
  if (typeof handle !== "object" || handle === null || typeof handle.get !== "function") {
    throw new TypeError(
      "memoryStore: pass the express-session store object itself (the one given to session({ store })), which has get(sid, callback).",
    );
  }
  const store: SessionStore<S> = {
    name: "memory",
    async get(id, { report }): Promise<SessionRecord<S> | null> {
      let value: unknown;
      try {
        value = await call<unknown>(handle, "get", [id]);
      } catch (error) {
        // session-file-store and friends report a missing session as ENOENT rather than (null, undefined).
        if ((error as { code?: unknown } | null)?.code === "ENOENT") return null;
        // MemoryStore and memorystore parse the stored JSON inside get(): a SyntaxError is an unreadable
        // session, not an outage (which clients would be told to retry).
        if (error instanceof SyntaxError) {
          report(error);
          return null;
        }
        throw error;
      }
      if (value === null || value === undefined) return null;
      const session = await readSession<S>(value, report, { what: "the store's answer" });
      return session === null ? null : { session, expires: null };
    },
  };
  if (typeof handle.set === "function") store.set = (id, session) => call<void>(handle, "set", [id, session]);
  if (typeof handle.destroy === "function") store.destroy = (id) => call<void>(handle, "destroy", [id]);
  return store;
}

/**
 * Calls a callback-style store method, whichever way the store answers: through the callback (at once or
 * later), by returning a promise, or by returning the value synchronously without calling back.
 */
function call<T>(handle: ExpressSessionStoreLike, method: "get" | "set" | "destroy", args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const callback: Callback<T> = (err, value) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(value as T);
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
    } else if (method === "get" && returned !== handle && (returned === null || typeof returned === "object" || typeof returned === "string")) {
      // A synchronous store that returns the session (or null for none) instead of calling back.
      callback(undefined, returned as T);
    }
  });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
