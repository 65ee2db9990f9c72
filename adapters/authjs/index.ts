import {
  describeOption,
  describeGiven,
  driverKind,
  rejectUnknownOptions,
  type SessionRecord,
  type SessionStore,
  type StoreCookie,
  type StoreGetOptions,
} from "socket.io-session-auth/adapter";
import { lookUp, type AuthjsAdapterLike, type AuthjsDatabaseSession } from "./database.js";
import { decodeSession, libraryDecode, type AuthjsDecode, type AuthjsJwt, type AuthjsVersion } from "./jwt.js";

export type { AuthjsAdapterLike, AuthjsDatabaseSession, AuthjsUser } from "./database.js";
export type { AuthjsDecode, AuthjsJwt, AuthjsVersion } from "./jwt.js";

interface CommonOptions {
  /**
   * The Auth.js major version of the web app (default 5): `5` for `@auth/core`, `next-auth@5`,
   * `@auth/express`, `@auth/sveltekit`... (cookie `authjs.session-token`); `4` for NextAuth.js v4
   * (`next-auth.session-token`). Never guessed from the cookie: a v4 cookie left over from before a
   * migration must not log anyone in to a v5 app. A cookie of the other version is diagnosed by name.
   */
  version?: AuthjsVersion;
  /**
   * Which session cookie to read: `true` only `__Secure-<name>` (what Auth.js sets when it runs on https),
   * `false` only the plain name (plain http), `"auto"` (default) either, the `__Secure-` one first: a
   * socket.io server behind a TLS-terminating proxy sees plain http while the browser used https.
   */
  secure?: boolean | "auto";
  /**
   * The session cookie's name when your Auth.js config renames it (`cookies.sessionToken.name`); then
   * only that name is read, and `secure` is ignored. Default: Auth.js's own names, per `version`.
   */
  cookieName?: string;
}

/** JWT sessions (Auth.js's default strategy): the cookie is the encrypted session itself. */
export interface AuthjsJwtOptions extends CommonOptions {
  /**
   * The web app's `AUTH_SECRET` (v5) or `NEXTAUTH_SECRET` (v4); for rotation, all of them, newest first
   * (each is tried, as Auth.js does). Required for JWT sessions.
   */
  secret: string | readonly string[];
  strategy?: "jwt";
  /** An Auth.js adapter may be configured beside JWT sessions (Credentials sign-in needs them): ignored here. */
  adapter?: AuthjsAdapterLike;
  /**
   * Your Auth.js config's `jwt.decode` when you replaced the default (default: the library's own `decode`,
   * from `@auth/core/jwt` for v5, `next-auth/jwt` for v4, loaded on first use).
   */
  decode?: AuthjsDecode;
}

/** Database sessions (`session: { strategy: "database" }`): the cookie is a token, looked up through your adapter. */
export interface AuthjsDatabaseOptions extends CommonOptions {
  /** The same Auth.js adapter the web app uses (`PrismaAdapter(prisma)`, `PostgresAdapter(pool)`...). */
  adapter: AuthjsAdapterLike;
  /** Default `"database"` when `adapter` is given, as Auth.js decides; pass `strategy: "jwt"` for JWT sessions beside an adapter. */
  strategy?: "database";
  /** Not needed for database sessions (the token is looked up, not decrypted); accepted and ignored. */
  secret?: string | readonly string[];
}

export type AuthjsStoreOptions = AuthjsJwtOptions | AuthjsDatabaseOptions;

/** An Auth.js store: a {@link SessionStore} that declares its cookie and who its sessions belong to. */
export type AuthjsStore<S extends object> = SessionStore<S> & {
  /**
   * The session cookie's names, `__Secure-` first (per `secure`), then the other Auth.js version's (read
   * only to say so: a v4 cookie is never decoded by a v5 store); chunks read whole; no signature of its
   * own (the JWT is encrypted, the database token looked up).
   */
  readonly cookie: StoreCookie;
  /** The user id: the JWT's `sub`, or the database session's `userId`. */
  identify(session: S): string | undefined;
};

const SESSION_TOKEN: Record<AuthjsVersion, string> = { 5: "authjs.session-token", 4: "next-auth.session-token" };
const SECURE_PREFIX = "__Secure-";
const VERSIONS: readonly AuthjsVersion[] = [5, 4];
// Far above what a browser sends (Node refuses headers over 16 KiB by default); a bound on the work a
// hostile header can buy, whatever the core's own chunk limits.
const MAX_TOKEN_LENGTH = 32 * 1024;
const MAX_DATABASE_TOKEN_LENGTH = 1024;
const KNOWN_OPTIONS = new Set(["secret", "version", "strategy", "adapter", "secure", "cookieName", "decode"]);
// What auth.update() says (a TypeError): why there is nothing here to write, and what to do instead.
const UPDATE_JWT =
  "An Auth.js JWT session lives in the browser's cookie (the encrypted token is the only copy, and only an HTTP response can replace it): change it in the web app (Auth.js's session update, which runs your `jwt` callback with trigger \"update\" and sets the new cookie), then have the client reconnect so that the handshake reads the new cookie. Keep what concerns one socket in socket.data.";
