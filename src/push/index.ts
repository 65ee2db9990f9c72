// The entry point `socket.io-session-auth/push`: the push router, mounted next to socket.io. Its HTTP
// client is the entry `socket.io-session-auth/push-client`.

export { createPushRouter } from "./router.js";
export type { PushIdempotencyOptions, PushRouter, PushRouterOptions } from "./router.js";
export type { PushRedisClient } from "./idempotency.js";
export type { PushHandler } from "./http.js";
export * from "./protocol.js";
