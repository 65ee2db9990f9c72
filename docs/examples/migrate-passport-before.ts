import type { IncomingMessage } from "node:http";
import type { Store } from "express-session";
import type { Server } from "socket.io";

export function before(io: Server, sessionStore: Store, secret: string) {
  // #region before
  io.use(
    passportSocketIo.authorize({
      cookieParser, // to unsign the cookie
      key: "connect.sid",
      secret,
      store: sessionStore,
      success: (_data, accept) => accept(),
      fail: (_data, message, error, accept) => {
        if (error) console.error(message); // a store error: the message goes to the client too
        accept(new Error(message));
      },
    }),
  );

  io.on("connection", (socket) => {
    const { user } = socket.request as PassportRequest; // deserialized by passport.deserializeUser, plus logged_in
    socket.emit("hello", `you are ${String(user.name)}`);
  });
  // #endregion before
}

import cookieParser from "cookie-parser";
import passportSocketIo from "passport.socketio";

/** What passport.socketio puts on the handshake request. */
type PassportRequest = IncomingMessage & { user: { logged_in: boolean; [key: string]: unknown } };
