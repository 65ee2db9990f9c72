// #region several-nodes-streams
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { createPushRouter } from "socket.io-session-auth/push";
import { redisStore } from "socket.io-session-auth/redis";

/**
 * One real-time node on Redis streams: the adapter that lets a socket dropped by one node be recovered
 * on another (`connectionStateRecovery`: same id, rooms, `socket.data`, and the packets it missed).
 */
export async function startStreamsNode(options: { redisUrl: string; secret: string; pushTokens: string[] }) {
  const client = createClient({ url: options.redisUrl });
  client.on("error", (error: Error) => console.error("redis:", error.message)); // node-redis throws an unheard 'error'
  // Not awaited: with Redis down at start the node still listens and refuses handshakes with
  // STORE_UNAVAILABLE (retryable) until Redis comes; node-redis queues commands and reconnects by itself.
  // The adapter opens its own blocking reader from this client.
  client.connect().catch((error: Error) => console.error("redis:", error.message));

  const auth = sessionAuth({ store: redisStore({ client }), secret: options.secret });
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(client),
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000 },
    // socket.io skips middlewares for a recovered socket, and the node that recovers it may never have run
    // ours. allowRequest checks every new connection's cookie at the engine, recovered or not: a session
    // destroyed while the socket was away cannot come back on any node.
    allowRequest: auth.allowRequest,
  });
  auth.attach(io); // io.use(auth) on every namespace, the recovery re-check and endSession's listener, at start
  const push = createPushRouter(io, { tokens: options.pushTokens, auth });
  push.attach(http);

  async function close(): Promise<void> {
    await push.close();
    await auth.close(); // the lifecycle's timers and listeners
    await io.close();
    await client.close();
  }
  return { http, io, auth, push, close };
}
// #endregion several-nodes-streams
