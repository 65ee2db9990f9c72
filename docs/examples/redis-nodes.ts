// #region nodes
// node.ts: one of several socket.io nodes behind a load balancer, all on the same Redis. The Redis
// adapter carries broadcasts between nodes; the same connection serves the session lookups.
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { sessionAuth, userRoom } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";

export async function createNode(redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379") {
  // Connects by itself, not awaited: with Redis down at start the node still listens and refuses
  // handshakes with STORE_UNAVAILABLE (retryable) until Redis comes; ioredis reconnects by itself.
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate(); // a subscribed connection can run no GET: keep it for the adapter
  for (const client of [pub, sub]) client.on("error", (err) => console.warn("redis:", err.message));

  const http = createServer();
  const io = new Server(http, { adapter: createAdapter(pub, sub) });
  io.use(
    sessionAuth({
      store: redisStore({ client: pub }),
      secret: process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET",
    }),
  );

  // Reaches the user's every socket, whichever node each one is connected to.
  const notify = (userId: string, event: string, data: unknown) => io.to(userRoom(userId)).emit(event, data);
  async function close(): Promise<void> {
    await io.close();
    // quit(), not disconnect(): the adapter's close() has just sent UNSUBSCRIBE without waiting for the
    // reply, and disconnect() would reject it ("Connection is closed.", an unhandled rejection).
    await Promise.all([pub.quit(), sub.quit()]);
  }
  return { http, io, notify, close };
}
// #endregion nodes
