// #region cookie-session
import type { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";

/** Lets in the sockets of people the web app logged in with cookieSession({ name: "session", keys }). */
export function acceptCookieSessions(io: Server, keys: readonly string[]): void {
  io.use(
    sessionAuth({
      store: cookieStore(), // the session is the cookie: nothing to look up
      signing: "keygrip", // verify the "session.sig" cookie, as cookie-session does
      name: "session", // cookie-session's `name`
      secret: keys, // cookie-session's `keys`: the first signs, every one verifies
    }),
  );
  io.on("connection", (socket) => {
    // req.session.user = { id: 42 } in the web app: userId "42", and the socket is in room "user:42".
    socket.emit("hello", { userId: socket.data.userId });
  });
}
// #endregion cookie-session
