// #region realtime
// realtime.ts: the socket.io server, another process. It shares nothing with the web app but Redis
// and the session secret, and never loads express-session.
import { createServer } from "node:http";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";

export async function createRealtimeServer(redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379") {
  // Not awaited: with Redis down at start, the server still listens; a handshake waits up to `timeout`
  // for the client's first ready, then is refused STORE_UNAVAILABLE until Redis comes (issue 18).
  const redis = new Redis(redisUrl); // connects by itself; or node-redis: createClient({ url }).connect()

  const http = createServer();
  const io = new Server(http);
  io.use(
    sessionAuth({
      store: redisStore({ client: redis }), // prefix "sess:" and JSON, as connect-redis writes them
      secret: process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET", // the web app's secret
      timeout: 1000, // Redis has 1 s to answer, or the handshake is refused with STORE_UNAVAILABLE
      onError: (err) => {
        if (err.code === "STORE_UNAVAILABLE") console.warn("session lookup failed:", err.message);
      },
    }),
  );
  io.on("connection", (socket) => {
    socket.emit("hello", `you are ${socket.data.userId}`);
  });
  return { http, io, redis };
}
// #endregion realtime
