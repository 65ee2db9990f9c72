// #region revocation
import type { Server } from "socket.io";
import { sessionAuth, type AuthorizeContext } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";

/** What the web app puts in the cookie at login, besides the user: a random id and the time. */
export interface RevocableSession {
  user?: { id: number | string };
  sid?: string; // randomUUID() at login
  issuedAt?: number; // Date.now() at login
}

/**
 * A cookie session cannot be destroyed server-side: a copy of the cookie stays valid. So refuse, in
 * `authorize`, sessions older than `maxAgeMs` (cookie-session has no server-side expiry of its own)
 * and sessions whose `sid` was revoked at logout. One process here; in a cluster keep the revoked ids
 * in Redis (SET revoked:<sid> 1 PX <maxAgeMs>) and look them up in `authorize`.
 */
export function acceptRevocableCookieSessions(io: Server, keys: readonly string[], maxAgeMs: number) {
  const revoked = new Map<string, number>(); // sid -> when it may be forgotten (its session is too old by then)

  const authorize = ({ session }: AuthorizeContext<RevocableSession>): boolean => {
    const { sid, issuedAt } = session;
    if (typeof sid !== "string" || typeof issuedAt !== "number") return false; // issued before this policy
    if (Date.now() - issuedAt > maxAgeMs) return false;
    return !revoked.has(sid);
  };

  io.use(
    sessionAuth({
      store: cookieStore<RevocableSession>(),
      signing: "keygrip",
      name: "session",
      secret: keys,
      authorize,
    }),
  );
  io.on("connection", (socket) => {
    const { sid } = socket.data.session as RevocableSession;
    void socket.join(`sid:${sid}`); // so that a logout can reach the sockets already open
  });

  return {
    /** Call at logout (the web app's /logout handler, or a message it publishes). */
    revoke(sid: string): void {
      const now = Date.now();
      for (const [id, forgetAt] of revoked) if (forgetAt < now) revoked.delete(id);
      revoked.set(sid, now + maxAgeMs);
      io.in(`sid:${sid}`).disconnectSockets(true);
    },
  };
}
// #endregion revocation
