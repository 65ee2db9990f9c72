import type { Socket } from "socket.io";
import { KEYGRIP_ALGORITHMS, SIGNING_SCHEMES, type KeygripAlgorithm, type SigningScheme } from "./cookies.js";
import { hmacKeys, type CookieSecret } from "./secrets.js";
import type { KeyObject } from "node:crypto";
import type { SessionAuthError } from "./errors.js";
import { rejectUnknownOptions } from "./options.js";
import type { OriginPolicy } from "./origin.js";
import { resolveRooms, type RoomNaming, type RoomOptions } from "./rooms.js";
import type { SessionData, SessionStore, StoreCookie } from "./store.js";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

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

export interface Config<S extends object> {
  store: SessionStore<S>;
  /** The first of `names`. */
  name: string;
  /** Cookie names tried in order (the store's declared ones, or `[name]`). */
  names: readonly string[];
  /** Whether the cookie may come in chunks (`<name>.0`, `<name>.1`, …), as the store declares. */
  chunked: boolean;
  signing: SigningScheme;
  /** HMAC keys, made once here from `secret` (or the store's declared secrets). */
  secrets: readonly KeyObject[];
  algorithm: KeygripAlgorithm;
  timeout: number;
  rooms: RoomNaming;
  identify: (session: S) => unknown;
  allowAnonymous: boolean;
  authorize: SessionAuthOptions<S>["authorize"];
  onError: SessionAuthOptions<S>["onError"];
  origins: OriginPolicy | undefined;
  revalidate: number | null;
  endEvent: string | null;
  onSessionEnd: SessionAuthOptions<S>["onSessionEnd"];
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_REVALIDATE_MS = 300_000;
export const MAX_TIMEOUT_MS = 2_147_483_647; // setTimeout's limit
const KNOWN_OPTIONS = new Set([
  "store",
  "secret",
  "name",
  "signing",
  "algorithm",
  "origins",
  "identify",
  "allowAnonymous",
  "authorize",
  "timeout",
  "rooms",
  "onError",
  "revalidate",
  "endEvent",
  "onSessionEnd",
]);
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 6265 token
// Events socket.io reserves on a socket: emitting one of them would throw or confuse the client.
const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

/**
 * The default `identify`: Passport (what `serializeUser` stored: an id, or a user object with `id` /
 * `_id`), then the common hand-rolled shapes.
 */
export function defaultIdentify(session: object): string | number | undefined {
  const user = own(session, "user");
  const passportUser = own(own(session, "passport"), "user");
  return (
    asId(passportUser) ??
    asId(own(passportUser, "id")) ??
    asId(own(passportUser, "_id")) ??
    asId(own(session, "userId")) ??
    asId(own(user, "id")) ??
    asId(own(user, "_id")) ??
    (typeof user === "string" || typeof user === "number" ? asId(user) : undefined)
  );
}

/** Where a session seems to hold a user that the default `identify` cannot read, for the diagnosis. */
export function unreadUser(session: object): string | undefined {
  const passportUser = own(own(session, "passport"), "user");
  if (passportUser !== undefined && passportUser !== null) return `\`passport.user\` holds ${shapeOf(passportUser)}`;
  const user = own(session, "user");
  if (user !== undefined && user !== null) return `\`user\` holds ${shapeOf(user)}`;
  return undefined;
}

function shapeOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return `a ${typeof value}`;
  if (Array.isArray(value)) return "an array";
  const keys = Object.keys(value)
    .slice(0, 6)
    .map((k) => JSON.stringify(k.length > 30 ? `${k.slice(0, 30)}…` : k));
  return keys.length === 0 ? "an empty object" : `an object with keys ${keys.join(", ")}`;
}

function own(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && Object.hasOwn(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function asId(value: unknown): string | number | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  // A BSON ObjectId (connect-mongo with `stringify: false`).
  if (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { toHexString?: unknown }).toHexString === "function"
  ) {
    return (value as { toHexString(): string }).toHexString();
  }
  return undefined;
}

