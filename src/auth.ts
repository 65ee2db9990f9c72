import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { ExtendedError, Namespace, Socket } from "socket.io";
import {
  createCookieReader,
  KEYGRIP_ALGORITHMS,
  SIGNING_SCHEMES,
  type KeygripAlgorithm,
  type SigningScheme,
} from "./cookies.js";
import { isSessionAuthError, SessionAuthError, type SessionAuthErrorCode } from "./errors.js";
import { rejectUnknownOptions } from "./options.js";
import { createOriginCheck, type OriginPolicy } from "./origin.js";
import { resolveRooms, sessionKey, type RoomNaming, type RoomOptions } from "./rooms.js";
import type { SessionData, SessionRecord, SessionStore, StoreGetOptions } from "./store.js";

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
  /** The session middleware's secret(s): the first signs, every one verifies. Required unless `signing: "none"`. */
  secret?: string | readonly string[];
  /** Cookie name (default `"connect.sid"`, express-session's). */
  name?: string;
  /** How the cookie is signed (default `"express"`). */
  signing?: SigningScheme;
  /** The keygrip HMAC (default `"sha1"`, as keygrip); only with `signing: "keygrip"`. */
  algorithm?: KeygripAlgorithm;
  /**
   * Which page origins may connect. Default: a request without `Origin`, or whose Origin's host equals
   * its `Host` header. A list accepts exactly those origins (and requests without `Origin`); a function decides.
   */
  origins?: OriginPolicy;
  /**
   * Who the session belongs to. Default: the first of `passport.user`, `userId`, `user.id`, `user._id`,
   * or `user` itself when it is a string or number. Return null/undefined for "nobody".
   */
  identify?: (session: S) => string | number | null | undefined;
  /** Accept sessions that identify nobody (default false: `UNAUTHENTICATED`). */
  allowAnonymous?: boolean;
  /** Your own policy, after the session is known: resolve `true` to accept; anything else is `FORBIDDEN`. */
  authorize?: (context: AuthorizeContext<S>) => boolean | Promise<boolean>;
  /** Milliseconds the store lookup may take before the handshake is refused with `STORE_UNAVAILABLE` (default 2000). */
  timeout?: number;
  /** Rooms joined on connect (default `{ user: "user:", session: "session:" }`); false to join none. */
  rooms?: RoomOptions | false;
  /** Sees every refusal, with a diagnosis in `message` and the underlying failure in `cause`. For logs. */
  onError?: (error: SessionAuthError, req: IncomingMessage) => void;
}

/**
 * What `sessionAuth` puts in `socket.data`: type your server with it,
 * `new Server<ClientEvents, ServerEvents, {}, SessionSocketData<MySession>>(http)`.
 */
