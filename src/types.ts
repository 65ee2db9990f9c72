import type { CookieSecret } from "./secrets.js";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { ExtendedError, Server, Socket } from "socket.io";
import type { KeygripAlgorithm, SigningScheme } from "./cookies.js";
import type { SessionAuthError, SessionAuthErrorCode } from "./errors.js";
import type { OriginPolicy } from "./origin.js";
import type { RoomNaming, RoomOptions } from "./rooms.js";
import type { SessionData, SessionStore } from "./store.js";

// The public shapes of the core entry: what `sessionAuth` takes, returns and puts on a socket. Types only,
// so every module can name them without importing the code that builds them.

/** What `authorize` and the rooms see of the handshake. */
export interface HandshakeInfo {
  headers: IncomingHttpHeaders;
  url: string;
  address: string | undefined;
  secure: boolean;
  query: Record<string, string | string[] | undefined>;
  /** socket.io's `auth` payload; only in the middleware (not in `allowRequest` or `authenticate`). */
  auth?: Record<string, unknown>;
}

export interface AuthorizeContext<S extends object = SessionData> {
  session: S;
  /** The identified user, or null for an anonymous session (with `allowAnonymous`). */
  userId: string | null;
  handshake: HandshakeInfo;
}

export interface SessionAuthOptions<S extends object = SessionData> {
  /** Where sessions live: `memoryStore(store)`, `redisStore(...)`, `mongoStore(...)`, `cookieStore(...)`. */
  store: SessionStore<S>;
  /**
   * The session middleware's secret(s): the first signs, every one verifies. Each a non-empty string, a
   * Buffer or a secret KeyObject, as the web app passes it (express-session ≥ 1.18 takes all three).
   * Required unless `signing: "none"` or the store declares its cookie's secrets (`store.cookie`).
   */
  secret?: CookieSecret | readonly CookieSecret[];
  /** Cookie name (default: the store's declared cookie, else `"connect.sid"`, express-session's). */
  name?: string;
  /** How the cookie is signed (default: the store's declared cookie's, else `"express"`). */
  signing?: SigningScheme;
  /** The keygrip HMAC (default `"sha1"`, as keygrip); only with `signing: "keygrip"`. */
  algorithm?: KeygripAlgorithm;
  /**
   * Which page origins may connect. Default: a request without `Origin`, or whose Origin's host equals
   * its `Host` header. A list accepts exactly those origins (and requests without `Origin`); a function decides.
   */
  origins?: OriginPolicy;
  /**
   * Who the session belongs to. Default: the first of `passport.user` (a string or number, or the `id` /
   * `_id` of an object Passport stored whole), `userId`, `user.id`, `user._id`, or `user` itself when it
   * is a string or number. Return a string, a safe integer (`Number.isSafeInteger`: larger numbers are
   * rounded and could name another user), a bigint, or null/undefined for "nobody". A store that knows
   * its sessions' shape (`store.identify`: Better Auth, Auth.js) replaces this default.
   */
  identify?: (session: S) => string | number | bigint | null | undefined;
  /** Accept sessions that identify nobody (default false: `UNAUTHENTICATED`). */
  allowAnonymous?: boolean;
  /**
   * Your own policy, after the session is known: resolve `true` to accept; anything else is `FORBIDDEN`.
   * Runs at the handshake and again at every re-read of the session (revalidation, `reload`, `update`).
   */
  authorize?: (context: AuthorizeContext<S>) => boolean | Promise<boolean>;
  /** Milliseconds a store call (lookup or write) may take before it counts as `STORE_UNAVAILABLE` (default 2000). */
  timeout?: number;
  /** Rooms joined on connect (default `{ user: "user:", session: "session:" }`); false to join none. */
  rooms?: RoomOptions | false;
  /** Sees every refused handshake, with a diagnosis in `message` and the underlying failure in `cause`. For logs. */
  onError?: (error: SessionAuthError, req: IncomingMessage) => void;
  /**
   * Milliseconds between periodic re-reads of each connected session (default 300 000: 5 minutes); false
   * for none. One read per session per node per interval, shared by all its sockets there, spread so that
   * sessions do not all re-read at once (the first comes between half an interval and one interval after
   * the handshake). Expiry re-checks, store events, `endSession`, `reload` and `update` work either way.
   */
  revalidate?: number | false;
  /**
   * Milliseconds a session's last good store read stands in for the read of a new handshake of that
   * session, or false for never. Default: 5 000 (5 s), with every store. Only ends this node knows of
   * win over it: `endSession`/`endUser` (the documented logout), a store event (`redisStore` with a
   * `subscriber`), a re-read. A logout over HTTP alone, with a store that reports no ends (memory,
   * MongoDB, PostgreSQL without its trigger), reaches neither the session's connected sockets nor a tab
   * opened within this time until the next re-read (`revalidate`): call `endSession` at logout, or set
   * false for a read per handshake. Only for a session this node already follows (a socket here): a reconnect storm after a deploy costs
   * one read per session, not one per tab, and a tab opened later than this reads again. The new socket
   * gets what its siblings trust, and ends reach it the same way; a session ended (`endSession`,
   * `endUser`, a store event, a re-read that found it over) after that read began is refused, never
   * accepted from it; `authorize` still runs for every socket, and each gets its own copy. Whatever this
   * says, handshakes of one session that arrive while its read is in flight share that read (an outage
   * refuses them all with `STORE_UNAVAILABLE`). DESIGN "Reconnect storms"; issue 22.
   */
  sharedReadMaxAge?: number | false;
  /**
   * The event a socket receives, with `{ code }`, just before the server ends it because its session
   * ended (default `"session:ended"`); false to send none (the socket is still disconnected).
   */
  endEvent?: string | false;
  /**
   * Server side, on the node that held the socket: called for every socket the lifecycle ended, after
   * its disconnect, with why (a {@link SessionAuthError}: `SESSION_NOT_FOUND`, `SESSION_EXPIRED`,
   * `UNAUTHENTICATED`, `FORBIDDEN`, or the code given to `endSession` / `endUser`). For logs.
   */
  onSessionEnd?: (error: SessionAuthError, socket: Socket) => void;
}

