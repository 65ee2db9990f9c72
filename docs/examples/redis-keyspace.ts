import { createServer } from "node:http";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";

export async function createKeyspaceServer(redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379") {
  // #region keyspace
  // Both clients connected; the second one only listens (a client in subscriber mode runs no GET).
  const client = new Redis(redisUrl);
  const subscriber = client.duplicate();
  const store = redisStore({ client, subscriber });

  const io = new Server(createServer());
  io.use(sessionAuth({ store, secret: process.env.SESSION_SECRET ?? "dev only" }));
  // Logout (connect-redis's destroy) or the key's TTL running out now ends the session's sockets at
  // once, on every node: each node's store listens for itself.
  // #endregion keyspace
  return { client, subscriber, store, io };
}
