import type { IncomingMessage } from "node:http";
import type { ExtendedError, Server, Socket } from "socket.io";
import { validate, unreadUser, type Config, type HandshakeInfo, type SessionAuthOptions } from "./config.js";
import { createCookieReader, requestIsSecure } from "./cookies.js";
import { monotonicNow } from "./clock.js";
import { copySession } from "./copy.js";
import { isSessionAuthError, SessionAuthError, type SessionAuthErrorCode } from "./errors.js";
import { createGlue } from "./glue.js";
import { createLifecycle } from "./lifecycle.js";
import { log } from "./log.js";
import { createOriginCheck } from "./origin.js";
import { sessionKey, type RoomNaming } from "./rooms.js";
import type { SessionData, SessionRecord, StoreGetOptions } from "./store.js";

export { defaultIdentify } from "./config.js";
export type { AuthorizeContext, HandshakeInfo, SessionAuthOptions } from "./config.js";

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
   * Ends every socket of the session `sessionId` (the raw id, e.g. express-session's `req.sessionID`) on
   * every node, through `io`'s adapter: each node sends `endEvent` with `{ code }` to its own sockets,
   * disconnects them and runs `onSessionEnd`. Resolves once handed to the adapter. Works with `rooms: false`.
   * `code` defaults to `"SESSION_NOT_FOUND"`. Throws a `TypeError` for an unknown code.
   */
  endSession(io: Server, sessionId: string, code?: SessionAuthErrorCode): Promise<void>;
  /** As {@link endSession}, for every socket of a user (`code` defaults to `"UNAUTHENTICATED"`). */
  endUser(io: Server, userId: string | number, code?: SessionAuthErrorCode): Promise<void>;
  /**
   * Re-reads the socket's session now. Resolves the fresh session (also put in `socket.data.session`);
   * rejects with the {@link SessionAuthError} that ended the socket when the session is over, or with
   * `STORE_UNAVAILABLE` during an outage (the socket stays). Throws a `TypeError` for a socket this
   * `auth` did not authenticate.
   */
  reload(socket: Socket): Promise<S>;
  /**
   * Changes the socket's session in the store, safely: re-reads it, runs `mutate` on that fresh copy
   * (it may be async), and writes it back only if the store still holds what was read (an atomic
   * compare-and-set in the store), keeping the store's TTL/expiry. Retried on conflict (5 attempts),
   * then rejects `SESSION_CONFLICT`. Resolves the saved session, also put in `socket.data.session` (every
   * socket of the session on this node gets a copy). Rejects a `TypeError` when the store cannot write
   * (cookie sessions), and like {@link reload} when the session is over or the store is down.
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

/** A session read from the store and checked: what the lifecycle keeps of it. */
export interface Checked<S extends object> {
  session: S;
  userId: string | null;
  /** When the store says the session ends (ms since the epoch), or null when it does not say. */
  expires: number | null;
  revision: unknown;
  /** When the store read began (on {@link monotonicNow}'s clock): an end of the session after it may have been missed. */
  readAt: number;
  /** Which of the configured cookie names the session came from (handed to the store on re-reads). */
  cookieName?: string;
}

/** An accepted handshake: the public result plus what the lifecycle needs. */
export interface Accepted<S extends object> extends Checked<S> {
  result: AuthResult<S>;
  /** `sessionKey(result.sessionId)`: the public stand-in for the id, for the session room and the lifecycle. */
  key: string;
}

/** The pipeline, as the glue and the lifecycle use it. */
export interface Pipeline<S extends object> {
  readonly config: Config<S>;
  /** The whole handshake check; every refusal goes to `onError` and the debug log. */
  authenticate(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<Accepted<S>>;
  /** A re-read of a known session: lookup, expiry, identity (`authorize` is the caller's, per socket). */
  reread(sessionId: string, cookieName?: string): Promise<Checked<S>>;
  /** Expiry and identity of a record (throws the refusal). */
  check(record: SessionRecord<S>, readAt: number): Checked<S>;
  authorize(session: S, userId: string | null, handshake: HandshakeInfo): Promise<void>;
  /** `store.compareAndSet` under the same timeout as lookups. */
  write(sessionId: string, revision: unknown, session: S): Promise<boolean>;
}

/**
 * Builds the handshake authenticator: parse the Cookie header, verify its signature, look the session up
 * in `store`, check expiry, identify the user, apply `authorize`; on success the socket gets
 * `socket.data.session` and `socket.data.userId` and joins the user and session rooms. Then the socket
 * follows its session: see `revalidate`, `endEvent`, `onSessionEnd`, and the methods of the result.
 *
 * Throws a `TypeError` naming the option when the options are wrong.
 */
export function sessionAuth<S extends object = SessionData>(options: SessionAuthOptions<S>): SessionAuth<S> {
  const config = validate(options);
  const pipeline = createPipeline(config);
  const lifecycle = createLifecycle(pipeline);
  const glue = createGlue(pipeline, lifecycle);
  return Object.assign(glue.middleware as SessionAuth<S>, {
    allowRequest: glue.allowRequest,
    // A copy for the caller, as for a socket: never an object the store (or the web app) holds.
    authenticate: (req: IncomingMessage) =>
      pipeline.authenticate(req, undefined).then(({ result }) => ({ ...result, session: copySession(result.session) })),
    endSession: lifecycle.endSession,
    endUser: lifecycle.endUser,
    reload: lifecycle.reload,
    update: lifecycle.update,
    attach: glue.attach,
    rooms: config.rooms,
    close: () => lifecycle.close(),
  });
}

function createPipeline<S extends object>(config: Config<S>): Pipeline<S> {
  const { store, timeout, identify, allowAnonymous, authorize, onError } = config;
  const readCookie = createCookieReader(config);
  const checkOrigin = createOriginCheck(config.origins);

  async function authenticate(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<Accepted<S>> {
    try {
      const allowed = checkOriginSafely(req);
      if (allowed !== true && (allowed === false || !(await allowed))) {
        throw new SessionAuthError(
          "ORIGIN_NOT_ALLOWED",
          `Origin ${JSON.stringify(req.headers.origin)} may not connect (Host: ${JSON.stringify(req.headers.host)}). ` +
            "Pages on other origins need the `origins` option.",
        );
      }
      const { id, secretIndex, name } = readCookieExplained(req);
      const readAt = monotonicNow();
      const checked = check(
        await lookup(id, secretIndex < 0 ? "unsigned cookie" : `cookie verified by secret #${secretIndex}`, name),
        readAt,
      );
      checked.cookieName = name;
      if (authorize !== undefined) await applyAuthorize(checked.session, checked.userId, handshake ?? handshakeOf(req));
      return {
        ...checked,
        key: sessionKey(id),
        result: { sessionId: id, session: checked.session, userId: checked.userId, secretIndex },
      };
    } catch (error) {
      const refusal = isSessionAuthError(error)
        ? error
        : new SessionAuthError("FORBIDDEN", "Unexpected failure while authenticating; refused to stay safe.", {
            cause: error,
          });
      log("refused a handshake: %s (%s)%s", refusal.code, refusal.message, causeOf(refusal));
      if (onError !== undefined) {
        try {
          onError(refusal, req);
        } catch {
          // A throwing logger must not turn a refusal into a crash.
        }
      }
      throw refusal;
    }
  }

  function readCookieExplained(req: IncomingMessage) {
    try {
      return readCookie(req.headers.cookie, { secure: requestIsSecure(req) });
    } catch (error) {
      const site = crossSite(req);
      if (!isSessionAuthError(error) || error.code !== "NO_SESSION_COOKIE" || site === undefined) throw error;
      // A page on another site: the usual culprit is the cookie's SameSite attribute, not the client.
      throw new SessionAuthError(
        "NO_SESSION_COOKIE",
        `${error.message} The page is on another site (${site}): browsers send a cookie on a cross-site request only when it is ` +
          "`SameSite=None; Secure` (express-session's default leaves SameSite to the browser, which treats it as Lax), and the client " +
          'must connect with `withCredentials: true`. Serve the page and the socket from one site, or set the cookie `sameSite: "none", secure: true`.',
      );
    }
  }

  // Synchronous for lists and the default policy (the common case costs no promise); a function's
  // promise is awaited by the caller. Whatever throws or rejects refuses.
  function checkOriginSafely(req: IncomingMessage): boolean | Promise<boolean> {
    const fail = (cause: unknown): never => {
      throw new SessionAuthError("ORIGIN_NOT_ALLOWED", "The `origins` function threw; refused.", { cause });
    };
    try {
      const verdict = checkOrigin(req);
      return typeof verdict === "boolean" ? verdict : Promise.resolve(verdict).then((value) => value === true, fail);
    } catch (cause) {
      return fail(cause);
    }
  }

  async function lookup(id: string, verified: string, cookieName: string | undefined): Promise<SessionRecord<S>> {
    let reported: unknown;
    const record = await withTimeout(
      `Store "${store.name}"`,
      verified,
      (options) => store.get(id, cookieName === undefined ? options : Object.assign(options, { cookieName })),
      (cause) => void (reported ??= cause),
    );
    if (record === null || record === undefined) {
      throw new SessionAuthError(
        "SESSION_NOT_FOUND",
        reported === undefined
          ? `No session for this ${verified} in store "${store.name}" (logged out, expired, or written to another store).`
          : `The session in store "${store.name}" could not be read (${verified}); see \`cause\`.`,
        reported === undefined ? undefined : { cause: reported },
      );
    }
    if (typeof record !== "object" || typeof record.session !== "object" || record.session === null) {
      throw new SessionAuthError(
        "SESSION_NOT_FOUND",
        `Store "${store.name}" returned no session object (a store bug: get() must resolve { session } or null).`,
      );
    }
    return record;
  }

  // One store call under `timeout`, with an AbortSignal made only when the store reads it (in-process
  // stores never do, and cost nothing). Failures become STORE_UNAVAILABLE; a TypeError and its kin are
  // a misconfiguration (a callback-style client, a wrong object), which no retry fixes.
  async function withTimeout<T>(
    what: string,
    verified: string,
    call: (options: StoreGetOptions) => Promise<T>,
    report: (cause: unknown) => void = () => {},
  ): Promise<T> {
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const options: StoreGetOptions = {
      get signal() {
        return (controller ??= new AbortController()).signal;
      },
      report,
    };
    try {
      return await new Promise<T>((resolve, reject) => {
        timer = setTimeout(() => {
          controller?.abort(new Error(`timeout after ${timeout} ms`));
          reject(
            new SessionAuthError("STORE_UNAVAILABLE", `${what} did not answer within ${timeout} ms (${verified}).`),
          );
        }, timeout);
        try {
          Promise.resolve(call(options)).then(resolve, reject);
        } catch (error) {
          // A store that throws instead of rejecting lands in the catch below all the same.
          reject(error);
        }
      });
    } catch (cause) {
      if (isSessionAuthError(cause)) throw cause;
      const mistake = cause instanceof TypeError || cause instanceof RangeError || cause instanceof ReferenceError;
      throw new SessionAuthError(
        "STORE_UNAVAILABLE",
        mistake
          ? `${what} failed with a ${describeFailure(cause)} (${verified}): a misconfiguration or a bug, not an outage (a callback-style client, a wrong object?); see \`cause\`.`
          : `${what} failed: ${describeFailure(cause)} (${verified}).`,
        { cause, retryable: !mistake },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  function check(record: SessionRecord<S>, readAt: number): Checked<S> {
    const session = record.session;
    let expires: number | null = null;
    if (record.expires !== null && record.expires !== undefined) {
      expires = timeOf(record.expires);
      if (!(expires > Date.now())) {
        throw new SessionAuthError(
          "SESSION_EXPIRED",
          `The session expired (store "${store.name}"; its record ended ${formatDate(expires)}).`,
        );
      }
    }
    const userId = identifyUser(session);
    if (userId === null && !allowAnonymous) {
      const found = unreadUser(session);
      throw new SessionAuthError(
        "UNAUTHENTICATED",
        found === undefined
          ? "The session identifies no user (not logged in). Set `identify` if your app keeps the user elsewhere, or `allowAnonymous: true`."
          : `The session identifies no user the default way, though ${found}: pass \`identify: (session) => ...\` returning the user's id from it.`,
      );
    }
    return { session, userId, expires, revision: record.revision, readAt };
  }

  function identifyUser(session: S): string | null {
    let raw: unknown;
    try {
      raw = identify(session);
    } catch (cause) {
      throw new SessionAuthError("UNAUTHENTICATED", "The `identify` function threw; refused.", { cause });
    }
    if (raw === null || raw === undefined || raw === "") return null;
    if (typeof raw === "string") return raw;
    if (typeof raw === "bigint") return raw.toString();
    if (typeof raw === "number" && Number.isSafeInteger(raw)) return String(raw);
    if (typeof raw === "number") {
      // 12345678901234567890 arrives as 12345678901234567000: another user's room. Refuse, never round.
      throw new SessionAuthError(
        "UNAUTHENTICATED",
        `The user id is a number that is not a safe integer (${Number.isInteger(raw) ? "beyond 2^53, so rounded" : "not an integer"}): ` +
          "it could name another user. Keep such ids as strings, or return a string from `identify`.",
      );
    }
    throw new SessionAuthError(
      "UNAUTHENTICATED",
      `\`identify\` returned a ${typeof raw}; it must return a string, a number, or null.`,
    );
  }

  async function applyAuthorize(session: S, userId: string | null, handshake: HandshakeInfo): Promise<void> {
    let verdict: unknown;
    try {
      verdict = await authorize!({ session, userId, handshake });
    } catch (cause) {
      throw new SessionAuthError("FORBIDDEN", "The `authorize` function threw; refused.", { cause });
    }
    if (verdict !== true) throw new SessionAuthError("FORBIDDEN", "`authorize` did not resolve true.");
  }

  return {
    config,
    authenticate,
    reread: async (sessionId, cookieName) => {
      const readAt = monotonicNow();
      const checked = check(await lookup(sessionId, "re-read of a connected session", cookieName), readAt);
      checked.cookieName = cookieName;
      return checked;
    },
    check,
    authorize: (session, userId, handshake) =>
      authorize === undefined ? Promise.resolve() : applyAuthorize(session, userId, handshake),
    write: (sessionId, revision, session) => {
      const compareAndSet = store.compareAndSet!;
      return withTimeout(`Store "${store.name}" (compareAndSet)`, "write of a connected session", ({ signal }) =>
        compareAndSet.call(store, sessionId, revision, session, { signal }),
      ).then((written) => written === true);
    },
  };
}

/** `Origin`'s host when it is not the `Host` (another site, or at least another host), for the diagnosis. */
function crossSite(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (typeof origin !== "string" || typeof host !== "string") return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).hostname;
  } catch {
    return undefined;
  }
  const hostName = host.replace(/:\d+$/, "").toLowerCase();
  return originHost === hostName
    ? undefined
    : `Origin ${JSON.stringify(new URL(origin).host)}, Host ${JSON.stringify(host)}`;
}

export function handshakeOf(req: IncomingMessage): HandshakeInfo {
  const url = req.url ?? "/";
  const query: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of new URL(url, "http://x").searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return {
    headers: req.headers,
    url,
    address: req.socket?.remoteAddress,
    secure: Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted),
    query,
  };
}

export function describeFailure(cause: unknown): string {
  // The name and code of a driver error, not its message: messages can quote keys or commands.
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" || typeof code === "number" ? `${cause.name} ${code}` : cause.name;
  }
  return typeof cause;
}

/** For the debug log: the cause's name and code, never its message. */
export function causeOf(error: SessionAuthError): string {
  return error.cause === undefined ? "" : `; cause: ${describeFailure(error.cause)}`;
}

// `expires` as milliseconds: a Date (from any realm), or the ISO string or number a JavaScript adapter
// may hand back; anything else is NaN, which counts as expired (fail closed).
function timeOf(value: unknown): number {
  if (Object.prototype.toString.call(value) === "[object Date]") return (value as Date).getTime();
  if (typeof value === "string" || typeof value === "number") return new Date(value).getTime();
  return Number.NaN;
}

function formatDate(time: number): string {
  return Number.isNaN(time) ? "at an unreadable time" : `at ${new Date(time).toISOString()}`;
}
