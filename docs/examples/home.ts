import session from "express-session";
import { Server } from "socket.io";

const io = new Server();
const secret = process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET";
const store = new session.MemoryStore(); // the object given to session({ store, secret })

// #region wire
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

const auth = sessionAuth({ store: memoryStore(store), secret }); // the store and secret express-session uses
auth.attach(io);

io.on("connection", (socket) => {
  socket.emit("hello", `you are ${socket.data.userId}`); // read from the session, server side
});
// #endregion wire

export { io };
