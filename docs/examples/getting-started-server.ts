// #region server
import { createServer } from "node:http";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth, sessionRoom, userRoom } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore(); // in production: connect-redis, connect-mongo... (see Stores)

const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(
  session({
    store,
    secret,
    resave: false,
    saveUninitialized: false, // no session (and no cookie) until someone logs in
    cookie: { httpOnly: true, sameSite: "lax", maxAge: 8 * 60 * 60 * 1000 },
  }),
);
// #endregion server

// #region login
app.post("/login", (req, res, next) => {
  const name = typeof req.body?.name === "string" ? req.body.name : "";
  if (!/^[\w-]{1,32}$/.test(name)) {
    res.status(400).send("a user name: letters, digits, _ or -");
    return;
  }
  // A fresh session id at login, so an id planted before login is worth nothing (session fixation).
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.userId = name; // check a password here; what matters is what the session holds
    res.redirect(303, "/");
  });
});

app.post("/logout", (req, res, next) => {
  const room = sessionRoom(req.sessionID); // this browser's sockets, on every node
  req.session.destroy((err) => {
    if (err) return next(err);
    io.in(room).disconnectSockets(true); // the next handshake is refused: SESSION_NOT_FOUND
    res.clearCookie("connect.sid").redirect(303, "/");
  });
});
// #endregion login

// #region socket
const http = createServer(app);
const io = new Server(http); // same origin as the pages: no CORS setup needed

io.use(sessionAuth({ store: memoryStore(store), secret }));

io.on("connection", (socket) => {
  // Set by sessionAuth before "connection": read server-side, never sent by the client.
  const userId: string = socket.data.userId; // the session's user ("ada")
  socket.emit("welcome", { userId, tabs: io.of("/").adapter.rooms.get(userRoom(userId))?.size ?? 1 });

  socket.on("say", (text: unknown) => {
    if (typeof text !== "string" || text.length > 500) return;
    io.emit("said", { from: userId, text }); // everyone
  });
  socket.on("whisper", (to: unknown, text: unknown) => {
    if (typeof to !== "string" || typeof text !== "string") return;
    io.to(userRoom(to)).emit("whispered", { from: userId, text }); // every tab of one user
  });
});
// #endregion socket

declare module "express-session" {
  interface SessionData {
    userId: string;
  }
}

export { app, http, io, store };
