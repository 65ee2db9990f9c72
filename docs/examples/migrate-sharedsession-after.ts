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
      // socket.data.session is a snapshot from the handshake, and nothing saves it. To change the
      // session, read it again and write it through the web app's store (or call an HTTP endpoint).
      const { sessionId, session } = await auth.authenticate(socket.request);
      store.set(sessionId, { ...session, lastSeen: Date.now() }, (err) => {
        if (err) socket.emit("visit:failed");
      });
    });
  });
  // #endregion after
}

declare module "express-session" {
  interface SessionData {
    lastSeen: number;
  }
}
