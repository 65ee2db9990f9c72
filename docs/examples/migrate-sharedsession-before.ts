import type { Express } from "express";
import type { Store } from "express-session";
import type { Server, Socket } from "socket.io";

export function before(app: Express, io: Server, store: Store, secret: string) {
  // #region before
  const sessionMiddleware = session({ store, secret, resave: false, saveUninitialized: true });
  app.use(sessionMiddleware);
  io.use(sharedsession(sessionMiddleware, { autoSave: true }));

  io.on("connection", (socket) => {
    const { session } = socket.handshake as SharedHandshake;
    if (session.userId === undefined) return socket.disconnect(); // anonymous sockets got in
    socket.on("visit", () => {
      session.lastSeen = Date.now(); // saved by autoSave after the handler
    });
  });
  // #endregion before
}

import session from "express-session";
import sharedsession from "express-socket.io-session";

/** What express-socket.io-session adds to socket.handshake. */
type SharedHandshake = Socket["handshake"] & { session: session.Session & Partial<session.SessionData> };
