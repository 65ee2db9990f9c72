// socket.io's examples/express-session-example, ported to socket.io-session-auth. Each change is marked
// "ported:"; everything else is the example as socket.io ships it.
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth, sessionRoom } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

const port = process.env.PORT || 3000;

const app = express();
const httpServer = createServer(app);

// ported: a named store object, so the socket.io side can read the very sessions Express writes.
const store = new session.MemoryStore();
const secret = process.env.SESSION_SECRET ?? "changeit";

const sessionMiddleware = session({
  store,
  secret,
  resave: true,
  saveUninitialized: true,
});

app.use(sessionMiddleware);

app.get("/", (req, res) => {
  res.sendFile(fileURLToPath(new URL("./index.html", import.meta.url)));
});

app.post("/incr", (req, res) => {
  const session = req.session;
  session.count = (session.count || 0) + 1;
  res.status(200).end("" + session.count);

  // ported: the session's room is a hash of its id (never the id itself, a bearer secret).
  io.to(sessionRoom(req.sessionID)).emit("current count", session.count);
});

app.post("/logout", (req, res) => {
  // ported: the id is read before the session goes away.
  const sessionId = req.sessionID;
  req.session.destroy(() => {
    // ported: disconnect all Socket.IO connections linked to this session ID, on every node
    // ("session:ended" { code } first): auth.endSession instead of io.in(room).disconnectSockets().
    void auth.endSession(io, sessionId);
    res.status(204).end();
  });
});

const io = new Server(httpServer);

// ported: instead of io.engine.use(sessionMiddleware). This example's sessions belong to visitors,
// not to logged-in users (saveUninitialized: true), hence allowAnonymous.
const auth = sessionAuth({ store: memoryStore(store), secret, allowAnonymous: true });
io.use(auth);

io.on("connection", (socket) => {
  // ported: no socket.join(req.session.id): the socket is already in sessionRoom(its session id).

  socket.on("incr", async (cb) => {
    // ported: req.session.reload() + save() become auth.update(): a fresh read, the change, and a
    // write-back only if the store still holds what was read (retried); the next HTTP request sees it.
    try {
      const session = await auth.update(socket, (session) => {
        session.count = (session.count || 0) + 1;
      });
      cb(session.count);
    } catch {
      // the session is gone (logout, expiry; the socket was ended), or kept changing: the example's reload error
      socket.disconnect();
    }
  });
});

httpServer.listen(port, () => {
  console.log(`application is running at: http://localhost:${httpServer.address().port}`);
});
