import type { Server } from "socket.io";
import type { SessionStore } from "socket.io-session-auth";

/** Your user lookup: what passport.deserializeUser called. */
export type FindUser = (id: string) => Promise<{ id: string; name: string } | null>;

export function after(io: Server, store: SessionStore, secret: string, findUser: FindUser) {
  // #region after
  // The default `identify` reads passport's `session.passport.user`: nothing to configure.
  io.use(sessionAuth({ store, secret, name: "connect.sid" }));

  // What deserializeUser did, as a second middleware: load the user, refuse if they are gone.
  io.use(async (socket, next) => {
    const user = await findUser(socket.data.userId).catch(() => undefined);
    if (user === undefined) return next(new Error("USER_LOOKUP_FAILED"));
    if (user === null) return next(new Error("UNKNOWN_USER"));
    socket.data.user = user;
    next();
  });

  io.on("connection", (socket) => {
    socket.emit("hello", `you are ${socket.data.user.name}`);
  });
  // #endregion after
}

import { sessionAuth } from "socket.io-session-auth";
