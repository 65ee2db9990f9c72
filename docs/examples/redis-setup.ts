import type { Redis } from "ioredis";
import type { Server } from "socket.io";

// #region setup
import { sessionAuth } from "socket.io-session-auth";
import { redisStore } from "socket.io-session-auth/redis";

export function useRedisSessions(io: Server, redis: Redis, secret: string) {
  io.use(sessionAuth({ store: redisStore({ client: redis }), secret })); // the Redis connect-redis writes to
}
// #endregion setup
