import {
  describeGiven,
  describeOption,
  describeValue,
  driverKind,
  rejectUnknownOptions,
  type SessionData,
  type SessionRecord,
  type SessionStore,
  type StoreGetOptions,
} from "socket.io-session-auth/adapter";

/**
 * How the session is encoded in the (already verified) cookie value.
 * - `"cookie-session"`: base64 of the JSON session, as cookie-session (Express) and koa-session (cookie
 *   mode) write it; koa-session's `_expire` becomes the record's `expires`.
 * - `"connect"`: `j:` + the JSON session, as Connect 2's `cookieSession` wrote it (read it with
 *   `signing: "express"`, which strips the `s:` and the signature).
 */
export type CookieSessionFormat = "cookie-session" | "connect";

export interface CookieStoreOptions {
  /** How the session is encoded in the cookie value (default `"cookie-session"`). */
  format?: CookieSessionFormat;
}

const FORMATS: readonly CookieSessionFormat[] = ["cookie-session", "connect"];
const KNOWN_OPTIONS = new Set(["format"]);
// Options people bring over from cookie-session / koa-session: they belong to sessionAuth, which verifies.
const BELONGS_TO_SESSION_AUTH = new Set(["keys", "secret", "secrets", "name", "key", "signed", "signing", "algorithm"]);

// koa-session's bookkeeping inside the payload; koa-session itself never shows these to the app.
const KOA_EXPIRE = "_expire";
const KOA_BOOKKEEPING = [KOA_EXPIRE, "_maxAge", "_session"] as const;
const CONNECT_PREFIX = "j:";
// What `new Date(ms)` can represent (ECMA-262 §21.4.1.22).
const MAX_DATE_MS = 8.64e15;
/** Deepest nesting accepted (a session is a few levels deep; see {@link scrub} for why there is a limit). */
const MAX_DEPTH = 100;

// Standard or URL-safe alphabet, padding only at the end: anything else is not what these libraries wrote.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
// A value that is base64 by accident: a key into a server-side store rather than the session itself.
const NOT_A_SESSION_HINT =
  "(koa-session with an external `store`, and express-session, put a key in the cookie, not the session: cookieStore cannot read those)";
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Sessions that live in the cookie itself: cookie-session (Express), koa-session in its default cookie
 * mode, and the legacy Connect 2 `cookieSession`. No store round-trip: `get` decodes the cookie value
 * that `sessionAuth` has already verified (`signing: "keygrip"` for cookie-session and koa-session,
 * `signing: "express"` for Connect).
 *
 * A value that cannot be read (bad base64, not JSON, not an object, an `_expire` that is not a time)
 * resolves `null` after `report(cause)`: the handshake is refused with `SESSION_NOT_FOUND` and the cause
 * reaches `onError`. `__proto__` keys are dropped at every depth, and so is a `constructor` holding a
 * `prototype`, so the session can be merged or copied without polluting a prototype.
 *
 * There is no `set`, `destroy` or `subscribe`: the browser holds the only copy of the session, so the
 * socket side can neither write it back nor learn that it was cleared. See docs/cookie-sessions.md for
 * what to do instead (short `maxAge`, a denylist in `authorize`, or a server-side store).
 */
export function cookieStore<S extends object = SessionData>(options: CookieStoreOptions = {}): SessionStore<S> {
  const format = validate(options);
  const decode = format === "connect" ? decodeConnect : decodeCookieSession;
  return {
    name: `cookie (${format})`,
    get(id: string, { report }: StoreGetOptions): Promise<SessionRecord<S> | null> {
      try {
        const decoded = decode(id);
        if (decoded instanceof Error) {
          report(decoded);
          return Promise.resolve(null);
        }
        return Promise.resolve(decoded as SessionRecord<S>);
      } catch (cause) {
        // Nothing above should throw; if something does (a stack overflow on absurd nesting), the cookie is
        // unreadable, not the store unavailable: never let it become a retryable STORE_UNAVAILABLE.
        report(cause);
        return Promise.resolve(null);
      }
    },
  };
}

function validate(options: CookieStoreOptions): CookieSessionFormat {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      'cookieStore: pass an options object (or nothing), e.g. cookieStore({ format: "cookie-session" }).',
    );
  }
  if (driverKind(options) !== "other") {
    // A store or a driver handed over out of habit: its own keys would only show up as "unknown option".
    throw new TypeError(
      `cookieStore: the options are ${describeGiven(options)}; cookie sessions live in the cookie and need no store or client: pass nothing, or { format }.`,
    );
  }
  rejectUnknownOptions("cookieStore", options, KNOWN_OPTIONS, {
    notes: Object.fromEntries(
      [...BELONGS_TO_SESSION_AUTH].map((key) => [
        key,
        `\`${key}\` belongs to sessionAuth, which verifies the cookie: sessionAuth({ store: cookieStore(), signing: "keygrip", name, secret: keys })`,
      ]),
    ),
  });
  const { format = "cookie-session" } = options;
  if (!FORMATS.includes(format)) {
    throw new TypeError(
      `cookieStore: \`format\` must be one of ${FORMATS.map((f) => `"${f}"`).join(", ")}; got ${describeOption(format)}.`,
    );
  }
  return format;
}