/**
 * What `sessionAuth` puts in `socket.data`: type your server with it,
 * `new Server<ClientEvents, ServerEvents, {}, SessionSocketData<MySession>>(http)`.
 */
export interface SessionSocketData<S extends object = SessionData> {
  /** This socket's own copy of the session (never an object the store, the web app or another socket holds); re-reads refresh it. */
  session: S;
  /** The identified user, or null for an anonymous session (with `allowAnonymous`). */
  userId: string | null;
}

/** A successful authentication. */
export interface AuthResult<S extends object = SessionData> {
  /** The raw session id: a bearer secret. Keep it server-side, out of logs. */
  sessionId: string;
  session: S;
  userId: string | null;
  /** Which entry of `secret` verified the cookie (0 = the current one; -1 with `signing: "none"`). Above 0 means an old secret is still in use. */
  secretIndex: number;
}

/**
 * What `auth.logout` needs of an HTTP request: express-session's `req.sessionID` and `req.session`,
 * and Passport's `req.logout` when Passport is installed. Structural, so neither is imported.
 */
export interface LogoutRequest {
  /** express-session's raw session id (`req.sessionID`). */
  sessionID?: unknown;
  /** express-session's session, destroyed when the request has no Passport `logout`. */
  session?: { destroy?: (callback: (err?: unknown) => void) => unknown } | null;
  /**
   * Passport's `req.logout`: `(done)` or `(options, done)` from 0.6 on, which regenerates the session (a new
   * `req.sessionID`); `()` before 0.6, synchronous.
   */
  logout?: (...args: never[]) => unknown;
}

