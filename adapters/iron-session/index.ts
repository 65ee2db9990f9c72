import {
  describeGiven,
  driverKind,
  rejectUnknownOptions,
  type SessionRecord,
  type SessionStore,
  type StoreCookie,
} from "socket.io-session-auth/adapter";

/**
 * iron-session's password: one string (at least 32 characters), or a map of them for rotation, keyed by
 * integer ids, `{ 1: "old...", 2: "new..." }`: the highest id seals, every id unseals (a seal names the
 * id it was sealed with).
 */
export type IronPassword = string | Readonly<Record<string | number, string>>;

export interface IronSessionStoreOptions {
  /** The web app's iron-session `password`: the same string or map. */
  password: IronPassword;
  /** The web app's iron-session `cookieName`. */
  cookieName: string;
}

/** An iron-session store: a {@link SessionStore} that declares its cookie. */
export type IronSessionStore<S extends object> = SessionStore<S> & {
  /** `cookieName`, no signature of its own (the seal carries an HMAC that `unsealData` checks), v9's chunks read whole. */
  readonly cookie: StoreCookie;
};

type UnsealErrorReason = "expired" | "invalid" | "unknown-password";
type UnsealData = (
  seal: string,
  options: { password: IronPassword; onUnsealError?: (reason: UnsealErrorReason, error: unknown) => void },
) => Promise<Record<string, unknown>>;

const KNOWN_OPTIONS = new Set(["password", "cookieName"]);
const HINTS: Record<string, string> = {
  ttl: "the seal carries its own expiry, which the store reports; nothing to pass",
  cookieOptions: "only `cookieName` matters here: sessionAuth reads the cookie the store declares",
  secret: "iron-session calls it `password`",
};
const MIN_PASSWORD_LENGTH = 32; // iron-session's own rule
// Far above what a browser sends (iron-session v9 stops at 4 chunks of 4 KB; Node refuses headers over
// 16 KiB by default): a bound on the work a hostile header can buy.
const MAX_SEAL_LENGTH = 32 * 1024;
const SEAL_PREFIX = "Fe26.2*";
const VERSION_DELIMITER = "~"; // iron-session appends `~2` after the seal, outside its HMAC
const VERSION_SUFFIX = "~2"; // what iron-session 8 and 9 write (its `currentMajorVersion`)
const EXPIRATION_FIELD = 5; // Fe26.2*id*salt*iv*data*EXPIRATION*hmacSalt*hmac (iron's seal format)
const TIMESTAMP_SKEW_MS = 60_000; // iron's `timestampSkewSec` default, which unseal applies

/**
 * Reads the sessions of an iron-session web app (v8 and v9: they seal the same way, `Fe26.2*…~2`) in the
 * socket.io server: `sessionAuth({ store: ironSessionStore({ password, cookieName }) })`.
 *
 * The cookie (v9's chunks `name.0`, `name.1`… read whole) is unsealed with iron-session's own
 * `unsealData`, with every password of the map. No store round-trip: the browser holds the only copy. The
 * seal's expiry (iron-session's `ttl`, 14 days by default) is the record's `expires`: the core refuses
 * the socket then and ends it when that time comes. The user id is found the default way
 * (`session.userId`, `session.user.id`...) or by sessionAuth's `identify`.
 *
 * **Stateless, as an Auth.js JWT**: `session.destroy()` over HTTP clears the browser's cookie, not the
 * seal, which stays valid until it expires; `auth.endUser(io, userId)` ends a user's sockets at once.
 * `auth.update()` throws a `TypeError` (the session lives in the browser).
 *
 * A seal that does not unseal (truncated, edited, sealed with a password not in the map, or an empty
 * session) resolves `null` after `report(cause)`: `SESSION_NOT_FOUND`, with the reason for `onError`.
 * A seal past its expiry is a record whose `expires` has passed (`SESSION_EXPIRED`); iron checks expiry
 * before the HMAC, so that refusal is all it ever yields. Throws a `TypeError` naming the option when the
 * options are wrong (a password under 32 characters, a map with non-integer ids, no `cookieName`).
 * The peer `iron-session` (8 or 9) must be installed where this runs.
 */
export function ironSessionStore<S extends object = Record<string, unknown>>(
  options: IronSessionStoreOptions,
): IronSessionStore<S> {
  const { password, cookieName } = validate(options);
  const load = loader();
  return {
    name: "iron-session",
    cookie: { names: Object.freeze([cookieName]), signing: "none", chunked: true },
    canonicalId,
    updateUnsupported:
      "An iron-session session lives sealed in the browser's cookie (the seal is the only copy, and only an HTTP response can replace it): change it in the web app (session.save() in a request, e.g. an endpoint the page calls), then have the client reconnect so that the handshake reads the new seal. Keep what concerns one socket in socket.data.",
    async get(value, { report }): Promise<SessionRecord<S> | null> {
      if (typeof value !== "string" || value.length > MAX_SEAL_LENGTH || !value.startsWith(SEAL_PREFIX)) {
        report(
          new SyntaxError(
            `the "${cookieName}" cookie is not an iron seal (Fe26.2*…, at most ${MAX_SEAL_LENGTH} characters): not written by iron-session, or cut short`,
          ),
        );
        return null;
      }
      const unsealData = await load();
      let reason: UnsealErrorReason | undefined;
      let session: Record<string, unknown>;
      try {
        // v9 tells why through onUnsealError; v8 ignores it and answers {} all the same.
        session = await unsealData(value, { password, onUnsealError: (why) => void (reason ??= why) });
      } catch (cause) {
        // v8 rethrows what it does not recognise (a malformed expiration, a wrong prefix): unreadable all the same.
        report(new Error("iron-session could not unseal the cookie: it is malformed", { cause }));
        return null;
      }
      const expires = expirationOf(value);
      if (reason === "expired" || (Object.keys(session).length === 0 && expires !== null && isPast(expires))) {
        return { session: {} as S, expires: expires ?? new Date() };
      }
      if (typeof session !== "object" || session === null || Object.keys(session).length === 0) {
        report(new Error(whyEmpty(reason)));
        return null;
      }
      return { session: session as S, expires };
    },
  };
}

