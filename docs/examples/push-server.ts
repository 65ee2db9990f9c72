// #region push-server
import { createServer } from "node:http";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { createPushRouter } from "socket.io-session-auth/push";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore(); // the store your web app's sessions live in

const app = express();
app.use(session({ store, secret, resave: false, saveUninitialized: false }));
app.post("/login/:id", (req, res) => {
  req.session.userId = req.params.id; // however your app logs people in
  res.sendStatus(204);
});

const http = createServer(app);
const io = new Server(http);
const auth = sessionAuth({ store: memoryStore(store), secret });
io.use(auth); // each socket joins `user:<id>` and `session:<hash>`

// The same room names as `auth`: pass it, and the router takes its `.rooms`. No default token: without
// PUSH_TOKEN (at least 16 characters: `openssl rand -hex 32`) createPushRouter throws a TypeError.
const push = createPushRouter(io, { tokens: [process.env.PUSH_TOKEN!], auth });
push.attach(http); // POST /push, /push/batch, ... on the socket.io server's own port

// In this process, no HTTP needed:
export async function notifyOrderShipped(userId: string, orderId: number) {
  return push.send({ to: { user: userId }, event: "order:shipped", data: { orderId } });
}
// #endregion push-server

declare module "express-session" {
  interface SessionData {
    userId: string;
  }
}

export { app, http, io, push };
