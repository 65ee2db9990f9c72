import type { KeyObject } from "node:crypto";
import type { SigningScheme } from "./cookies.js";

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
  /**
   * `false` when the caller will not write this record back (a handshake, a periodic re-read): the store
   * may then leave `revision` out and save the work of making it (the memory adapter's JSON text; issue
   * 22). Absent or `true`: give the revision as usual. Only `auth.update()`'s re-read asks for it.
   */
  revision?: boolean;
  /**
   * Which cookie name the value came from, when the store declares several ({@link StoreCookie.names}):
   * Auth.js derives its key with the cookie name as salt. Also given on re-reads of a connected session.
   */
  cookieName?: string;
}

/**
 * The cookie a session library fixes, declared by its store so that wiring is one line (issue 19;
 * contract shared with the Better Auth, Auth.js and iron-session stores). `sessionAuth`'s own `name`,
 * `signing` and `secret` win when given; otherwise these apply.
 */
export interface StoreCookie {
  /**
   * Cookie names to try, in order; the first present in the header is read (e.g.
   * `["__Secure-authjs.session-token", "authjs.session-token"]`). When none is present the refusal
   * names them all, and says when a `__Secure-`/`__Host-` name was expected over plain http, or the
   * other name of the pair came.
   */
  readonly names: readonly string[];
  /**
   * How the value is signed: a {@link SigningScheme} the core verifies in constant time before any
   * lookup (`"better-auth"`: `<token>.<base64 HMAC-SHA256(token)>`, URL-encoded), or `"none"` when
   * `get()` verifies the value itself (an encrypted JWT, an iron seal): it then receives the raw cookie
   * value, chunks joined, URL-decoded.
   */
  readonly signing: SigningScheme;
  /** The keys that verify the signature (the first signs), when `signing` is not `"none"`. */
  readonly secrets?: readonly (string | Buffer | KeyObject)[];
  /**
   * Chunked cookies (Auth.js, iron-session v9): when `<name>` is absent, `<name>.0`, `<name>.1`, … are
   * read in index order and joined. At most 16 chunks and 64 KB in all; a missing chunk, a chunk
   * numbered 16 or more, or too long a value is `MALFORMED_COOKIE`, naming the missing chunk.
   */
  readonly chunked?: boolean;
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
  /**
   * Why `auth.update()` cannot write this store's sessions back, and what to do instead (optional, for a
   * store without `compareAndSet`): one or two sentences the core puts in the `TypeError` that `update`
   * throws, e.g. "The session lives in the browser's cookie: ...". Never a secret.
   */
  readonly updateUnsupported?: string;
  /**
   * Live revocation (optional): calls `onDestroyed(id, reason)` whenever a session is destroyed or
   * expires, by anyone, on every node (each node subscribes for itself); `sessionAuth` then ends that
   * session's sockets on this node (`SESSION_EXPIRED` for `"expired"`, else `SESSION_NOT_FOUND`).
   * Returns the unsubscribe function. Must not throw for an outage: keep trying and call back once the
   * subscription works again.
   */
  subscribe?(onDestroyed: (id: string, reason?: "destroyed" | "expired") => void): () => void;
  /** The cookie this store's session library writes, so `sessionAuth({ store })` needs no `name`/`signing`/`secret`. */
  readonly cookie?: StoreCookie;
  /**
   * Who a session of this store belongs to, used when `sessionAuth()` is given no `identify`
   * (Better Auth: `session.userId`; Auth.js JWT: `sub`). Same return rules as `identify`.
   */
  identify?(session: S): string | number | bigint | null | undefined;
  /**
   * The one id of a session that several cookie values stand for (optional; default: the value itself).
   * For formats where part of the value is outside what the library verifies, so that an edited value
   * still reads as the same session: iron-session ignores what follows its seal's `~` (the `~2` version
   * suffix, outside the seal's HMAC), so its store answers the seal with the `~2` iron-session writes.
   * The core calls it on the verified cookie value (chunks joined, URL-decoded) before `get`, and on the
   * id given to `auth.endSession`, so every value of a session reaches one session key, one session room
   * and one lifecycle entry; `get` receives what it returns. Pure, synchronous and cheap (it runs before
   * every lookup, on any value a client sends) and idempotent (an id it returned maps to itself): return
   * a non-empty string, the value unchanged when it is not of the store's format (then `get` refuses it). A throw or another result refuses the handshake
   * (`MALFORMED_COOKIE`).
   */
  canonicalId?(id: string): string;
  /** Releases what the store opened itself (never a client it was given). */
  close?(): Promise<void>;
}

/**
 * `store.canonicalId(id)` checked (a non-empty string), or `id` when the store has none. Throws a
 * `TypeError` naming the store when the hook throws or answers something else.
 */
export function canonicalSessionId(store: Pick<SessionStore<object>, "name" | "canonicalId">, id: string): string {
  if (typeof store.canonicalId !== "function") return id;
  let canonical: unknown;
  try {
    canonical = store.canonicalId(id);
  } catch (cause) {
    throw new TypeError(`Store "${store.name}": canonicalId() threw.`, { cause });
  }
  if (typeof canonical !== "string" || canonical === "") {
    throw new TypeError(`Store "${store.name}": canonicalId() must return a non-empty string.`);
  }
  return canonical;
}
