// The realtime side: its own MongoClient, reading the sessions connect-mongo wrote.
// #region mongo-realtime
import { createServer } from "node:http";
import { MongoClient } from "mongodb";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { mongoStore } from "socket.io-session-auth/mongo";

const client = new MongoClient(process.env.MONGO_URL ?? "mongodb://127.0.0.1:27017/app", {
  serverSelectionTimeoutMS: 5000, // how long the driver itself waits for a server to come back
});
const timeout = 2000; // ms a handshake may wait for the session; past it: STORE_UNAVAILABLE

const http = createServer();
const io = new Server(http);

io.use(
  sessionAuth({
    // client.db() is the URL's database; the collection is connect-mongo's default, "sessions".
    store: mongoStore({ db: client.db(), maxTimeMS: timeout }),
    secret: process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET",
    timeout,
    onError: (error) => {
      // STORE_UNAVAILABLE names the driver's error (MongoNetworkError...); the client only sees the code.
      if (error.code === "STORE_UNAVAILABLE") console.warn(error.message);
    },
  }),
);

io.on("connection", (socket) => {
  socket.emit("hello", `you are ${socket.data.userId}`);
});
// #endregion mongo-realtime

export { client, http, io };
