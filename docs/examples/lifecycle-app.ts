// #region app
import { createServer } from "node:http";
import express from "express";
import session from "express-session";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

declare module "express-session" {
  interface SessionData {
    userId: string;
    cart: string[];
  }
}

type AppSession = Partial<session.SessionData>; // what socket.data.session and update() see

const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore();
const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(
  session({
    store,
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: "lax", maxAge: 30 * 60 * 1000 },
  }),
);

const http = createServer(app);
const io = new Server(http);
const auth = sessionAuth({
  store: memoryStore<AppSession>(store),
  secret,
  revalidate: 60_000, // re-read each connected session every minute (default: 5 minutes)
  onSessionEnd: (error) => console.log(`a socket ended: ${error.code}`),
});
auth.attach(io); // io.use(auth) on every namespace, and the lifecycle's listeners

app.post("/login", (req, res, next) => {
  const name = String(req.body?.name ?? "");
  if (!/^[\w-]{1,32}$/.test(name)) return void res.status(400).send("a user name: letters, digits, _ or -");
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.userId = name;
    req.session.cart = [];
    res.redirect(303, "/");
  });
});

app.post("/logout", (req, res, next) => {
  const sessionId = req.sessionID; // read it before destroy()
  req.session.destroy((err) => {
    if (err) return next(err);
    // Every socket of this session, every tab, every node: "session:ended" { code }, then disconnected.
    void auth.endSession(io, sessionId);
    res.clearCookie("connect.sid").redirect(303, "/");
  });
});

io.on("connection", (socket) => {
  socket.on("cart:add", async (item: unknown, ack: (answer: unknown) => void) => {
    if (typeof item !== "string" || typeof ack !== "function") return;
    try {
      // Read, change, write back only if nobody wrote in between (retried); the next HTTP request sees it.
      const saved = await auth.update(socket, (session) => {
        session.cart = [...(session.cart ?? []), item];
      });
      ack({ ok: true, cart: saved.cart });
    } catch (error) {
      ack({ ok: false, code: (error as { code?: string }).code }); // SESSION_CONFLICT, STORE_UNAVAILABLE...
    }
  });
});

app.get("/", (req, res) => {
  res.type("html").send(
    req.session.userId === undefined
      ? `<form method="post" action="/login"><input name="name" placeholder="your name"><button>Log in</button></form>`
      : `<p>Hello ${req.session.userId}. Cart: <span id="cart">${(req.session.cart ?? []).join(", ")}</span></p>
<button id="add">Add an apple from the socket</button>
<form method="post" action="/logout"><button>Log out</button></form>
<p id="status">connecting…</p>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  socket.on("connect", () => (document.getElementById("status").textContent = "connected"));
  socket.on("session:ended", ({ code }) => {
    document.getElementById("status").textContent = "your session ended (" + code + "): log in again";
    setTimeout(() => location.reload(), 1500);
  });
  document.getElementById("add").onclick = () =>
    socket.emit("cart:add", "apple", (answer) => {
      if (answer.ok) document.getElementById("cart").textContent = answer.cart.join(", ");
    });
</script>`,
  );
});

const port = Number(process.env.PORT ?? 3000);
http.listen(port, () => console.log(`listening on http://localhost:${(http.address() as { port: number }).port}`));
// #endregion app
