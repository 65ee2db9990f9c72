import { createServer } from "node:http";
import session from "express-session";
// #region typed
import { Server } from "socket.io";
import { sessionAuth, type SessionSocketData } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

/** What this app keeps in its sessions. */
interface AppSession {
  account?: { id: number; plan: "free" | "pro" };
}

const store = new session.MemoryStore();
const auth = sessionAuth<AppSession>({
  store: memoryStore<AppSession>(store), // the store's type says what get() hands back
  secret: process.env.SESSION_SECRET ?? "dev only",
  identify: (session) => session.account?.id, // typed: no cast
  authorize: ({ session }) => session.account?.plan === "pro",
});

interface ClientToServer {
  whoami(reply: (userId: string | null) => void): void;
}
interface ServerToClient {
  upgraded(plan: "pro"): void;
}
const io = new Server<ClientToServer, ServerToClient, Record<string, never>, SessionSocketData<AppSession>>(createServer());
io.use(auth);
io.on("connection", (socket) => {
  const { account } = socket.data.session; // AppSession
  socket.on("whoami", (reply) => reply(socket.data.userId));
  if (account?.plan === "pro") socket.emit("upgraded", "pro");
});
// #endregion typed

export { auth, io, store };
