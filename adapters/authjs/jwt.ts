import type { SessionRecord } from "socket.io-session-auth/adapter";

/**
 * The claims of an Auth.js session JWT, as its `jwt` callback left them (by default `name`, `email`,
 * `picture`, `sub` = the user id, plus `iat`, `exp`, `jti`). Your own claims sit beside them.
 */
export interface AuthjsJwt {
  /** The user id (Auth.js puts the user's `id` here). */
  sub?: string;
  name?: string | null;
  email?: string | null;
  picture?: string | null;
  /** Issued at, in seconds since the epoch. */
  iat?: number;
  /** Expires at, in seconds since the epoch: the session's end (Auth.js's `session.maxAge`, 30 days by default). */
  exp?: number;
  jti?: string;
  [claim: string]: unknown;
}

/**
 * A JWT `decode` as Auth.js calls it: `@auth/core/jwt`'s `decode` (v5), `next-auth/jwt`'s (v4), or the
 * `jwt.decode` of your Auth.js config when you replaced it. Resolves the claims, or `null` / throws for a
 * token it cannot read.
 */
export type AuthjsDecode = (params: {
  token: string;
  secret: string | string[];
  salt: string;
}) => Promise<Record<string, unknown> | null | undefined> | Record<string, unknown> | null | undefined;

/** 4: NextAuth.js v4 (`next-auth`); 5: Auth.js v5 (`@auth/core`, `next-auth@5`, `@auth/express`...). */
export type AuthjsVersion = 4 | 5;

/** What a decode attempt came to: the record, or why there is none (reported, never quoting the token). */
export type DecodeOutcome = SessionRecord<AuthjsJwt> | Error;

const MS_PER_SECOND = 1000;
// What `new Date(ms)` can represent (ECMA-262 §21.4.1.22).
const MAX_DATE_MS = 8.64e15;

/**
 * Loads the library's own `decode`, once, on first use: `@auth/core/jwt` for v5, `next-auth/jwt` for v4.
 * Both are optional peers, so a missing one is a misconfiguration, reported as a `TypeError` that names the
 * package to install (the core then refuses with a non-retryable `STORE_UNAVAILABLE`).
 */
export function libraryDecode(version: AuthjsVersion): () => Promise<AuthjsDecode> {
  let loaded: Promise<AuthjsDecode> | undefined;
  return () =>
    (loaded ??= (version === 5 ? loadV5() : loadV4()).catch((cause: unknown) => {
      loaded = undefined; // installed later (a deploy fixing it): try again on the next handshake
      const pkg = version === 5 ? "@auth/core" : "next-auth@4";
      throw new TypeError(
        `authjsStore: cannot load ${version === 5 ? "@auth/core/jwt" : "next-auth/jwt"} (version: ${version}): install it in the socket.io server too (npm install ${pkg}), the same version as the web app's.`,
        { cause },
      );
    }));
}

async function loadV5(): Promise<AuthjsDecode> {
  const jwt = await import("@auth/core/jwt");
  return jwt.decode as AuthjsDecode;
}

const NEXT_AUTH_JWT: string = "next-auth/jwt";

async function loadV4(): Promise<AuthjsDecode> {
  // next-auth 4 is CommonJS: its named exports come through Node's CJS interop, or under `default`. The
  // specifier is a variable so that TypeScript does not load next-auth's types, which pull in Next.js's
  // (and its global `process.env` typing) into every program that imports this entry point.
  const jwt = (await import(NEXT_AUTH_JWT)) as { decode?: unknown; default?: { decode?: unknown } };
  const decode = jwt.decode ?? jwt.default?.decode;
  if (typeof decode !== "function") throw new TypeError("next-auth/jwt exports no `decode`: is it next-auth 4?");
  return decode as AuthjsDecode;
}

/**
 * Decrypts `token` with the library's `decode` and turns the claims into a record: `exp` (seconds) is
 * the record's `expires`.
 *
 * Secret rotation: v5's `decode` takes the whole array itself (it picks the key by the JWE `kid`); v4's
 * takes one secret, so each is tried in turn, first to last. `salts` are the cookie names the token may
 * have been issued under (v5 derives its key with the cookie name as salt; v4 with the empty salt).
 *
 * An authentic token past its `exp` is a record whose `expires` has passed, so the core refuses it as
 * `SESSION_EXPIRED`: jose checks `exp` only after decrypting, so "expired" is never said of a forgery.
 */
export async function decodeSession(
  decode: AuthjsDecode,
  token: string,
  secrets: readonly string[],
  salts: readonly string[],
  version: AuthjsVersion,
): Promise<DecodeOutcome> {
  const attempts: Array<{ secret: string | string[]; salt: string }> = [];
  for (const salt of salts) {
    if (version === 5) attempts.push({ secret: [...secrets], salt });
    else for (const secret of secrets) attempts.push({ secret, salt });
  }
  let failure: unknown;
  for (const { secret, salt } of attempts) {
    let claims: unknown;
    try {
      claims = await decode({ token, secret, salt });
    } catch (error) {
      if (codeOf(error) === "ERR_JWT_EXPIRED") return expiredRecord(error);
      failure ??= error;
      continue;
    }
    if (claims === null || claims === undefined) continue;
    return recordOf(claims);
  }
  return explain(failure, version);
}

function recordOf(claims: unknown): DecodeOutcome {
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    return new TypeError("the decoded Auth.js token is not an object of claims");
  }
  const session = claims as AuthjsJwt;
  const { exp } = session;
  if (exp === undefined) return { session, expires: null };
  if (typeof exp !== "number" || !Number.isFinite(exp) || Math.abs(exp * MS_PER_SECOND) > MAX_DATE_MS) {
    return new TypeError("the Auth.js token's `exp` is not a time in seconds since the epoch");
  }
  return { session, expires: new Date(exp * MS_PER_SECOND) };
}

/**
 * jose 5+ (Auth.js v5) attaches the verified claims to its `JWTExpired`, so the record says when it ended;
 * jose 4 (NextAuth v4) does not, and the record then ends "now": expired either way.
 */
function expiredRecord(error: unknown): DecodeOutcome {
  const payload = (error as { payload?: unknown }).payload;
  const record = payload === undefined ? undefined : recordOf(payload);
  if (record !== undefined && !(record instanceof Error) && record.expires instanceof Date) return record;
  return { session: {}, expires: new Date() };
}

function explain(failure: unknown, version: AuthjsVersion): Error {
  const code = codeOf(failure);
  const library = version === 5 ? "Auth.js v5" : "NextAuth v4";
  const secretHint =
    version === 5
      ? "`secret` must be the web app's AUTH_SECRET (all of them, newest first, while rotating)"
      : "`secret` must be the web app's NEXTAUTH_SECRET (all of them, newest first, while rotating)";
  if (failure === undefined) return new Error(`${library}'s decode found no session in the cookie`);
  if (code === "ERR_JWE_DECRYPTION_FAILED" || (code === undefined && failure instanceof Error)) {
    // "no matching decryption secret" (v5, when the token names its key) and a failed decryption (v4, or
    // a v5 token without `kid`) both mean: none of the secrets is the one the web app encrypted with.
    return new Error(
      `${library} could not decrypt the session cookie with any of the ${"`secret`"} values: ${secretHint}; a cookie written by another Auth.js version fails the same way (check \`version\`)`,
      { cause: failure },
    );
  }
  return new Error(
    `the session cookie is not a JWT that ${library} can read (${code ?? "unreadable"}): truncated, edited, or not written by Auth.js`,
    { cause: failure },
  );
}

function codeOf(error: unknown): string | undefined {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : undefined;
}
