import { isPromiseLike } from "socket.io-session-auth/adapter";

// How this adapter calls an express-session store: callback-style, whichever way the store answers, and
// its compareAndSets one at a time per session id.

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

// Per store object and session id, the tail of our pending compareAndSets: each waits for the one
// before, so two updates of ours never read the same revision and both write.
const queues = new WeakMap<object, Map<string, Promise<unknown>>>();

export function serialized<T>(handle: object, id: string, task: () => Promise<T>): Promise<T> {
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
export function call<T>(
  handle: ExpressSessionStoreLike,
  method: "get" | "set" | "destroy",
  args: unknown[],
): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    invoke<T>(handle, method, args, (err, value) => {
      if (err !== null && err !== undefined) reject(err);
      else resolve(value as T);
    }),
  );
}

/** {@link call} with a callback, called once: `(error)` or `(undefined, value)`. */
export function invoke<T>(
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
