// #region jwt
import type { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { authjsStore, type AuthjsAdapterLike } from "socket.io-session-auth/authjs";

/** Lets in the sockets of people signed in with Auth.js v5 JWT sessions (the default strategy). */
export function acceptAuthjsSessions(io: Server, secret: string | string[]): void {
  // `secret`: the web app's AUTH_SECRET (newest first while rotating); `version: 4` for next-auth 4.
  io.use(sessionAuth({ store: authjsStore({ secret }) }));
  io.on("connection", (socket) => {
    // socket.data.userId: the token's `sub`; socket.data.session: its claims (name, email, picture, exp...)
    socket.emit("hello", { userId: socket.data.userId });
  });
}
// #endregion jwt

// #region database
/** Database sessions: the same Auth.js adapter as the web app (PrismaAdapter(prisma), PostgresAdapter(pool)...). */
export function acceptAuthjsDatabaseSessions(io: Server, adapter: AuthjsAdapterLike): void {
  io.use(sessionAuth({ store: authjsStore({ adapter }), revalidate: 60_000 })); // a sign-out reaches sockets within a minute
  io.on("connection", (socket) => {
    // socket.data.session: { user, userId, expires }, never the session token
    socket.emit("hello", { userId: socket.data.userId });
  });
}
// #endregion database

// #region signout
import type { AuthConfig } from "@auth/core";
import type { SessionAuth } from "socket.io-session-auth";

/**
 * In the web app's Auth.js config (`events`), database sessions: a sign-out ends that session's sockets at
 * once, on every node. `auth`: the socket.io server's `sessionAuth(...)`; `io`: a socket.io Server on the
 * same socket.io adapter (in the web app, one that never listens).
 */
export function endSocketsAtSignOut(auth: SessionAuth, io: Server): NonNullable<AuthConfig["events"]> {
  return {
    // The one line. Auth.js passes what the adapter's deleteSession returned: the deleted row, whose
    // sessionToken (the cookie's value) is the id authjsStore gives the core.
    signOut: async (message) => {
      if ("session" in message && message.session) await auth.endSession(io, message.session.sessionToken);
    },
  };
}
// #endregion signout
