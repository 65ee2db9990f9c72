import type { SessionRecord, SessionStore, StoreGetOptions } from "socket.io-session-auth";

// How the core calls a store, for the tests that call adapters directly.

/**
 * The callback read this package's adapters give the core (`Symbol.for("socket.io-session-auth.getThen")`,
 * internal): for tests of what those adapters hand the core on the handshake's path.
 */
export function getThen(store: SessionStore): {
  read(id: string, options: StoreGetOptions, done: (error: unknown, record?: SessionRecord | null) => void): void;
} {
  const internal = (store as unknown as Record<symbol, unknown>)[Symbol.for("socket.io-session-auth.getThen")];
  if (internal === undefined) throw new TypeError(`store "${store.name}" has no callback read`);
  return internal as ReturnType<typeof getThen>;
}

/** A signal that never aborts: what a store call gets when the test is not about aborting. */
export const signal = (): AbortSignal => new AbortController().signal;

/** `store.get`'s options as the core passes them; what the adapter reports (a cause) lands in `reports`. */
export const getOptions = (reports: unknown[] = []) => ({
  signal: signal(),
  report: (cause: unknown) => void reports.push(cause),
});

/**
 * A store for the conformance kit over one whose sessions are named by what the library wrote (a token,
 * a seal): `values` maps each kit id to that value (the harness's `write` fills it), and an id never
 * written is null without asking the store. `view` turns the library's record into the kit's session;
 * `cookieName` is passed on, as the core passes it to stores that declare their cookie.
 */
export function keptValueStore<R extends object, S extends object>(
  store: SessionStore<R>,
  view: (record: SessionRecord<R>) => S,
  cookieName?: string,
): { store: SessionStore<S>; values: Map<string, string> } {
  const values = new Map<string, string>();
  return {
    values,
    store: {
      name: store.name,
      get: async (id, options) => {
        const value = values.get(id);
        if (value === undefined) return null;
        const record = await store.get(value, cookieName === undefined ? options : { ...options, cookieName });
        return record === null ? null : { ...record, session: view(record) };
      },
    },
  };
}
