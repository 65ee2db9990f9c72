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
  res.redirect(303, "/");
});
app.get("/", (req, res) => {
  res.send(`<!doctype html><meta charset="utf-8"><title>Quick start</title>
<form method="post" action="/login"><button>Log in as 42</button></form>
<p id="status">connecting...</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const status = (text) => (document.getElementById("status").textContent = text);
  const socket = io(); // same origin: the browser sends the session cookie with the handshake
  socket.on("hello", status);
  socket.on("connect_error", (err) => status("not connected: " + err.message)); // NO_SESSION_COOKIE before login
</script>`);
});

const http = createServer(app);
const io = new Server(http);

io.use(sessionAuth({ store: memoryStore(store), secret }));

io.on("connection", (socket) => {
  const { userId } = socket.data; // "42": the session's user, read server-side
  socket.emit("hello", `you are ${userId}`);
  io.to(`user:${userId}`).emit("tabs", "a tab of yours connected"); // every tab of that user
});

const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${http.address().port}`));
