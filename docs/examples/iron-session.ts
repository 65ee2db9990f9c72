// #region wire
import type { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { ironSessionStore } from "socket.io-session-auth/iron-session";

/** Lets in the sockets of people the web app logged in with getIronSession({ password, cookieName: "app_session" }). */
export function acceptIronSessions(io: Server, password: string | Record<number, string>): void {
  io.use(sessionAuth({ store: ironSessionStore({ password, cookieName: "app_session" }) }));
  io.on("connection", (socket) => {
    // session.userId = "42" in the web app: userId "42", and the socket is in room "user:42".
    socket.emit("hello", { userId: socket.data.userId });
  });
}
// #endregion wire
