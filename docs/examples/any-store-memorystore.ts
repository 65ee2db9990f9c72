import { createServer } from "node:http";
import express from "express";
// #region memorystore
import session from "express-session";
import createMemoryStore from "memorystore";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const MemoryStore = createMemoryStore(session);
const store = new MemoryStore({ checkPeriod: 60 * 60 * 1000 }); // drops expired entries every hour

const app = express();
app.use(session({ store, secret, resave: false, saveUninitialized: false, cookie: { maxAge: 60 * 60 * 1000 } }));

const http = createServer(app);
const io = new Server(http);
io.use(sessionAuth({ store: memoryStore(store), secret })); // the very object given to session({ store })
// #endregion memorystore

app.post("/login", (req, res) => {
  req.session.userId = "memorystore-user";
  res.sendStatus(204);
});
io.on("connection", (socket) => socket.emit("hello", socket.data.userId));

declare module "express-session" {
  interface SessionData {
    userId: string;
  }
}

export { app, http, io, store };
