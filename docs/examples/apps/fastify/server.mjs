import fastifyCookie from "@fastify/cookie";
import fastifySession from "@fastify/session";
import Fastify from "fastify";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

// @fastify/session wants a secret of at least 32 characters.
const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET, 32+ chars";
const store = new fastifySession.MemoryStore(); // in production: connect-redis, connect-mongo... (see Stores)

const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, {
  secret,
  store,
  saveUninitialized: false, // no session (and no cookie) until someone logs in
  cookie: { httpOnly: true, sameSite: "lax", secure: "auto", maxAge: 8 * 60 * 60 * 1000 },
});

// The page's forms post application/x-www-form-urlencoded, which Fastify does not parse by itself.
app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (request, body, done) =>
  done(null, Object.fromEntries(new URLSearchParams(body))),
);

app.post("/login", async (request, reply) => {
  await request.session.regenerate(); // a fresh id at login (session fixation)
  request.session.set("userId", "42"); // however your app logs people in
  return reply.redirect("/", 303);
});
app.post("/logout", async (request, reply) => {
  await request.session.destroy();
  return reply.redirect("/", 303);
});
app.get("/", async (request, reply) =>
  reply.type("text/html").send(`<!doctype html><meta charset="utf-8"><title>Fastify sessions</title>
<form method="post" action="/login"><button>Log in as 42</button></form>
<p id="status">connecting...</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  socket.on("hello", (text) => (document.getElementById("status").textContent = text));
  socket.on("connect_error", (err) => (document.getElementById("status").textContent = "not connected: " + err.message));
</script>`),
);

// socket.io on Fastify's own HTTP server (app.server), with what @fastify/session does differently
// from express-session: the cookie is "sessionId", signed without the "s:" tag.
const io = new Server(app.server);
io.use(sessionAuth({ store: memoryStore(store), secret, name: "sessionId", signing: "fastify" }));
io.on("connection", (socket) => socket.emit("hello", `you are ${socket.data.userId}`));

await app.listen({ port: Number(process.env.PORT ?? 3000) });
console.log(`listening on http://localhost:${app.server.address().port}`);
