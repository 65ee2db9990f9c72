import { createServer } from "node:http";
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { createClient } from "redis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const redis = createClient({ url: process.env.REDIS_URL ?? "redis://localhost:6379" }); // connect-redis 9+ wants node-redis
redis.on("error", (err) => console.warn("redis:", err.message));
// Not awaited: with Redis down at start, the app still listens and refuses STORE_UNAVAILABLE until it comes.
redis.connect().catch((err) => console.warn("redis:", err.message));

// The web app: express-session keeps sessions in Redis through connect-redis ("sess:<id>", with a TTL).
const app = express();
app.use(
  session({
    store: new RedisStore({ client: redis }),
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 24 * 3600_000 },
  }),
);
app.post("/login", (req, res) => {
  req.session.userId = "42"; // however your app logs people in
  res.redirect(303, "/");
});
app.get("/", (req, res) => {
  res.send(`<!doctype html><meta charset="utf-8"><title>Redis sessions</title>
<form method="post" action="/login"><button>Log in as 42</button></form>
<p id="status">connecting...</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  socket.on("hello", (text) => (document.getElementById("status").textContent = text));
  socket.on("connect_error", (err) => (document.getElementById("status").textContent = "not connected: " + err.message));
</script>`);
});

// The socket.io side reads the same keys. Here it shares the process and the client; in a process of
// its own it needs only a Redis client (ioredis or node-redis), the secret and the same prefix.
const http = createServer(app);
const io = new Server(http);
io.use(sessionAuth({ store: redisStore({ client: redis }), secret }));
io.on("connection", (socket) => socket.emit("hello", `you are ${socket.data.userId}`));

const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${http.address().port}`));