export interface SessionSocketData<S extends object = SessionData> {
  /** The session object, as the store returned it. */
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

/** The socket.io middleware, plus the same pipeline for the engine and for plain HTTP. */
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
  /** The room prefixes in force (the push router names rooms with them). */
  readonly rooms: RoomNaming;
  /** Stops live revocation (the store subscription), if the store offered one. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 2000;
// How long after `allowRequest` the namespaces of that connection may reuse its result. Clients connect
// their namespaces right after the handshake; a namespace joined later is checked afresh.
const PREAUTHORIZED_REUSE_MS = 10_000;
const MAX_TIMEOUT_MS = 2_147_483_647; // setTimeout's limit
const KNOWN_OPTIONS = new Set([
  "store", "secret", "name", "signing", "algorithm", "origins", "identify", "allowAnonymous",
  "authorize", "timeout", "rooms", "onError",
]);
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 6265 token

type ClientError = ExtendedError & { data: { code: SessionAuthErrorCode; retryable: boolean } };

/**
 * Builds the handshake authenticator: parse the Cookie header, verify its signature, look the session up
 * in `store`, check expiry, identify the user, apply `authorize`; on success the socket gets
 * `socket.data.session` and `socket.data.userId` and joins the user and session rooms.
 *
 * Throws a `TypeError` naming the option when the options are wrong.
 */
export function sessionAuth<S extends object = SessionData>(options: SessionAuthOptions<S>): SessionAuth<S> {
  const config = validate(options);
  const { store, timeout, rooms, identify, allowAnonymous, authorize, onError } = config;
  const readCookie = createCookieReader(config);
  const checkOrigin = createOriginCheck(options.origins);

  // Results of `allowRequest`, for the middleware of the same connection (all its namespaces) to reuse.
  const preauthorized = new WeakMap<IncomingMessage, { result: AuthResult<S>; at: number }>();
  const authenticated = new WeakSet<Socket>();
  const watched = new WeakSet<Namespace>();
  // For live revocation: the namespaces with sockets of ours (pruned when empty, so dynamic namespaces
  // can be collected), and the sockets by session key when no session room is joined.
  const revocable = new Set<Namespace>();
  const bySession = rooms.session === null && store.subscribe !== undefined ? new Map<string, Set<Socket>>() : undefined;
  let unsubscribe: (() => void) | undefined;

  async function run(req: IncomingMessage, handshake: HandshakeInfo | undefined): Promise<AuthResult<S>> {
    try {
      const allowed = checkOriginSafely(req);
      if (allowed !== true && (allowed === false || !(await allowed))) {
        throw new SessionAuthError(
          "ORIGIN_NOT_ALLOWED",
          `Origin ${JSON.stringify(req.headers.origin)} may not connect (Host: ${JSON.stringify(req.headers.host)}). ` +
            "Pages on other origins need the `origins` option.",
        );
      }
      const { id, secretIndex } = readCookie(req.headers.cookie);
      const record = await lookup(id, secretIndex);
      const session = record.session;
      if (record.expires !== null && record.expires !== undefined && !(timeOf(record.expires) > Date.now())) {
        throw new SessionAuthError("SESSION_EXPIRED", `The session expired (store "${store.name}"; its record ended ${formatDate(record.expires)}).`);
      }
      const userId = identifyUser(session);
      if (userId === null && !allowAnonymous) {
        throw new SessionAuthError(
          "UNAUTHENTICATED",
          "The session identifies no user (not logged in). Set `identify` if your app keeps the user elsewhere, or `allowAnonymous: true`.",
        );
      }
      if (authorize !== undefined) await applyAuthorize(session, userId, handshake ?? handshakeOf(req));
      return { sessionId: id, session, userId, secretIndex };
    } catch (error) {
      const refusal = isSessionAuthError(error)
        ? error
        : new SessionAuthError("FORBIDDEN", "Unexpected failure while authenticating; refused to stay safe.", { cause: error });
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

  async function lookup(id: string, secretIndex: number): Promise<SessionRecord<S>> {
    // Only the refusals below need this wording.
    const verified = (): string => (secretIndex < 0 ? "unsigned cookie" : `cookie verified by secret #${secretIndex}`);
    // Made on first read of `signal`: stores that never look at it (in-process ones) cost nothing.
    let controller: AbortController | undefined;
    let reported: unknown;
    let timer: NodeJS.Timeout | undefined;
    const options: StoreGetOptions = {
      get signal() {
        return (controller ??= new AbortController()).signal;
      },
      report: (cause) => void (reported ??= cause),
    };
    let record: SessionRecord<S> | null;
    try {
      record = await new Promise<SessionRecord<S> | null>((resolve, reject) => {
        timer = setTimeout(() => {
          controller?.abort(new Error(`timeout after ${timeout} ms`));
          reject(new SessionAuthError("STORE_UNAVAILABLE", `Store "${store.name}" did not answer within ${timeout} ms (${verified()}).`));
        }, timeout);
        // A store that throws instead of rejecting lands in the catch below all the same.
        Promise.resolve(store.get(id, options)).then(resolve, reject);
      });
    } catch (cause) {
      if (isSessionAuthError(cause)) throw cause;
      throw new SessionAuthError("STORE_UNAVAILABLE", `Store "${store.name}" failed: ${describeFailure(cause)} (${verified()}).`, { cause });
    } finally {
      clearTimeout(timer);
    }
    if (record === null || record === undefined) {
      throw new SessionAuthError(
        "SESSION_NOT_FOUND",
        reported === undefined
          ? `No session for this ${verified()} in store "${store.name}" (logged out, expired, or written to another store).`
          : `The session in store "${store.name}" could not be read (${verified()}); see \`cause\`.`,
        reported === undefined ? undefined : { cause: reported },
      );
    }
    if (typeof record !== "object" || typeof record.session !== "object" || record.session === null) {
      throw new SessionAuthError("SESSION_NOT_FOUND", `Store "${store.name}" returned no session object (a store bug: get() must resolve { session } or null).`);
    }
    return record;
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
    if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
    throw new SessionAuthError("UNAUTHENTICATED", `\`identify\` returned a ${typeof raw}; it must return a string, a number, or null.`);
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

  function roomsOf(result: AuthResult<S>): string[] {
    const joined: string[] = [];
    if (rooms.user !== null && result.userId !== null) joined.push(rooms.user + result.userId);
    if (rooms.session !== null) joined.push(rooms.session + sessionKey(result.sessionId));
    return joined;
  }

  function admit(socket: Socket, result: AuthResult<S>): void {
    authenticated.add(socket);
    socket.data.session = result.session;
    socket.data.userId = result.userId;
    const joined = roomsOf(result);
    if (joined.length > 0) void socket.join(joined);
    if (bySession !== undefined) {
      const key = sessionKey(result.sessionId);
      const sockets = bySession.get(key) ?? new Set<Socket>();
      bySession.set(key, sockets.add(socket));
      socket.once("disconnect", () => {
        sockets.delete(socket);
        if (sockets.size === 0 && bySession.get(key) === sockets) bySession.delete(key);
      });
    }
  }

  function revoke(id: string): void {
    const key = sessionKey(id);
    if (bySession !== undefined) {
      for (const socket of bySession.get(key) ?? []) socket.disconnect();
      return;
    }
    for (const nsp of revocable) {
      if (nsp.sockets.size === 0) revocable.delete(nsp);
      else nsp.local.in(rooms.session + key).disconnectSockets();
    }
  }

  function watch(nsp: Namespace): void {
    if (store.subscribe !== undefined) {
      revocable.add(nsp);
      if (unsubscribe === undefined) {
        try {
          unsubscribe = store.subscribe(revoke);
        } catch (cause) {
          // Not a refusal: the handshake goes on, and the next one tries to subscribe again.
          process.emitWarning(`socket.io-session-auth: store "${store.name}" failed to subscribe (${describeFailure(cause)}); live revocation is off until it succeeds.`);
        }
      }
    }
    if (watched.has(nsp)) return;
    watched.add(nsp);
    // socket.io lets a recovered socket (connectionStateRecovery) skip middlewares: a session destroyed
    // during the blip would come back unchecked. Check those again with their new handshake's cookie.
    nsp.prependListener("connection", (socket: Socket) => {
      if (socket.recovered && !authenticated.has(socket)) recheck(socket);
    });
  }

  function recheck(socket: Socket): void {
    const previousUser: unknown = socket.data?.userId ?? null;
    let verdict: boolean | undefined;
    const held: Array<() => void> = [];
    // Hold the client's events until the session is confirmed.
    socket.use((_packet, next) => {
      if (verdict === true) next();
      else if (verdict === undefined) held.push(() => next());
    });
    const refuse = () => {
      verdict = false;
      held.length = 0;
      socket.disconnect();
    };
    run(socket.request, socket.handshake).then((result) => {
      if (!socket.connected) return;
      // Another user's cookie: the restored rooms and data belong to someone else. Start afresh.
      if (result.userId !== previousUser) return refuse();
      if (rooms.session !== null) for (const room of socket.rooms) if (room.startsWith(rooms.session)) void socket.leave(room);
      admit(socket, result);
      verdict = true;
      for (const release of held.splice(0)) release();
    }, refuse);
  }

  const middleware = ((socket: Socket, next: (err?: ExtendedError) => void): void => {
    watch(socket.nsp);
    const ready = preauthorized.get(socket.request);
    if (ready !== undefined && Date.now() - ready.at < PREAUTHORIZED_REUSE_MS) {
      admit(socket, ready.result);
      next();
      return;
    }
    run(socket.request, socket.handshake).then(
      (result) => {
        admit(socket, result);
        next();
      },
      (error: SessionAuthError) => next(clientError(error.code)),
    );
  }) as SessionAuth<S>;

  const allowRequest: SessionAuth<S>["allowRequest"] = (req, callback) => {
    run(req, undefined).then(
      (result) => {
        preauthorized.set(req, { result, at: Date.now() });
        callback(null, true);
      },
      (error: SessionAuthError) => callback(error.code, false),
    );
  };

  return Object.assign(middleware, {
    allowRequest,
    authenticate: (req: IncomingMessage) => run(req, undefined),
    rooms,
    close: () => {
      unsubscribe?.();
      unsubscribe = undefined;
    },
  });
}

// What a refused socket.io client receives: the code and whether to retry, nothing else. One frozen
// instance per code: no stack to capture on a path an attacker can drive.
const CLIENT_ERRORS = new Map<SessionAuthErrorCode, ClientError>();
function clientError(code: SessionAuthErrorCode): ClientError {
  let error = CLIENT_ERRORS.get(code);
  if (error === undefined) {
    error = Object.assign(new Error(code), { data: Object.freeze({ code, retryable: code === "STORE_UNAVAILABLE" }) });
    error.stack = `Error: ${code}`;
    CLIENT_ERRORS.set(code, Object.freeze(error));
  }
  return error;
}

function handshakeOf(req: IncomingMessage): HandshakeInfo {
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

function own(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

function asId(value: unknown): string | number | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  // A BSON ObjectId (connect-mongo with `stringify: false`).
  if (typeof value === "object" && value !== null && typeof (value as { toHexString?: unknown }).toHexString === "function") {
    return (value as { toHexString(): string }).toHexString();
  }
  return undefined;
}

/** The default `identify`: passport, then the common hand-rolled shapes. */
export function defaultIdentify(session: object): string | number | undefined {
  const user = own(session, "user");
  return (
    asId(own(own(session, "passport"), "user")) ??
    asId(own(session, "userId")) ??
    asId(own(user, "id")) ??
    asId(own(user, "_id")) ??
    (typeof user === "string" || typeof user === "number" ? asId(user) : undefined)
  );
}

function describeFailure(cause: unknown): string {
  // The name and code of a driver error, not its message: messages can quote keys or commands.
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" || typeof code === "number" ? `${cause.name} ${code}` : cause.name;
  }
  return typeof cause;
}

// `expires` as milliseconds: a Date (from any realm), or the ISO string or number a JavaScript adapter
// may hand back; anything else is NaN, which counts as expired (fail closed).
function timeOf(value: unknown): number {
  if (Object.prototype.toString.call(value) === "[object Date]") return (value as Date).getTime();
  if (typeof value === "string" || typeof value === "number") return new Date(value).getTime();
  return Number.NaN;
}

function formatDate(value: unknown): string {
  const time = timeOf(value);
  return Number.isNaN(time) ? "at an unreadable time" : `at ${new Date(time).toISOString()}`;
}

interface Config<S extends object> {
  store: SessionStore<S>;
  name: string;
  signing: SigningScheme;
  secrets: readonly string[];
  algorithm: KeygripAlgorithm;
  timeout: number;
  rooms: RoomNaming;
  identify: (session: S) => unknown;
  allowAnonymous: boolean;
  authorize: SessionAuthOptions<S>["authorize"];
  onError: SessionAuthOptions<S>["onError"];
}

function validate<S extends object>(options: SessionAuthOptions<S>): Config<S> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("sessionAuth: pass an options object, e.g. sessionAuth({ store, secret }).");
  }
  rejectUnknownOptions("sessionAuth", options, KNOWN_OPTIONS, { hints: { secrets: "secret", keys: "secret", cookieName: "name", key: "name" } });
  const {
    store,
    secret,
    name = "connect.sid",
    signing = "express",
    algorithm,
    identify = defaultIdentify,
    allowAnonymous = false,
    authorize,
    timeout = DEFAULT_TIMEOUT_MS,
    rooms,
    onError,
  } = options;

  if (typeof store !== "object" || store === null || typeof store.get !== "function" || typeof store.name !== "string") {
    throw new TypeError(
      "sessionAuth: `store` is required: a SessionStore such as memoryStore(expressSessionStore), redisStore({ client }), mongoStore({ collection }) or cookieStore().",
    );
  }
  if (!SIGNING_SCHEMES.includes(signing)) {
    throw new TypeError(`sessionAuth: \`signing\` must be one of ${SIGNING_SCHEMES.map((s) => `"${s}"`).join(", ")}; got ${JSON.stringify(signing)}.`);
  }
  if (algorithm !== undefined) {
    if (signing !== "keygrip") throw new TypeError('sessionAuth: `algorithm` applies only to `signing: "keygrip"`.');
    if (!KEYGRIP_ALGORITHMS.includes(algorithm)) {
      throw new TypeError(`sessionAuth: \`algorithm\` must be one of ${KEYGRIP_ALGORITHMS.map((a) => `"${a}"`).join(", ")}.`);
    }
  }
  let secrets: readonly string[] = [];
  if (signing !== "none") {
    secrets = typeof secret === "string" ? [secret] : Array.isArray(secret) ? [...secret] : [];
    if (secrets.length === 0 || secrets.some((s) => typeof s !== "string" || s === "")) {
      throw new TypeError(
        `sessionAuth: \`secret\` is required with \`signing: "${signing}"\`: the session middleware's secret, or an array of them (the first signs, every one verifies), each a non-empty string.`,
      );
    }
  } else if (secret !== undefined) {
    throw new TypeError('sessionAuth: `secret` was given with `signing: "none"`, which verifies nothing; pick the signing scheme of your session library.');
  }
  if (typeof name !== "string" || !COOKIE_NAME.test(name)) {
    throw new TypeError(`sessionAuth: \`name\` must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~); got ${JSON.stringify(name)}.`);
  }
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMEOUT_MS) {
    throw new TypeError(`sessionAuth: \`timeout\` must be a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}; got ${String(timeout)}.`);
  }
  if (typeof identify !== "function") throw new TypeError("sessionAuth: `identify` must be a function (session) => userId.");
  if (authorize !== undefined && typeof authorize !== "function") throw new TypeError("sessionAuth: `authorize` must be a function.");
  if (onError !== undefined && typeof onError !== "function") throw new TypeError("sessionAuth: `onError` must be a function (error, req) => void.");
  if (typeof allowAnonymous !== "boolean") throw new TypeError("sessionAuth: `allowAnonymous` must be a boolean.");

  return {
    store,
    name,
    signing,
    secrets,
    algorithm: algorithm ?? "sha1",
    timeout,
    rooms: resolveRooms(rooms),
    identify,
    allowAnonymous,
    authorize,
    onError,
  };
}