/**
 * One id per seal: the seal up to its first `~`, then the `~2` iron-session writes. The version suffix is
 * outside the seal's HMAC and iron-session 9 ignores it (8 reads only its leading number), so a cookie
 * with it cut, changed or extended unseals to the same authentic session; without this it would get
 * another session key, room and lifecycle entry, and `endSession(io, cookie)` would miss its sockets.
 * A cookie as iron-session wrote it maps to itself. (Cost: iron-session 8 would read a seal without `~2`
 * as the v6-era format, its `persistent` key; such seals are read as v2 here, as iron-session 9 reads them.)
 */
function canonicalId(value: string): string {
  if (typeof value !== "string" || !value.startsWith(SEAL_PREFIX)) return value;
  const delimiter = value.indexOf(VERSION_DELIMITER);
  return (delimiter === -1 ? value : value.slice(0, delimiter)) + VERSION_SUFFIX;
}

function whyEmpty(reason: UnsealErrorReason | undefined): string {
  switch (reason) {
    case "unknown-password":
      return "the seal names a password id that is not in `password`: keep every id the web app may have sealed with in the map until its seals expire";
    case "invalid":
      return "iron-session could not unseal the cookie: truncated, edited, or sealed with another password (check `password` against the web app's)";
    default:
      // v8 does not say why: an invalid seal and an empty session look alike.
      return "the seal holds no session (empty, or iron-session could not unseal it: check `password` against the web app's)";
  }
}

/** The expiry iron wrote into the seal (epoch ms), read once `unsealData` has checked the seal's HMAC over it. */
function expirationOf(value: string): Date | null {
  const delimiter = value.indexOf(VERSION_DELIMITER);
  const seal = delimiter === -1 ? value : value.slice(0, delimiter);
  const field = seal.split("*", EXPIRATION_FIELD + 1)[EXPIRATION_FIELD];
  if (field === undefined || !/^[1-9]\d{0,15}$/.test(field)) return null; // ttl 0: no expiry
  return new Date(Number(field));
}

function isPast(expires: Date): boolean {
  return expires.getTime() <= Date.now() - TIMESTAMP_SKEW_MS;
}

/**
 * iron-session's `unsealData`, loaded once on first use (an optional peer: a missing one is a
 * `TypeError` naming the package, which the core reports as a misconfiguration).
 */
function loader(): () => Promise<UnsealData> {
  let loaded: Promise<UnsealData> | undefined;
  return () =>
    (loaded ??= import("iron-session").then(
      (module) => module.unsealData as unknown as UnsealData,
      (cause: unknown) => {
        loaded = undefined;
        throw new TypeError(
          "ironSessionStore: cannot load iron-session: install it in the socket.io server too (npm install iron-session), the same major version as the web app's.",
          { cause },
        );
      },
    ));
}

function validate(options: IronSessionStoreOptions): { password: IronPassword; cookieName: string } {
  if (typeof options !== "object" || options === null || Array.isArray(options) || driverKind(options) !== "other") {
    throw new TypeError(
      `ironSessionStore: pass the web app's iron-session options, ironSessionStore({ password, cookieName }); got ${describeGiven(options)}.`,
    );
  }
  rejectUnknownOptions("ironSessionStore", options, KNOWN_OPTIONS, { notes: HINTS });
  const { password, cookieName } = options;
  if (typeof cookieName !== "string" || !/^[!#-'*+.0-9A-Z^-z|~-]+$/.test(cookieName)) {
    throw new TypeError(
      "ironSessionStore: `cookieName` must be the web app's iron-session `cookieName` (a cookie name).",
    );
  }
  const fix = `a string of at least ${MIN_PASSWORD_LENGTH} characters, or a map of them for rotation, { 1: "...", 2: "..." }`;
  if (typeof password === "string") {
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new TypeError(
        `ironSessionStore: \`password\` is shorter than ${MIN_PASSWORD_LENGTH} characters; it must be ${fix}.`,
      );
    }
    return { password, cookieName };
  }
  if (typeof password !== "object" || password === null || Array.isArray(password)) {
    throw new TypeError(`ironSessionStore: \`password\` must be ${fix} (the web app's own).`);
  }
  const entries = Object.entries(password);
  if (entries.length === 0) throw new TypeError(`ironSessionStore: \`password\` is an empty map; it must be ${fix}.`);
  const map: Record<string, string> = {};
  for (const [id, secret] of entries) {
    if (!/^(0|[1-9]\d{0,8})$/.test(id)) {
      throw new TypeError(
        `ironSessionStore: \`password\` ids must be integers (as iron-session requires); it must be ${fix}.`,
      );
    }
    if (typeof secret !== "string" || secret.length < MIN_PASSWORD_LENGTH) {
      throw new TypeError(
        `ironSessionStore: \`password\` id ${id} is not a string of at least ${MIN_PASSWORD_LENGTH} characters; it must be ${fix}.`,
      );
    }
    map[id] = secret;
  }
  return { password: Object.freeze(map), cookieName };
}
