import { createServer } from "node:http";
import MongoStore from "connect-mongo";
import express from "express";
import session from "express-session";
import { MongoClient } from "mongodb";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { mongoStore } from "socket.io-session-auth/mongo";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const client = new MongoClient(process.env.MONGODB_URI ?? "mongodb://localhost:27017/app");
await client.connect();

// The web app: connect-mongo keeps { _id: sid, session, expires } in the URL's database, "sessions".
const app = express();
app.use(
  session({
    store: MongoStore.create({ client, collectionName: "sessions" }),
    secret,
    resave: false,
    saveUninitialized: false,
  }),
);
app.post("/login", (req, res) => {
  req.session.userId = "42"; // however your app logs people in
  res.redirect(303, "/");
});
app.get("/", (req, res) => {
  res.send(`<!doctype html><meta charset="utf-8"><title>MongoDB sessions</title>
<form method="post" action="/login"><button>Log in as 42</button></form>
<p id="status">connecting...</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  socket.on("hello", (text) => (document.getElementById("status").textContent = text));
  socket.on("connect_error", (err) => (document.getElementById("status").textContent = "not connected: " + err.message));
</script>`);
});

// The socket.io side reads the same collection. Here it shares the process and the client; in a
// process of its own it needs only a MongoClient on the same database, and the secret.
const http = createServer(app);
const io = new Server(http);
io.use(sessionAuth({ store: mongoStore({ db: client.db(), collectionName: "sessions" }), secret }));
io.on("connection", (socket) => socket.emit("hello", `you are ${socket.data.userId}`));

const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${http.address().port}`));