/** cookie-session / koa-session: base64(JSON). Returns the record, or the reason it cannot be read. */
function decodeCookieSession(value: string): SessionRecord<Record<string, unknown>> | Error {
  if (typeof value !== "string") return new TypeError(`the cookie value is a ${typeof value}, not a string`);
  const padded = value.includes("=");
  if (!BASE64.test(value) || (padded ? value.length % 4 !== 0 : value.length % 4 === 1)) {
    return new SyntaxError(
      'the cookie value is not base64, so cookie-session or koa-session did not write it (check `format`: Connect\'s "j:" cookies need format "connect")',
    );
  }
  let text: string;
  try {
    text = utf8.decode(Buffer.from(value, "base64"));
  } catch {
    return new SyntaxError(`the cookie value is base64 but not of UTF-8 text ${NOT_A_SESSION_HINT}`);
  }
  const parsed = parseJson(text, "the base64-decoded cookie value", ` ${NOT_A_SESSION_HINT}`);
  if (parsed instanceof Error) return parsed;
  const session = asSession(parsed, "the base64-decoded cookie value");
  if (session instanceof Error) return session;

  let expires: Date | null = null;
  if (Object.hasOwn(session, KOA_EXPIRE)) {
    const expire = session[KOA_EXPIRE];
    if (typeof expire !== "number" || !Number.isFinite(expire) || Math.abs(expire) > MAX_DATE_MS) {
      // koa-session writes Date.now() + maxAge; anything else is a payload we cannot judge the age of.
      return new TypeError(
        `the session's koa-session \`_expire\` is not a time in epoch milliseconds (${describeValue(expire)})`,
      );
    }
    expires = new Date(expire);
  }
  for (const key of KOA_BOOKKEEPING) delete session[key];
  return { session, expires };
}

/** Connect 2 cookieSession: `j:` + JSON, after express-style unsigning. */
function decodeConnect(value: string): SessionRecord<Record<string, unknown>> | Error {
  if (typeof value !== "string") return new TypeError(`the cookie value is a ${typeof value}, not a string`);
  if (!value.startsWith(CONNECT_PREFIX)) {
    return new SyntaxError(
      'the verified cookie value does not start with "j:", so Connect\'s cookieSession did not write it ' +
        "(an express-session cookie carries a session id: read it with the memory, redis or mongo store)",
    );
  }
  const parsed = parseJson(value.slice(CONNECT_PREFIX.length), 'the JSON after "j:"');
  if (parsed instanceof Error) return parsed;
  const session = asSession(parsed, 'the JSON after "j:"');
  if (session instanceof Error) return session;
  // Connect kept no expiry in the payload (it even deleted `cookie` before writing): none to report.
  return { session, expires: null };
}

function parseJson(text: string, what: string, hint = ""): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not V8's SyntaxError: its message quotes the input, and the input is the session.
    return new SyntaxError(`${what} is not JSON${hint}`);
  }
}

function asSession(parsed: unknown, what: string): Record<string, unknown> | Error {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return new TypeError(`${what} is ${describeValue(parsed)}, not a session object`);
  }
  return scrub(parsed) ?? (parsed as Record<string, unknown>);
}

/**
 * Drops the keys that turn a later `Object.assign`, `for...in` copy or deep merge into prototype
 * pollution: `__proto__` (an own key after JSON.parse; `Object.assign` would take it as the target's
 * prototype) and a `constructor` object holding `prototype`. Iterative, and it refuses nesting deeper
 * than {@link MAX_DEPTH}: JSON.parse copes with any depth, but the app's JSON.stringify, socket.io's
 * cluster adapters (fetchSockets serializes socket.data) and deep-merge helpers recurse and would overflow.
 */
function scrub(root: object): Error | undefined {
  const pending: Array<[object, number]> = [[root, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop() as [Record<string, unknown>, number];
    if (depth > MAX_DEPTH) return new RangeError(`the session is nested more than ${MAX_DEPTH} levels deep`);
    if (!Array.isArray(node)) {
      if (Object.hasOwn(node, "__proto__")) delete node["__proto__"];
      if (Object.hasOwn(node, "constructor")) {
        const constructor = node["constructor"];
        if (typeof constructor === "object" && constructor !== null && Object.hasOwn(constructor, "prototype"))
          delete node["constructor"];
      }
    }
    for (const key of Object.keys(node)) {
      const child = node[key];
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1]);
    }
  }
  return undefined;
}