export function validate<S extends object>(options: SessionAuthOptions<S>): Config<S> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("sessionAuth: pass an options object, e.g. sessionAuth({ store, secret }).");
  }
  rejectUnknownOptions("sessionAuth", options, KNOWN_OPTIONS, {
    hints: {
      secrets: "secret",
      keys: "secret",
      cookieName: "name",
      key: "name",
      revalidateInterval: "revalidate",
      interval: "revalidate",
      onEnd: "onSessionEnd",
    },
  });
  const {
    store,
    algorithm,
    allowAnonymous = false,
    authorize,
    timeout = DEFAULT_TIMEOUT_MS,
    rooms,
    onError,
    revalidate = DEFAULT_REVALIDATE_MS,
    endEvent = "session:ended",
    onSessionEnd,
  } = options;
  let { secret, name, signing, identify } = options;

  if (
    typeof store !== "object" ||
    store === null ||
    typeof store.get !== "function" ||
    typeof store.name !== "string"
  ) {
    throw new TypeError(
      "sessionAuth: `store` is required: a SessionStore such as memoryStore(expressSessionStore), redisStore({ client }), mongoStore({ collection }) or cookieStore().",
    );
  }
  const declared = storeCookie(store);
  identify ??= typeof store.identify === "function" ? (session: S) => store.identify!(session) : defaultIdentify;
  signing ??= declared?.signing ?? "express";
  // The store's secrets go with the store's signing: sessionAuth's own `signing` means its own secret.
  if (secret === undefined && declared?.secrets !== undefined && signing === declared.signing)
    secret = declared.secrets;
  if (!SIGNING_SCHEMES.includes(signing)) {
    throw new TypeError(
      `sessionAuth: \`signing\` must be one of ${SIGNING_SCHEMES.map((s) => `"${s}"`).join(", ")}; got ${JSON.stringify(signing)}.`,
    );
  }
  if (algorithm !== undefined) {
    if (signing !== "keygrip") throw new TypeError('sessionAuth: `algorithm` applies only to `signing: "keygrip"`.');
    if (!KEYGRIP_ALGORITHMS.includes(algorithm)) {
      throw new TypeError(
        `sessionAuth: \`algorithm\` must be one of ${KEYGRIP_ALGORITHMS.map((a) => `"${a}"`).join(", ")}.`,
      );
    }
  }
  let secrets: readonly KeyObject[] = [];
  if (signing !== "none") {
    if (secret === undefined || secret === "" || (Array.isArray(secret) && secret.length === 0)) {
      throw new TypeError(
        `sessionAuth: \`secret\` is required with \`signing: "${signing}"\`: the session middleware's secret, or an array of them (the first signs, every one verifies), each a non-empty string, a Buffer or a secret KeyObject.`,
      );
    }
    secrets = hmacKeys(secret, "sessionAuth: `secret`");
  } else if (options.secret !== undefined) {
    throw new TypeError(
      declared?.signing === "none"
        ? `sessionAuth: \`secret\` was given, but store "${store.name}" verifies its cookie itself: give the secret to the store, not to sessionAuth.`
        : 'sessionAuth: `secret` was given with `signing: "none"`, which verifies nothing; pick the signing scheme of your session library.',
    );
  }
  const names = name !== undefined ? [name] : (declared?.names ?? ["connect.sid"]);
  name = names[0];
  for (const each of names) {
    if (typeof each !== "string" || !COOKIE_NAME.test(each)) {
      throw new TypeError(
        `sessionAuth: \`name\` must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~); got ${JSON.stringify(each)}.`,
      );
    }
  }
  const chunked = declared?.chunked === true;
  if (chunked && signing === "keygrip") {
    throw new TypeError(
      `sessionAuth: store "${store.name}" declares a chunked cookie, which keygrip signing cannot read; leave \`signing\` to the store.`,
    );
  }
  if (!isDuration(timeout)) {
    throw new TypeError(
      `sessionAuth: \`timeout\` must be a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}; got ${String(timeout)}.`,
    );
  }
  if (revalidate !== false && !isDuration(revalidate)) {
    throw new TypeError(
      `sessionAuth: \`revalidate\` must be false or a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}; got ${String(revalidate)}.`,
    );
  }
  if (endEvent !== false && (typeof endEvent !== "string" || endEvent === "" || RESERVED_EVENTS.has(endEvent))) {
    throw new TypeError(
      `sessionAuth: \`endEvent\` must be false or an event name that socket.io does not reserve (not ${[...RESERVED_EVENTS].join(", ")}); got ${JSON.stringify(endEvent)}.`,
    );
  }
  if (typeof identify !== "function")
    throw new TypeError("sessionAuth: `identify` must be a function (session) => userId.");
  if (authorize !== undefined && typeof authorize !== "function")
    throw new TypeError("sessionAuth: `authorize` must be a function.");
  if (onError !== undefined && typeof onError !== "function")
    throw new TypeError("sessionAuth: `onError` must be a function (error, req) => void.");
  if (onSessionEnd !== undefined && typeof onSessionEnd !== "function") {
    throw new TypeError("sessionAuth: `onSessionEnd` must be a function (error, socket) => void.");
  }
  if (typeof allowAnonymous !== "boolean") throw new TypeError("sessionAuth: `allowAnonymous` must be a boolean.");

  return {
    store,
    name: name!,
    names,
    chunked,
    signing,
    secrets,
    algorithm: algorithm ?? "sha1",
    timeout,
    rooms: resolveRooms(rooms),
    identify,
    allowAnonymous,
    authorize,
    onError,
    origins: options.origins,
    revalidate: revalidate === false ? null : revalidate,
    endEvent: endEvent === false ? null : endEvent,
    onSessionEnd,
  };
}

// The store's declared cookie (issue 19), checked: a store bug is a TypeError at construction.
function storeCookie(store: SessionStore<never> | SessionStore<object>): StoreCookie | undefined {
  const cookie = (store as SessionStore<object>).cookie;
  if (cookie === undefined) return undefined;
  const where = `store "${store.name}" declares a \`cookie\``;
  if (typeof cookie !== "object" || cookie === null)
    throw new TypeError(`sessionAuth: ${where} that is not an object.`);
  if (!Array.isArray(cookie.names) || cookie.names.length === 0) {
    throw new TypeError(`sessionAuth: ${where} without \`names\` (a non-empty array of cookie names).`);
  }
  if (!SIGNING_SCHEMES.includes(cookie.signing)) {
    throw new TypeError(`sessionAuth: ${where} with an unknown \`signing\` ${JSON.stringify(cookie.signing)}.`);
  }
  if (cookie.chunked !== undefined && typeof cookie.chunked !== "boolean") {
    throw new TypeError(`sessionAuth: ${where} whose \`chunked\` is not a boolean.`);
  }
  return cookie;
}

function isDuration(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 && value <= MAX_TIMEOUT_MS;
}
