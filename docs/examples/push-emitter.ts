// #region push-emitter
import { Emitter } from "@socket.io/redis-emitter";
import { Redis } from "ioredis";
import { sessionRoom, userRoom } from "socket.io-session-auth";

/**
 * A worker with no socket.io server of its own: it publishes to the Redis channels the adapter listens
 * on. Fire-and-forget: no answer, no ack count, no idempotency (use the HTTP router for those).
 */
export function createWorkerPush(redisUrl: string) {
  const redis = new Redis(redisUrl);
  const emitter = new Emitter(redis); // same default key ("socket.io") as createAdapter()

  return {
    // The room names must be the ones sessionAuth joins: the same helpers, the same prefixes.
    toUser: (userId: string | number, event: string, data: unknown) => emitter.to(userRoom(userId)).emit(event, data),
    toSession: (sessionId: string, event: string, data: unknown) =>
      emitter.to(sessionRoom(sessionId)).emit(event, data),
    // With custom prefixes, pass them: userRoom(id, "member:"), as configured in sessionAuth({ rooms }).
    logoutEverywhere: (userId: string | number) => emitter.in(userRoom(userId)).disconnectSockets(true),
    close: () => redis.quit(),
  };
}
// #endregion push-emitter
