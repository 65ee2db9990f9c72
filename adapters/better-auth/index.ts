import { abortable, type SessionRecord, type SessionStore, type StoreGetOptions } from "socket.io-session-auth/adapter";

/**
 * A Better Auth session as `socket.data.session` holds it: what Better Auth's own lookup
 * (`internalAdapter.findSession`) returns, minus the session `token` (a bearer secret: it never reaches
 * `socket.data`, rooms or logs). `session.userId`, `session.expiresAt`, `user.id`, `user.email`... plus
 * the additional fields your Better Auth config declares.
 */
export interface BetterAuthSession {
  session: {
    id: string;
    userId: string;
    expiresAt: Date;
    createdAt: Date;
    updatedAt: Date;
    ipAddress?: string | null;
    userAgent?: string | null;
    [field: string]: unknown;
  };
  user: {
    id: string;
    email?: string;
    name?: string;
    [field: string]: unknown;
  };
}

/** What Better Auth's `findSession` resolves (better-auth 1.7). */
interface FoundSession {
  session: Record<string, unknown> & { token?: unknown; userId?: unknown; expiresAt?: unknown };
  user: Record<string, unknown> & { id?: unknown };
}

/** The parts of Better Auth's resolved context this store reads (better-auth 1.7 `auth.$context`). */
interface BetterAuthContextLike {
  secret: string;
  authCookies: { sessionToken: { name: string } };
  internalAdapter: { findSession(token: string): Promise<FoundSession | null> };
}

/**
 * Your Better Auth instance, the value `betterAuth({...})` returned: typed structurally, so this entry
 * point needs no better-auth types and accepts any 1.x instance with the same context.
 */
export interface BetterAuthLike {
  options: {
    database?: unknown;
    secondaryStorage?: unknown;
    [option: string]: unknown;
  };
  $context: Promise<unknown>;
}

export interface BetterAuthStoreOptions {
  /** Short name in server-side messages (default `"better-auth"`). */
  name?: string;
}

/**
 * The sessions of a Better Auth app, read through Better Auth's own lookup (its database adapter, or
 * its `secondaryStorage`): `sessionAuth({ store: await betterAuthStore(auth) })`.
 *
 * Pass the `auth` your web app builds with `betterAuth({...})`, or one built in the socket server with
 * the same options (same `database` or `secondaryStorage`, `secret`/`secrets`, `baseURL`,
 * `advanced.cookiePrefix` / `useSecureCookies`). Async because it reads what Better Auth itself
 * resolved (`auth.$context`, environment variables included): the session cookie's name
 * (`<cookiePrefix>.session_token`, `__Secure-` on an https `baseURL`) and the secret that signs it.
 * Better Auth 1.7 signs and verifies that cookie with its current secret only (the first of `secrets`),
 * so only that one verifies here too.
 *
 * At each handshake the core verifies the cookie's HMAC in constant time, then this store makes one
 * `findSession(token)` call: no write (the session's `expiresAt`/`updatedAt` are never refreshed, no
 * cookie is set). The user id is `user.id`; the session ends at `session.expiresAt`.
 *
 * Ending sockets at sign-out: Better Auth's `databaseHooks.session.delete.after` receives the session
 * row; call `auth.endSession(io, session.token)` there (the token is the id this store gives the core).
 * `auth.update()` is refused with a `TypeError`: Better Auth has no atomic compare-and-set of a session.
 *
 * Throws a `TypeError` for something that is not a Better Auth instance, and for one with neither a
 * `database` nor `secondaryStorage` (stateless: its sessions live only in the cookie cache and the web
 * app's memory, which no other process can look up).
 */
export async function betterAuthStore(
  auth: BetterAuthLike,
  options: BetterAuthStoreOptions = {},
): Promise<SessionStore<BetterAuthSession>> {
  const name = options.name ?? "better-auth";
  if (
    typeof auth !== "object" ||
    auth === null ||
    typeof auth.options !== "object" ||
    auth.options === null ||
    typeof (auth.$context as Promise<unknown> | undefined)?.then !== "function"
  ) {
    throw new TypeError(
      "betterAuthStore: pass your Better Auth instance, the value of `betterAuth({ ... })` (it has `options` and `$context`).",
    );
  }
  if (auth.options.database === undefined && auth.options.secondaryStorage === undefined) {
    throw new TypeError(
      "betterAuthStore: this Better Auth has neither `database` nor `secondaryStorage`: its sessions live only in the " +
        "session_data cookie cache and in the web app's memory, which the socket server cannot look up. Give Better Auth " +
        "(in the web app and here) the same `database` or `secondaryStorage`; the cookie cache alone does not do.",
    );
  }
  const context = (await auth.$context) as BetterAuthContextLike;
  const cookieName = context?.authCookies?.sessionToken?.name;
  if (
    typeof cookieName !== "string" ||
    typeof context.secret !== "string" ||
    typeof context.internalAdapter?.findSession !== "function"
  ) {
    throw new TypeError(
      "betterAuthStore: `auth.$context` lacks `authCookies.sessionToken`, `secret` or `internalAdapter.findSession`: " +
        "this store reads better-auth 1.x; check the installed version.",
    );
  }
  const { internalAdapter } = context;

  return {
    name,
    cookie: { names: [cookieName], signing: "better-auth", secrets: [context.secret] },
    identify: (session) => session.user?.id ?? session.session?.userId,
    updateUnsupported:
      "Better Auth offers no atomic compare-and-set of a session, so a write here could undo a concurrent one: change the session through Better Auth in the web app (auth.api.updateSession, or your own endpoint), then call auth.reload(socket).",
    async get(token: string, { signal }: StoreGetOptions): Promise<SessionRecord<BetterAuthSession> | null> {
      const found = await abortable(internalAdapter.findSession(token), signal);
      if (found === null || found === undefined || typeof found !== "object") return null;
      const { session, user } = found;
      if (typeof session !== "object" || session === null || typeof user !== "object" || user === null) return null;
      // The token is the session's bearer secret: it stays here.
      const { token: _token, ...rest } = session;
      return {
        session: { session: rest as BetterAuthSession["session"], user: user as BetterAuthSession["user"] },
        expires: expiryOf(session.expiresAt),
      };
    },
  };
}

// Better Auth hands Dates from its adapters, and ISO strings from some secondary storages; anything
// unreadable becomes an invalid Date, which the core treats as expired (fail closed).
function expiryOf(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === "string" || typeof value === "number") return new Date(value);
  return new Date(Number.NaN);
}