const UPDATE_DATABASE =
  "An Auth.js database session row holds only its token, the user id and the expiry: there is no session data to update. Change the user through your Auth.js adapter (adapter.updateUser) in the web app, then call auth.reload(socket) to read it again.";
const HINTS: Record<string, string> = {
  salt: "Auth.js salts with the cookie name: set `cookieName` if your config renames the cookie",
  cookies: "pass `cookieName: cookies.sessionToken.name`",
  useSecureCookies: "pass `secure: true` (or `false`) instead",
  session: 'pass `strategy: "database"` (with `adapter`) or leave it out for JWT sessions',
  jwt: "pass `decode: jwt.decode` when you replaced Auth.js's decode",
  providers: "pass only { secret, adapter, ... }: the providers belong to the web app",
  name: "the cookie name is `cookieName` (sessionAuth reads it from the store: no `name` needed there either)",
};

/**
 * Reads the sessions of an Auth.js web app (v5: `@auth/core`, `next-auth@5`, `@auth/express`...; v4:
 * `next-auth@4`) in the socket.io server: one line, `sessionAuth({ store: authjsStore({ secret }) })`.
 *
 * - **JWT sessions** (Auth.js's default): the cookie (`authjs.session-token`, `__Secure-` on https;
 *   chunked `.0`, `.1`... when over ~4 KB, read whole) is decrypted with the library's own `decode`
 *   (`@auth/core/jwt` with the cookie name as salt; `next-auth/jwt` for v4), trying every `secret`. `exp`
 *   is the record's `expires` (the core refuses the socket then, and ends it when `exp` passes); the user
 *   id is `sub`. No store round-trip. **A JWT session cannot be revoked before it expires**: signing out
 *   clears the browser's cookie, not the token; `auth.endUser(io, userId)` still ends that user's sockets.
 * - **Database sessions** (`adapter` given): the cookie's token is looked up with the adapter's
 *   `getSessionAndUser`, once per handshake and on every re-read, so a sign-out (the row deleted) ends the
 *   sockets at the next re-read; `expires` is the row's. The lookup never writes (Auth.js's own endpoint
 *   extends the session; a handshake does not).
 *
 * `auth.update()` throws a `TypeError`: a JWT lives in the browser, and a database session row holds only
 * the token, the user id and the expiry (change the user through your adapter, then `auth.reload(socket)`).
 *
 * Throws a `TypeError` naming the option when the options are wrong (no `secret` for JWT sessions, a
 * `version` other than 4 or 5, your whole Auth.js config...). The peer `@auth/core` (v5) or `next-auth`
 * (v4) must be installed where this runs; a missing one is reported on the first handshake.
 */
