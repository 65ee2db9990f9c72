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
  const pub = new Redis(redisUrl, { lazyConnect: true });
  const sub = pub.duplicate(); // a subscribed connection can run no GET: keep it for the adapter
  await Promise.all([pub.connect(), sub.connect()]);

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
  return { http, io, notify, close: async () => (await io.close(), pub.disconnect(), sub.disconnect()) };
}
// #endregion nodes
