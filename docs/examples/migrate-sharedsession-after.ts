import session from "express-session";
import type { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

export function after(io: Server, store: session.Store, secret: string) {
  // #region after
  const auth = sessionAuth<session.SessionData>({ store: memoryStore(store), secret });
  io.use(auth); // anonymous sessions are refused (UNAUTHENTICATED) unless allowAnonymous: true

  io.on("connection", (socket) => {
    socket.on("visit", async () => {
      // socket.data.session is a snapshot from the handshake, and nothing saves it. update() re-reads
      // the session, changes that fresh copy, and writes it back only if nobody wrote in between
      // (retried), keeping the store's expiry: the web app's next request sees lastSeen.
      try {
        await auth.update(socket, (session) => {
          session.lastSeen = Date.now();
        });
      } catch {
        socket.emit("visit:failed"); // SESSION_CONFLICT, STORE_UNAVAILABLE, or the session ended
      }
    });
  });
  // #endregion after
}

declare module "express-session" {
  interface SessionData {
    lastSeen: number;
  }
}
