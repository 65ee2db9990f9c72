import { createServer } from "node:http";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth, userRoom } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore(); // one process; for several, Redis or MongoDB (see Stores)

// 1. The web app: an ordinary express-session setup.
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
app.use(express.static("public")); // public/index.html: the login form and the live feed

// 2. Login and logout.
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
  const sessionId = req.sessionID; // read it before destroy()
  req.session.destroy((err) => {
    if (err) return next(err);
    // This browser's sockets, every tab, every node: "session:ended" { code }, then disconnected.
    void auth.endSession(io, sessionId);
    res.clearCookie("connect.sid").redirect(303, "/");
  });
});

// 3. The socket.io server, on the same HTTP server: same store object, same secret.
const http = createServer(app);
const io = new Server(http);

const auth = sessionAuth({ store: memoryStore(store), secret });
auth.attach(io); // io.use(auth) on every namespace; the socket then follows its session (logout, expiry)

io.on("connection", (socket) => {
  // Set by sessionAuth before "connection": read server-side, never sent by the client.
  const userId = socket.data.userId; // the session's user ("ada")
  socket.emit("welcome", { userId, tabs: io.of("/").adapter.rooms.get(userRoom(userId))?.size ?? 1 });

  socket.on("say", (text) => {
    if (typeof text !== "string" || text.length > 500) return;
    io.emit("said", { from: userId, text }); // everyone, the sender too
  });
  socket.on("whisper", (to, text) => {
    if (typeof to !== "string" || typeof text !== "string" || text.length > 500) return;
    io.to(userRoom(to)).emit("whispered", { from: userId, text }); // every tab of one user
  });
});

// 4. Listen.
const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${http.address().port}`));