/** The socket.io middleware, plus the same pipeline for the engine and for plain HTTP, plus the session lifecycle. */
export interface SessionAuth<S extends object = SessionData> {
  /** `io.use(auth)` or `io.of("/ns").use(auth)`. */
  (socket: Socket, next: (err?: ExtendedError) => void): void;
  /**
   * For `new Server(http, { allowRequest: auth.allowRequest })`: refuses at the engine, before any upgrade
   * or socket.io state. The middleware then reuses the result: one store lookup per connection.
   */
  allowRequest(req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void;
  /** The pipeline without socket.io: resolves the session or rejects with a {@link SessionAuthError}. */
  authenticate(req: IncomingMessage): Promise<AuthResult<S>>;
  /**
   * Ends every socket of the session `sessionId` (the raw id, e.g. express-session's `req.sessionID`; for
   * cookie-held sessions the cookie value, which the store's `canonicalId` maps to the session's one id,
   * so an iron seal ends the sockets of its edited-suffix copies too) on every node, through `io`'s adapter: each node sends `endEvent` with `{ code }` to its own sockets,
   * disconnects them and runs `onSessionEnd`. Resolves an {@link EndResult}: how many nodes confirmed (a
   * node cut off from the adapter catches up when it is back). Works with `rooms: false`.
   * `code` defaults to `"SESSION_NOT_FOUND"`. Throws a `TypeError` for an unknown code.
   */
  endSession(io: Server, sessionId: string, code?: SessionAuthErrorCode): Promise<EndResult>;
  /** As {@link endSession}, for every socket of a user (`code` defaults to `"UNAUTHENTICATED"`). */
  endUser(io: Server, userId: string | number, code?: SessionAuthErrorCode): Promise<EndResult>;
  /**
   * Logs an Express request out and ends the sockets of the session it had, on every node (as
   * {@link endSession}, `code` defaulting to `"SESSION_NOT_FOUND"`): `await auth.logout(io, req)` in the
   * logout route. It reads `req.sessionID` first, then calls Passport's `req.logout()` when Passport is
   * installed, else express-session's `req.session.destroy()`. Passport ≥ 0.6 regenerates the session at
   * logout, so `req.sessionID` read afterwards is the new, anonymous session's: this cannot take that id.
   * The sockets are ended even if the logout fails; the failure is then rethrown. Throws a `TypeError`
   * when the request has no `sessionID` (with another framework, read its id first and call `endSession`).
   */
  logout(io: Server, req: LogoutRequest, code?: SessionAuthErrorCode): Promise<EndResult>;
  /**
   * Re-reads the socket's session now. Resolves the fresh session (also put in `socket.data.session`);
   * rejects with the {@link SessionAuthError} that ended the socket when the session is over, or with
   * `STORE_UNAVAILABLE` during an outage (the socket stays), with `SOCKET_DISCONNECTED` when the socket
   * has disconnected (its tab closed). Throws a `TypeError` for a socket this `auth` never authenticated.
   */
  reload(socket: Socket): Promise<S>;
  /**
   * Changes the socket's session in the store, safely: re-reads it, runs `mutate` on that fresh copy
   * (it may be async), and writes it back only if the store still holds what was read (an atomic
   * compare-and-set in the store), keeping the store's TTL/expiry. Retried on conflict (5 attempts),
   * then rejects `SESSION_CONFLICT`. Resolves the saved session, also put in `socket.data.session` (every
   * socket of the session on this node gets a copy). Rejects a `TypeError` when the store cannot write
   * (cookie sessions), and like {@link reload} when the session is over or the store is down; rejects
   * `SOCKET_DISCONNECTED` when the socket disconnects before the write (nothing was written).
   */
  update(socket: Socket, mutate: (session: S) => void | Promise<void>): Promise<S>;
  /**
   * Wires the auth into a server at start, for every namespace: `io.use(auth)` on the main namespace and
   * on each namespace created after this call, the re-check of recovered sockets
   * (`connectionStateRecovery`) on all of them, and the listener of `endSession`/`endUser` from other
   * nodes, so a node checks the sockets it recovers even before its first handshake. Call it before
   * `io.of(...)` creates namespaces; returns `io`.
   */
  attach<T extends Server>(io: T): T;
  /** The room prefixes in force (the push router names rooms with them). */
  readonly rooms: RoomNaming;
  /**
   * Stops what runs by itself (re-read timers, the store subscription); connected sockets stay as they
   * are, and `endSession`, `endUser` and `reload`/`update` keep working (a draining server still honours
   * logouts).
   */
  close(): Promise<void>;
}

/**
 * What `endSession` / `endUser` could confirm. This node's sockets are ended before it resolves; each
 * other node ends its own when the adapter delivers the end, then confirms.
 *
 * - `nodes`: the socket.io nodes that should end their sockets, this one included: the adapter's count
 *   (`serverCount()`: Redis `PUBSUB NUMSUB`/`SHARDNUMSUB`, or heartbeats), where a drop is believed only
 *   once it has held for 10 s (a node cut off from Redis for a moment drops out of that count at once,
 *   and is still counted here). 1 with socket.io's in-memory adapter.
 * - `acknowledged`: the nodes that confirmed (this one included) within the adapter's request timeout
 *   (5 000 ms on socket.io's Redis adapters; `requestsTimeout` on `@socket.io/redis-adapter`'s classic one).
 * - `complete`: every node confirmed (`acknowledged === nodes`). `false` does not mean the end is lost: a
 *   node that was cut off catches up on the ends of the last 30 s when it hears this node again (about a
 *   second after its link is back) and ends its sockets then. It means this call could not confirm it:
 *   log it, alert, or call again (an end is idempotent).
 *
 * Resolves within the adapter's request timeout plus 1 s, whatever the adapter does (issue 18).
 */
export interface EndResult {
  readonly nodes: number;
  readonly acknowledged: number;
  readonly complete: boolean;
}
