import { createServer } from "node:http";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth, type SessionSocketData } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

/** What this app keeps in its sessions. */
interface AppSession {
  account?: { id: number; plan: "free" | "pro" };
}
// express-session's req.session gets the same fields.
declare module "express-session" {
  interface SessionData {
    account?: AppSession["account"];
  }
}

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore();

const app = express();
app.use(session({ store, secret, resave: false, saveUninitialized: false }));
app.post("/login", (req, res) => {
  req.session.account = { id: 42, plan: req.query.plan === "pro" ? "pro" : "free" }; // however your app logs people in
  res.sendStatus(204);
});

const auth = sessionAuth<AppSession>({
  store: memoryStore<AppSession>(store), // the store's type says what get() hands back
  secret,
  identify: (session) => session.account?.id, // typed: no cast
  authorize: ({ session }) => session.account?.plan === "pro", // only "pro" accounts get a socket
});

// socket.io's four type parameters: client-to-server events, server-to-client events, inter-server
// events, and socket.data, which SessionSocketData<S> types as sessionAuth fills it.
interface ClientToServer {
  whoami(reply: (userId: string | null) => void): void;
}
interface ServerToClient {
  plan(plan: "free" | "pro"): void;
}
const http = createServer(app);
const io = new Server<ClientToServer, ServerToClient, Record<string, never>, SessionSocketData<AppSession>>(http);
io.use(auth);
io.on("connection", (socket) => {
  const { account } = socket.data.session; // AppSession
  if (account !== undefined) socket.emit("plan", account.plan);
  socket.on("whoami", (reply) => reply(socket.data.userId)); // string | null
});

const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${(http.address() as { port: number }).port}`));
