import type { Express } from "express";
import type { Store } from "express-session";
import type { Server } from "socket.io";

export function before(app: Express, io: Server, store: Store, secret: string) {
  // #region before
  const sessionMiddleware = session({ store, secret, resave: false, saveUninitialized: false });
  app.use(sessionMiddleware);
  io.engine.use(sessionMiddleware); // express-session runs on the engine's HTTP requests

  io.use((socket, next) => {
    const userId = (socket.request as WithSession).session.userId;
    if (userId === undefined) return next(new Error("not logged in"));
    next();
  });

  io.on("connection", (socket) => {
    const { id, userId } = (socket.request as WithSession).session;
    void socket.join(id); // the session id as a room name
    socket.emit("hello", `you are ${userId}`);
  });
  // #endregion before
}

// #region types
import type { IncomingMessage } from "node:http";
import session from "express-session";

/** What io.engine.use(sessionMiddleware) adds to the handshake request. */
type WithSession = IncomingMessage & { session: session.Session & Partial<session.SessionData> };
// #endregion types
