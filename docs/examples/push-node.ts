// #region push-node
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { sessionAuth, type SessionStore } from "socket.io-session-auth";
import { createPushRouter } from "socket.io-session-auth/push";

/** One real-time node. Run as many as you like behind the load balancer, all on the same Redis. */
export function startNode(options: { redisUrl: string; store: SessionStore; secret: string; pushTokens: string[] }) {
  const pubClient = new Redis(options.redisUrl);
  const subClient = pubClient.duplicate();
  const http = createServer();
  // The adapter carries broadcasts, acks, fetchSockets and socketsJoin to every node.
  const io = new Server(http, { adapter: createAdapter(pubClient, subClient) });
  const auth = sessionAuth({ store: options.store, secret: options.secret });
  auth.attach(io); // io.use(auth) on every namespace, the recovery re-check and endSession's listener, at start
  // Idempotency keys in the same Redis: a retry that the load balancer sends to another node is answered
  // with the first answer, not delivered twice. Any connected client that is not subscribed will do.
  const push = createPushRouter(io, { tokens: options.pushTokens, auth, idempotency: { redis: pubClient } });
  push.attach(http);

  async function close(): Promise<void> {
    await push.close(); // /health answers 503 from here on: the load balancer drains this node
    await auth.close(); // the lifecycle's timers and listeners
    await io.close();
    await Promise.all([pubClient.quit(), subClient.quit()]);
  }
  return { http, io, auth, push, close };
}
// #endregion push-node
