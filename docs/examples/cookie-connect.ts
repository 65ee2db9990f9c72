// #region connect
import type { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";

/** For the Connect 2 / Express 3 era's express.cookieSession({ key: "connect.sess", secret }). */
export function acceptConnectCookieSessions(io: Server, secret: string | readonly string[]): void {
  io.use(
    sessionAuth({
      store: cookieStore({ format: "connect" }), // the value is "j:" + JSON
      signing: "express", // "s:" + value + "." + HMAC-SHA256, URL-encoded: the cookie-signature scheme
      name: "connect.sess", // cookieSession's `key`
      secret, // cookieSession's (or cookieParser's) secret
    }),
  );
  io.on("connection", (socket) => {
    socket.emit("hello", { userId: socket.data.userId });
  });
}
// #endregion connect
