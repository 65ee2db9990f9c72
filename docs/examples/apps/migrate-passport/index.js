// socket.io's examples/passport-example, ported to socket.io-session-auth (CommonJS, as the example is).
// Each change is marked "ported:"; everything else is the example as socket.io ships it.
const express = require("express");
const { createServer } = require("node:http");
const { Server } = require("socket.io");
const session = require("express-session");
const bodyParser = require("body-parser");
const passport = require("passport");
const LocalStrategy = require("passport-local").Strategy;
const { join } = require("node:path");
const { sessionAuth, sessionRoom } = require("socket.io-session-auth");
const { memoryStore } = require("socket.io-session-auth/memory");

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
app.use(bodyParser.urlencoded({ extended: false }));
app.use(passport.session());

app.get("/", (req, res) => {
  if (!req.user) {
    return res.redirect("/login");
  }
  res.sendFile(join(__dirname, "index.html"));
});

app.get("/login", (req, res) => {
  if (req.user) {
    return res.redirect("/");
  }
  res.sendFile(join(__dirname, "login.html"));
});

app.post(
  "/login",
  passport.authenticate("local", {
    successRedirect: "/",
    failureRedirect: "/",
  }),
);

app.post("/logout", (req, res) => {
  const sessionId = req.session.id;
  req.session.destroy(() => {
    // disconnect all Socket.IO connections linked to this session ID
    // ported: sessionRoom(id), NOT `session:${sessionId}`: the room is named by a hash of the id.
    io.to(sessionRoom(sessionId)).disconnectSockets();
    res.status(204).end();
  });
});

passport.use(
  new LocalStrategy((username, password, done) => {
    if (username === "john" && password === "changeit") {
      console.log("authentication OK");
      return done(null, DUMMY_USER);
    } else {
      console.log("wrong credentials");
      return done(null, false);
    }
  }),
);

const DUMMY_USER = {
  id: 1,
  username: "john",
};

passport.serializeUser((user, cb) => {
  console.log(`serializeUser ${user.id}`);
  cb(null, user.id);
});

passport.deserializeUser((id, cb) => {
  console.log(`deserializeUser ${id}`);
  cb(null, DUMMY_USER);
});

const io = new Server(httpServer);

// ported: instead of io.engine.use(onlyForHandshake(...)) for the session, passport.session() and the
// 401 check: sessionAuth reads session.passport.user (what serializeUser stored) and refuses a session
// without one (UNAUTHENTICATED).
io.use(sessionAuth({ store: memoryStore(store), secret }));

io.on("connection", (socket) => {
  // ported: no socket.join(): the socket is already in `user:1` and sessionRoom(its session id).
  // ported: socket.data.userId ("1") instead of req.user: load the user as deserializeUser does.
  const user = socket.data.userId === String(DUMMY_USER.id) ? DUMMY_USER : undefined;

  socket.on("whoami", (cb) => {
    cb(user ? user.username : "");
  });
});

httpServer.listen(port, () => {
  console.log(`application is running at: http://localhost:${httpServer.address().port}`);
});