export function authjsStore(options: AuthjsDatabaseOptions): AuthjsStore<AuthjsDatabaseSession>;
export function authjsStore(options: AuthjsJwtOptions): AuthjsStore<AuthjsJwt>;
export function authjsStore(options: AuthjsStoreOptions): AuthjsStore<AuthjsJwt> | AuthjsStore<AuthjsDatabaseSession> {
  const config = validate(options);
  const names = cookieNames(config);
  const foreign = foreignNames(config);
  const cookie: StoreCookie = { names: Object.freeze([...names, ...foreign]), signing: "none", chunked: true };
  // The other version's cookie is declared only so that it reaches get() with its name, to be diagnosed.
  const otherVersion = (options: StoreGetOptions): string | undefined => {
    const read = options.cookieName;
    return read !== undefined && foreign.includes(read) ? diagnoseName(config.version, read) : undefined;
  };

  if (config.strategy === "database") {
    const { adapter } = config;
    const store: AuthjsStore<AuthjsDatabaseSession> = {
      name: `authjs (v${config.version}, database)`,
      cookie,
      updateUnsupported: UPDATE_DATABASE,
      identify: (session) => session.userId,
      async get(token, options): Promise<SessionRecord<AuthjsDatabaseSession> | null> {
        const { signal, report } = options;
        const mismatch = otherVersion(options);
        if (mismatch !== undefined) {
          report(new Error(mismatch));
          return null;
        }
        if (typeof token !== "string" || token === "" || token.length > MAX_DATABASE_TOKEN_LENGTH) {
          report(new RangeError(`the Auth.js session token is not 1 to ${MAX_DATABASE_TOKEN_LENGTH} characters`));
          return null;
        }
        return lookUp(adapter, token, signal, report);
      },
    };
    return store;
  }

  const { secrets, version } = config;
  const load: () => Promise<AuthjsDecode> =
    config.decode === undefined ? libraryDecode(version) : () => Promise.resolve(config.decode as AuthjsDecode);
  const store: AuthjsStore<AuthjsJwt> = {
    name: `authjs (v${version}, jwt)`,
    cookie,
    canonicalId: canonicalToken,
    updateUnsupported: UPDATE_JWT,
    identify: (session) => (typeof session.sub === "string" && session.sub !== "" ? session.sub : undefined),
    async get(token, options: StoreGetOptions): Promise<SessionRecord<AuthjsJwt> | null> {
      const { report } = options;
      const mismatch = otherVersion(options);
      if (mismatch !== undefined) {
        report(new Error(mismatch));
        return null;
      }
      if (typeof token !== "string" || token === "" || token.length > MAX_TOKEN_LENGTH) {
        report(new RangeError(`the Auth.js session cookie is not 1 to ${MAX_TOKEN_LENGTH} characters`));
        return null;
      }
      // With the library's own decode, only the compact form Auth.js writes: NextAuth v4's decoder (jose 4, Node's lenient base64) also
      // decrypts a token with stray characters in a segment (a space, say), which would be the same session
      // under another id (see canonicalToken); every spelling but the written one is refused here.
      if (config.decode === undefined && !isCompactJwe(token)) {
        report(new TypeError("the Auth.js session cookie is not a JWE in compact form (five base64url segments)"));
        return null;
      }
      const decode = await load();
      // v5 derives the key from the name the cookie was read under (the core passes it, on re-reads too);
      // without it (a direct call), each name this store reads is tried: a wrong salt fails fast on the `kid`.
      const read = options.cookieName;
      const salts = version === 4 ? [""] : read !== undefined && names.includes(read) ? [read] : names;
      try {
        const outcome = await decodeSession(decode, token, secrets, salts, version);
        if (outcome instanceof Error) {
          report(outcome);
          return null;
        }
        return outcome;
      } catch (cause) {
        // decodeSession catches the decoder's failures; anything else is a bug to see, not an outage.
        report(cause);
        return null;
      }
    },
  };
  return store;
}

type Validated =
  | ({ strategy: "jwt"; secrets: readonly string[]; decode: AuthjsDecode | undefined } & Names)
  | ({ strategy: "database"; adapter: AuthjsAdapterLike } & Names);
interface Names {
  version: AuthjsVersion;
  secure: boolean | "auto";
  cookieName: string | undefined;
}

