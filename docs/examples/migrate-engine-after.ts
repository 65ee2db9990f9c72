import type { Express } from "express";
import type { Store } from "express-session";
import type { Server } from "socket.io";

export function after(app: Express, io: Server, store: Store, secret: string) {
  // #region after
  app.use(session({ store, secret, resave: false, saveUninitialized: false })); // unchanged

  io.use(sessionAuth({ store: memoryStore(store), secret })); // reads, never writes, the session

  io.on("connection", (socket) => {
    // Already in rooms `user:<userId>` and `session:<hash of the id>`: no join needed.
    socket.emit("hello", `you are ${socket.data.userId}`);
  });

  app.post("/logout", (req, res) => {
    const room = sessionRoom(req.sessionID); // the hash, not the id
    req.session.destroy(() => {
      io.in(room).disconnectSockets(true);
      res.sendStatus(204);
    });
  });
  // #endregion after
}

import session from "express-session";
import { sessionAuth, sessionRoom } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
