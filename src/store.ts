/**
 * The session object as express-session writes it. Apps add their own keys next to `cookie`;
 * give `sessionAuth` your own type to see them typed.
 */
export interface SessionData {
  /** Where Passport keeps the logged-in user (what its `serializeUser` returned). */
  passport?: { user?: string | number };
  cookie?: {
    originalMaxAge?: number | null;
    expires?: string | Date | null;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** What a store hands back for one session id. */
export interface SessionRecord<S extends object = SessionData> {
  /** The session object as the web app wrote it. */
  session: S;
  /**
   * When the store says this session ends, taken from wherever that store keeps the truth (the Redis
   * TTL, connect-mongo's top-level `expires`, koa-session's `_expire`...). `null` or absent: the store
   * knows of no expiry, or enforces it itself. The core refuses a record whose `expires` has passed.
   */
  expires?: Date | null;
  /**
   * The version of the stored session this record was read from, for {@link SessionStore.compareAndSet}:
   * opaque to the core, which hands it back unchanged (the stored JSON text for Redis, the `session`
   * field for connect-mongo, the serialized session for in-process stores). Absent when the store has
   * no `compareAndSet`.
   */
  revision?: unknown;
}

/** Passed to every {@link SessionStore.compareAndSet} call. */
export interface CompareAndSetOptions {
  /** Aborted when the core's `timeout` passes; the write is then reported `STORE_UNAVAILABLE`. */
  signal: AbortSignal;
}

/** Passed to every {@link SessionStore.get} call. */
export interface StoreGetOptions {
  /**
   * Aborted when the lookup's `timeout` passes (the handshake is already refused by then with
   * `STORE_UNAVAILABLE`). Pass it to the driver where it takes one, or stop waiting on it.
   */
  signal: AbortSignal;
  /**
   * Call before resolving `null` for a session that exists but cannot be read (bad JSON, a wrong
   * shape): the cause reaches the server's `onError` attached to the `SESSION_NOT_FOUND` refusal.
   */
  report(cause: unknown): void;
}

/**
 * Where sessions live. Only `name` and `get` are required.
 *
 * `get` resolves `null` for a missing or unreadable session and rejects only when the store itself fails
 * (connection refused, timeout, driver error): a rejection becomes `STORE_UNAVAILABLE`, which clients may
 * retry. Never reject for "not found".
 */
export interface SessionStore<S extends object = SessionData> {
  /** Short and human: appears in server-side error messages ("redis", "memory"...). */
  readonly name: string;
  /**
   * What a lookup reads, for the SESSION_NOT_FOUND diagnosis (optional): the key prefix, collection or
   * table, e.g. `keys "sess:<id>"`, so a wrong one reads as one (issue 18 item 9). Never a secret or an id.
   */
  readonly where?: string;
  /** Looks a session up by its id (for cookie sessions: by the verified cookie value). */
  get(id: string, options: StoreGetOptions): Promise<SessionRecord<S> | null>;
  /**
   * The atomic write-back behind `auth.update()` (optional): store `session` under `id` only if the store
   * still holds the version `revision` (from the record `get` returned), in one atomic step of the store
   * (a Lua script on Redis, a filtered update on MongoDB, compare-then-set inside the process for an
   * in-process store). Serialize exactly as the web app's own store library does, and keep the stored
   * expiry (TTL, `expires`) as it was: never recompute it.
   *
   * Resolves `true` when written, `false` when the stored session changed since `revision` or is gone
   * (the core then reads again and retries). Rejects only when the store itself fails.
   */
  compareAndSet?(id: string, revision: unknown, session: S, options: CompareAndSetOptions): Promise<boolean>;
  /** Writes a session back (optional). */
  set?(id: string, session: S): Promise<void>;
  /** Deletes a session (optional). */
  destroy?(id: string): Promise<void>;
  /**
   * Live revocation (optional): calls `onDestroyed(id, reason)` whenever a session is destroyed or
   * expires, by anyone, on every node (each node subscribes for itself); `sessionAuth` then ends that
   * session's sockets on this node (`SESSION_EXPIRED` for `"expired"`, else `SESSION_NOT_FOUND`).
   * Returns the unsubscribe function. Must not throw for an outage: keep trying and call back once the
   * subscription works again.
   */
  subscribe?(onDestroyed: (id: string, reason?: "destroyed" | "expired") => void): () => void;
  /** Releases what the store opened itself (never a client it was given). */
  close?(): Promise<void>;
}
