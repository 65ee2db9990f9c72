// #region koa-session
import type { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { cookieStore } from "socket.io-session-auth/cookie";

/** For app.keys = keys; app.use(session({ key: "koa.sess", maxAge }, app)) in the Koa app. */
export function acceptKoaSessions(io: Server, keys: readonly string[]): void {
  io.use(
    sessionAuth({
      store: cookieStore(), // koa-session's cookie mode writes the same base64 JSON as cookie-session
      signing: "keygrip",
      name: "koa.sess", // koa-session's `key`
      secret: keys, // app.keys; if app.keys is new Keygrip(keys, "sha256"), add algorithm: "sha256"
    }),
  );
  io.on("connection", (socket) => {
    // koa-session's _expire is checked (a past one is refused with SESSION_EXPIRED) and then hidden:
    // socket.data.session is what ctx.session held, without _expire, _maxAge or _session.
    socket.emit("hello", { userId: socket.data.userId });
  });
}
// #endregion koa-session