function validate(options: AuthjsStoreOptions): Validated {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(
      "authjsStore: pass an options object, e.g. authjsStore({ secret: process.env.AUTH_SECRET }) for JWT sessions, or authjsStore({ adapter }) for database sessions.",
    );
  }
  const kind = driverKind(options);
  if (kind !== "other") {
    throw new TypeError(
      `authjsStore: the options are ${describeGiven(options)}; pass { secret } (JWT sessions) or { adapter } (database sessions).`,
    );
  }
  if (typeof (options as { getSessionAndUser?: unknown }).getSessionAndUser === "function") {
    throw new TypeError("authjsStore: that is an Auth.js adapter; pass it as an option: authjsStore({ adapter }).");
  }
  rejectUnknownOptions("authjsStore", options, KNOWN_OPTIONS, { notes: HINTS });
  const { version = 5, secure = "auto", cookieName, adapter, strategy } = options;
  if (!VERSIONS.includes(version)) {
    throw new TypeError(
      `authjsStore: \`version\` must be 5 (Auth.js v5, @auth/core) or 4 (NextAuth.js v4); got ${describeOption(version)}.`,
    );
  }
  if (secure !== true && secure !== false && secure !== "auto") {
    throw new TypeError(`authjsStore: \`secure\` must be true, false or "auto"; got ${describeOption(secure)}.`);
  }
  if (cookieName !== undefined && (typeof cookieName !== "string" || !/^[!#-'*+.0-9A-Z^-z|~-]+$/.test(cookieName))) {
    throw new TypeError(
      "authjsStore: `cookieName` must be a cookie name (your Auth.js `cookies.sessionToken.name`), or left out.",
    );
  }
  const names = { version, secure, cookieName };
  if (strategy !== undefined && strategy !== "jwt" && strategy !== "database") {
    throw new TypeError(`authjsStore: \`strategy\` must be "jwt" or "database"; got ${describeOption(strategy)}.`);
  }
  const database = strategy === "database" || (strategy === undefined && adapter !== undefined);
  if (database) {
    if (typeof (adapter as { getSessionAndUser?: unknown } | undefined)?.getSessionAndUser !== "function") {
      throw new TypeError(
        'authjsStore: database sessions need `adapter`, the Auth.js adapter of the web app (with getSessionAndUser), e.g. authjsStore({ adapter: PrismaAdapter(prisma) }); for JWT sessions pass `secret` (and strategy: "jwt" beside an adapter).',
      );
    }
    return { strategy: "database", adapter: adapter as AuthjsAdapterLike, ...names };
  }
  const { secret, decode } = options as AuthjsJwtOptions;
  const secrets = typeof secret === "string" ? [secret] : Array.isArray(secret) ? [...(secret as string[])] : undefined;
  if (secrets === undefined || secrets.length === 0 || secrets.some((s) => typeof s !== "string" || s === "")) {
    throw new TypeError(
      `authjsStore: JWT sessions need \`secret\`, the web app's ${version === 5 ? "AUTH_SECRET" : "NEXTAUTH_SECRET"} (a non-empty string, or an array of them, newest first, while rotating); got ${secret === undefined ? "nothing" : typeof secret === "string" ? "an empty string" : Array.isArray(secret) ? "an array with an empty or non-string entry" : `a ${typeof secret}`}.`,
    );
  }
  if (decode !== undefined && typeof decode !== "function") {
    throw new TypeError("authjsStore: `decode` must be your Auth.js config's `jwt.decode` function, or left out.");
  }
  return { strategy: "jwt", secrets, decode, ...names };
}

function cookieNames({ version, secure, cookieName }: Names): readonly string[] {
  if (cookieName !== undefined) return [cookieName];
  const plain = SESSION_TOKEN[version];
  if (secure === true) return [SECURE_PREFIX + plain];
  if (secure === false) return [plain];
  return [SECURE_PREFIX + plain, plain];
}

/** The other Auth.js version's session cookie names: declared to be diagnosed, never decoded. */
function foreignNames({ version, cookieName }: Names): readonly string[] {
  if (cookieName !== undefined) return [];
  const other = SESSION_TOKEN[version === 5 ? 4 : 5];
  return [SECURE_PREFIX + other, other];
}

/** The sentence that names the fix when the other Auth.js version's session cookie came. */
function diagnoseName(version: AuthjsVersion, found: string): string {
  return version === 5
    ? `a NextAuth.js v4 session cookie ("${found}") came, but authjsStore reads Auth.js v5 cookies ("${SESSION_TOKEN[5]}"): pass \`version: 4\` if the web app runs next-auth 4 (with its NEXTAUTH_SECRET)`
    : `an Auth.js v5 session cookie ("${found}") came, but authjsStore reads NextAuth.js v4 cookies ("${SESSION_TOKEN[4]}"): pass \`version: 5\` (the default) if the web app runs Auth.js v5 (@auth/core, next-auth@5)`;
}

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]*$/;

/** A JWE in compact form (RFC 7516 §7.1): five segments of the base64url alphabet, nothing else. */
function isCompactJwe(value: string): boolean {
  const segments = value.split(".");
  return segments.length === 5 && segments.every((segment) => BASE64URL_SEGMENT.test(segment));
}

/**
 * One spelling per token (the store's `canonicalId`): a JWE in compact form (RFC 7516 §7.1) is five
 * base64url segments, and a segment whose length is not a multiple of 4 ends in a character whose low
 * bits carry nothing; decoders drop them (RFC 4648 §3.5 allows it; jose does), so two or four spellings
 * of that character decrypt alike. Without this they would be read as the same session under another
 * id: another session key, room and lifecycle entry, which `endSession` with the token Auth.js wrote
 * would miss. Each segment but the protected header is re-encoded from its bytes, which maps every
 * spelling that decrypts to the one Auth.js wrote. Anything else maps to itself, and `get` refuses it (a
 * stray character that a lenient decoder skips included).
 */
function canonicalToken(value: string): string {
  if (!isCompactJwe(value)) return value;
  const segments = value.split(".");
  // The protected header (the first segment) is left as sent: its text is the encryption's additional
  // data, so another spelling of it does not decrypt, and must not be mapped onto the token that does.
  return segments
    .map((segment, index) => (index === 0 ? segment : Buffer.from(segment, "base64url").toString("base64url")))
    .join(".");
}
