// #region several-nodes-sharded
import { createServer } from "node:http";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient, createCluster } from "redis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { createPushRouter } from "socket.io-session-auth/push";
import { redisStore } from "socket.io-session-auth/redis";

/**
 * One real-time node on Redis 7+ sharded pub/sub (SPUBLISH/SSUBSCRIBE), the adapter socket.io recommends
 * for new work. `redis` is one Redis URL, or the seed URLs of a Redis Cluster, where the sessions that
 * connect-redis writes live too.
 */
export async function startShardedNode(options: { redis: string | string[]; secret: string; pushTokens: string[] }) {
  const { redis } = options;
  // node-redis for both: connect-redis 8+ writes through it, and the sharded adapter runs on it.
  const client =
    typeof redis === "string"
      ? createClient({ url: redis })
      : createCluster({ rootNodes: redis.map((url) => ({ url })) });
  const subClient = client.duplicate(); // a subscribed connection runs no GET: the adapter's own
  client.on("error", (error: Error) => console.error("redis:", error.message)); // node-redis throws an unheard 'error'
  subClient.on("error", (error: Error) => console.error("redis (adapter subscriber):", error.message));
  const connecting = Promise.all([client.connect(), subClient.connect()]);
  // A single Redis is not awaited: with Redis down at start the node still listens and refuses
  // handshakes with STORE_UNAVAILABLE (retryable) until it comes; node-redis queues commands meanwhile
  // and reconnects by itself. A Cluster is: node-redis does not retry its first discovery of the slots.
  if (typeof redis === "string") connecting.catch((error: Error) => console.error("redis:", error.message));
  else await connecting;

  const http = createServer();
  const io = new Server(http, { adapter: createShardedAdapter(client, subClient) });
  const auth = sessionAuth({ store: redisStore({ client }), secret: options.secret });
  auth.attach(io); // io.use(auth) on every namespace, the recovery re-check and endSession's listener, at start
  const push = createPushRouter(io, { tokens: options.pushTokens, auth });
  push.attach(http);

  async function close(): Promise<void> {
    await push.close();
    await auth.close(); // the lifecycle's timers and listeners
    await io.close();
    await Promise.all([client.close(), subClient.close()]);
  }
  return { http, io, auth, push, close };
}
// #endregion several-nodes-sharded
