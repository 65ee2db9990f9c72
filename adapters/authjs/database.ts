import { abortable, type SessionRecord } from "socket.io-session-auth/adapter";

/**
 * A user as an Auth.js adapter returns it (`AdapterUser` of `@auth/core/adapters`): `id`, and whatever
 * else your user table holds.
 */
export interface AuthjsUser {
  id: string;
  name?: string | null;
  email?: string | null;
  image?: string | null;
  [field: string]: unknown;
}

/**
 * What `socket.data.session` holds for a database session: the user (as your Auth.js adapter returns it),
 * the user id, and when the session ends (an ISO 8601 string). Never the session token: that is the
 * cookie, a bearer secret.
 */
export interface AuthjsDatabaseSession {
  user: AuthjsUser;
  userId: string;
  expires: string;
}

/**
 * What authjsStore needs of an Auth.js adapter (`Adapter` of `@auth/core/adapters`, or NextAuth v4's):
 * `getSessionAndUser`. Every official adapter (Prisma, Drizzle, pg, MongoDB, Redis/unstorage...) has it.
 * Typed structurally, so this entry point names no adapter package.
 */
export interface AuthjsAdapterLike {
  getSessionAndUser?(sessionToken: string):
    | PromiseLike<{
        session: { sessionToken?: string; userId: string; expires: Date | string | number };
        user: AuthjsUser;
      } | null>
    | unknown;
}

/**
 * One `getSessionAndUser(token)` through the app's own adapter: what Auth.js's own session endpoint does
 * (`@auth/core` `lib/actions/session.ts`), minus its writes (it deletes an expired session and extends a
 * live one; a handshake does neither). The session row's `expires` is the record's `expires`: the core
 * refuses a session past it as `SESSION_EXPIRED`, and re-reads it then.
 *
 * An adapter failure rejects (the core makes it a retryable `STORE_UNAVAILABLE`); a missing row resolves
 * `null` (`SESSION_NOT_FOUND`); a row of the wrong shape is reported and resolves `null`.
 */
export async function lookUp(
  adapter: AuthjsAdapterLike,
  token: string,
  signal: AbortSignal,
  report: (cause: unknown) => void,
): Promise<SessionRecord<AuthjsDatabaseSession> | null> {
  signal.throwIfAborted();
  const found = (await abortable(
    Promise.resolve((adapter.getSessionAndUser as (token: string) => unknown)(token)),
    signal,
  )) as unknown;
  if (found === null || found === undefined) return null;
  const { session, user } = found as { session?: unknown; user?: unknown };
  if (typeof session !== "object" || session === null || typeof user !== "object" || user === null) {
    report(new TypeError("the Auth.js adapter's getSessionAndUser resolved something other than { session, user }"));
    return null;
  }
  const { userId, expires, sessionToken } = session as { userId?: unknown; expires?: unknown; sessionToken?: unknown };
  // An adapter may find a row under another spelling of its token (unstorage normalises keys: "<token>?x",
  // ":<token>", "/<token>"; a case-insensitive collation): that socket would be the session's under another
  // session id, which endSession(io, token) at sign-out would miss. The row's own token must be the cookie's.
  if (typeof sessionToken === "string" && sessionToken !== token) {
    report(new Error("the Auth.js adapter found a session row under another token than the cookie's"));
    return null;
  }
  const id = (user as { id?: unknown }).id;
  const ends =
    expires instanceof Date
      ? expires
      : typeof expires === "string" || typeof expires === "number"
        ? new Date(expires)
        : null;
  if (ends === null || Number.isNaN(ends.getTime())) {
    report(new TypeError("the Auth.js session row has no readable `expires`"));
    return null;
  }
  const owner = typeof userId === "string" && userId !== "" ? userId : typeof id === "string" ? id : undefined;
  if (owner === undefined) {
    report(new TypeError("the Auth.js session row names no user (`userId`)"));
    return null;
  }
  return {
    session: { user: { ...(user as AuthjsUser) }, userId: owner, expires: ends.toISOString() },
    expires: ends,
  };
}
