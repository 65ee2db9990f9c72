// #region several-nodes-cluster-module
// realtime.ts: one machine, one process per core. Run it: `REDIS_URL=... SESSION_SECRET=... PUSH_TOKEN=... npx tsx realtime.ts`
import cluster from "node:cluster";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { createAdapter, setupPrimary } from "@socket.io/cluster-adapter";
import { setupMaster, setupWorker } from "@socket.io/sticky";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { sessionAuth } from "socket.io-session-auth";
import { createPushRouter } from "socket.io-session-auth/push";
import { redisStore } from "socket.io-session-auth/redis";

const port = Number(process.env.PORT ?? 3000);
const workers = Number(process.env.WORKERS ?? availableParallelism());

if (cluster.isPrimary) {
  // The primary owns the port and hands each connection to a worker. Sticky: every HTTP request of one
  // socket.io connection (its engine.io `sid`) reaches the same worker, which long-polling needs.
  const http = createServer();
  setupMaster(http, { loadBalancingMethod: "least-connection" });
  setupPrimary(); // relays the workers' adapter messages (broadcasts, acks, fetchSockets) between them
  // Buffers cross the IPC channel as Buffers (the first bytes of each connection, binary packets), not JSON.
  cluster.setupPrimary({ serialization: "advanced" });
  // Listen once every worker can take connections: one handed to a worker still starting would be lost.
  let ready = 0;
  cluster.on("message", (_worker, message: { type?: unknown }) => {
    if (message?.type !== "realtime:ready" || ++ready !== workers) return;
    http.listen(port, "127.0.0.1", () =>
      console.log(`listening on http://127.0.0.1:${(http.address() as AddressInfo).port}`),
    );
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  // No automatic replacement of a crashed worker here: sticky would hand it connections before it is
  // ready. Restart the whole tree from your process manager, or fork and wait for its "ready" first.
} else {
  // Each worker: socket.io on the cluster adapter, sessions read from the Redis that connect-redis writes.
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const http = createServer(); // never listens: connections come from the primary
  const io = new Server(http, { adapter: createAdapter() });
  const auth = sessionAuth({
    store: redisStore({ client: redis }),
    secret: process.env.SESSION_SECRET ?? "dev only: set SESSION_SECRET",
  });
  auth.attach(io); // io.use(auth) on every namespace, the recovery re-check and endSession's listener, at start
  const push = createPushRouter(io, { tokens: [process.env.PUSH_TOKEN], auth }); // POST /push on any worker reaches all
  push.attach(http);
  io.on("connection", (socket) => {
    socket.on("whoami", (ack: (answer: unknown) => void) =>
      ack({ userId: socket.data.userId, worker: cluster.worker?.id }),
    );
  });
  setupWorker(io);
  process.send!({ type: "realtime:ready" });
}
// #endregion several-nodes-cluster-module
