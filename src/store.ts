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
  /** Looks a session up by its id (for cookie sessions: by the verified cookie value). */
  get(id: string, options: StoreGetOptions): Promise<SessionRecord<S> | null>;
  /** Writes a session back (optional). */
  set?(id: string, session: S): Promise<void>;
  /** Deletes a session (optional). */
  destroy?(id: string): Promise<void>;
  /**
   * Live revocation (optional): calls `onDestroyed(id)` whenever a session is destroyed, by anyone;
   * `sessionAuth` then disconnects that session's sockets. Returns the unsubscribe function.
   */
  subscribe?(onDestroyed: (id: string) => void): () => void;
  /** Releases what the store opened itself (never a client it was given). */
  close?(): Promise<void>;
}
