import { createServer } from "node:http";
import express from "express";
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
app.post("/login", (req, res) => {
  req.session.userId = "42"; // however your app logs people in
  res.redirect(303, "/");
});
app.get("/", (req, res) => {
  res.send(`<!doctype html><meta charset="utf-8"><title>memorystore</title>
<form method="post" action="/login"><button>Log in as 42</button></form>
<p id="status">connecting...</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  socket.on("hello", (text) => (document.getElementById("status").textContent = text));
  socket.on("connect_error", (err) => (document.getElementById("status").textContent = "not connected: " + err.message));
</script>`);
});

const http = createServer(app);
const io = new Server(http);
io.use(sessionAuth({ store: memoryStore(store), secret })); // the very object given to session({ store })
io.on("connection", (socket) => socket.emit("hello", `you are ${socket.data.userId}`));

const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${http.address().port}`));
