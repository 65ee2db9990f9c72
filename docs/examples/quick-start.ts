// #region quick-start
import { createServer } from "node:http";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore(); // or connect-redis, connect-mongo... (see the store pages)

const app = express();
app.use(session({ store, secret, resave: false, saveUninitialized: false }));
app.post("/login", (req, res) => {
  req.session.userId = "42"; // however your app logs people in
  res.sendStatus(204);
});

const http = createServer(app);
const io = new Server(http);

const auth = sessionAuth({ store: memoryStore(store), secret });
auth.attach(io); // io.use(auth) on every namespace, and the checks and listeners that run at start

io.on("connection", (socket) => {
  const { userId } = socket.data; // "42": the session's user, read server-side
  socket.emit("hello", `you are ${userId}`);
  io.to(`user:${userId}`).emit("tabs", "another tab of yours connected");
});
// #endregion quick-start

declare module "express-session" {
  interface SessionData {
    userId: string;
  }
}

export { app, http, io };
